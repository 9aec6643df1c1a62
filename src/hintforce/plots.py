"""Figures of the study, built on :class:`matplotlib.figure.Figure` (no pyplot, no global state).

Every function takes plain arrays or tidy :class:`pandas.DataFrame` tables and returns a
:class:`~matplotlib.figure.Figure`; the caller saves it (``fig.savefig(path, dpi=...)``), which
works without any backend selection because a bare ``Figure`` renders through Agg for raster
formats. Nothing here reads or writes files.

Colours are consistent across figures: one colour per model (:data:`MODEL_COLORS`), one per
reach direction (:func:`condition_colors`, a cyclic hue wheel so neighbouring directions look
alike), and the two reference rows of the similarity table as dashed lines
(:data:`REFERENCE_STYLES`): the ceiling ``soc_split`` in black and the data baseline
``soc_observed`` in grey. Targets are dashed and fitted or model traces solid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np
import pandas as pd
from matplotlib.colors import hsv_to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from hintforce import similarity as sim
from hintforce import stats

__all__ = [
    "MODEL_COLORS",
    "MODEL_LABELS",
    "REFERENCE_STYLES",
    "cca_means_figure",
    "cca_spectra_figure",
    "cca_vs_fraction_figure",
    "condition_colors",
    "ground_truth_figure",
    "model_color",
    "model_outputs_figure",
    "trajectories_figure",
]

#: Colour of each model (Okabe-Ito, colour-blind safe).
MODEL_COLORS = MappingProxyType({"ff": "#0072B2", "ffh": "#D55E00", "floor": "#009E73"})
#: Display name of each model and reference row.
MODEL_LABELS = MappingProxyType(
    {
        "ff": "FF",
        "ffh": "FFH (hints)",
        "floor": "floor (untrained)",
        "soc_split": "ceiling (SOC halves)",
        "soc_observed": "data baseline (observed SOC)",
    }
)
#: Line style of the reference rows of the similarity table.
REFERENCE_STYLES = MappingProxyType(
    {
        "soc_split": MappingProxyType({"color": "black", "linestyle": "--", "linewidth": 1.6}),
        "soc_observed": MappingProxyType({"color": "0.5", "linestyle": "--", "linewidth": 1.6}),
    }
)
# Order of models within a panel: floor, then the paired FF and FFH side by side.
_MODEL_ORDER = ("floor", "ff", "ffh")
# Fallback colours for models not in MODEL_COLORS (assigned in sorted-name order).
_EXTRA_COLORS = ("#CC79A7", "#56B4E9", "#E69F00", "#F0E442", "#000000")
_POPULATION_TITLES = MappingProxyType(
    {
        "all": "all SOC neurons",
        "observed": "observed SOC neurons",
        "unobserved": "unobserved SOC neurons",
    }
)

_SIMILARITY_COLUMNS = (
    "neuron_fraction",
    "muscle_fraction",
    "seed",
    "model",
    "population",
    "metric",
    "k",
    "value",
)
_SPECTRA_COLUMNS = ("neuron_fraction", "seed", "model", "population", "k", "index", "value")
_SUMMARY_COLUMNS = (
    "model",
    "population",
    "metric",
    "k",
    "neuron_fraction",
    "n",
    "mean",
    "sd",
    "ci_low",
    "ci_high",
)


# ---------------------------------------------------------------------------------------------
# Colours and small helpers


def condition_colors(n_conditions: int) -> np.ndarray:
    """One colour per condition on a cyclic hue wheel (reach directions wrap around).

    Parameters
    ----------
    n_conditions : int
        Number of conditions, at least 1.

    Returns
    -------
    ndarray, shape (n_conditions, 3)
        RGB colours in [0, 1]; condition ``c`` has hue ``c / n_conditions``, slightly
        desaturated and darkened so that yellow stays readable on white.
    """
    if n_conditions < 1:
        raise ValueError(f"n_conditions must be a positive integer, got {n_conditions}")
    hsv = np.empty((n_conditions, 3))
    hsv[:, 0] = np.arange(n_conditions) / n_conditions
    hsv[:, 1] = 0.85
    hsv[:, 2] = 0.8
    return hsv_to_rgb(hsv)


def model_color(name: str, others: Sequence[str] = ()) -> str:
    """Colour of a model: :data:`MODEL_COLORS` if known, else a fallback from its rank in
    the sorted unknown names of ``others`` (so the same table always gets the same colours)."""
    if name in MODEL_COLORS:
        return MODEL_COLORS[name]
    if name in REFERENCE_STYLES:
        return REFERENCE_STYLES[name]["color"]
    unknown = sorted({n for n in (*others, name) if n not in MODEL_COLORS})
    return _EXTRA_COLORS[unknown.index(name) % len(_EXTRA_COLORS)]


def _label(name: str) -> str:
    return MODEL_LABELS.get(name, name)


def _order_models(names) -> list[str]:
    """Non-reference models: floor, ff, ffh first, then any others sorted."""
    names = [n for n in dict.fromkeys(names) if n not in REFERENCE_STYLES]
    known = [n for n in _MODEL_ORDER if n in names]
    return known + sorted(n for n in names if n not in _MODEL_ORDER)


def _condition_handles(n_conditions: int) -> list[Line2D]:
    colors = condition_colors(n_conditions)
    return [
        Line2D([], [], color=colors[c], linewidth=2, label=f"condition {c + 1}")
        for c in range(n_conditions)
    ]


def _style_handles(dashed: str, solid: str) -> list[Line2D]:
    return [
        Line2D([], [], color="0.3", linestyle="--", linewidth=1.4, label=dashed),
        Line2D([], [], color="0.3", linestyle="-", linewidth=1.4, label=solid),
    ]


def _bottom_legend(fig: Figure, handles: Sequence, labels: Sequence[str]) -> None:
    """One row of legend entries below the panels."""
    fig.legend(
        handles=handles,
        labels=labels,
        loc="outside lower center",
        ncols=len(handles),
        fontsize=10,
        frameon=False,
    )


def _check_columns(table: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{name} is missing columns {missing}; it has {list(table.columns)}")
    if table.empty:
        raise ValueError(f"{name} has no rows")


def _as_array(x, name: str, ndim: int) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-d, got shape {arr.shape}")
    return arr


def _first_value(values: pd.Series):
    return sorted(values.unique())[0]


def _seed_offsets(n: int, width: float = 0.28) -> np.ndarray:
    """Deterministic horizontal spread of ``n`` seed dots within a bar of ``width``."""
    if n <= 1:
        return np.zeros(n)
    return np.linspace(-width / 2, width / 2, n)


# ---------------------------------------------------------------------------------------------
# 1. Ground truth


def ground_truth_figure(
    emg: np.ndarray,
    emg_fit: np.ndarray,
    r2: np.ndarray,
    rates: np.ndarray,
    time_ms: np.ndarray,
    abscissa_trace: np.ndarray,
    target_abscissa: float,
    *,
    n_example_neurons: int = 4,
) -> Figure:
    """The ground truth: EMG fit, example neurons, population PCs and stability optimisation.

    Parameters
    ----------
    emg, emg_fit : ndarray, shape (n_conditions, n_times, n_muscles)
        EMG targets and the SOC's linear readout (arbitrary units, targets peak at 1).
    r2 : ndarray, shape (n_muscles,)
        Coefficient of determination of the readout per muscle.
    rates : ndarray, shape (n_conditions, n_times, n_neurons)
        SOC firing rates (Hz) on the same time grid.
    time_ms : ndarray, shape (n_times,)
        Time of each bin (ms).
    abscissa_trace : ndarray, shape (n_iterations + 1,)
        Spectral abscissa of the connectivity before and after each optimisation step.
    target_abscissa : float
        The abscissa the optimisation stops below.
    n_example_neurons : int, optional
        Number of example neurons: the ones with the largest variance over all conditions and
        time bins (ties broken by lower index), at most ``n_neurons``.

    Returns
    -------
    Figure
        Top: one panel per muscle (targets dashed, readout solid, R² in the title). Middle:
        example neurons' rates. Bottom: the top-2 PC trajectories (marker at the start) and
        the spectral abscissa per iteration (log scale if positive) with the target.
    """
    emg = _as_array(emg, "emg", 3)
    emg_fit = _as_array(emg_fit, "emg_fit", 3)
    rates = _as_array(rates, "rates", 3)
    r2 = _as_array(r2, "r2", 1)
    time_ms = _as_array(time_ms, "time_ms", 1)
    abscissa_trace = _as_array(abscissa_trace, "abscissa_trace", 1)
    if emg_fit.shape != emg.shape:
        raise ValueError(f"emg_fit shape {emg_fit.shape} differs from emg shape {emg.shape}")
    n_conditions, n_times, n_muscles = emg.shape
    if r2.shape != (n_muscles,):
        raise ValueError(f"r2 must have shape ({n_muscles},), got {r2.shape}")
    if time_ms.shape != (n_times,):
        raise ValueError(f"time_ms must have shape ({n_times},), got {time_ms.shape}")
    if rates.shape[:2] != (n_conditions, n_times):
        raise ValueError(
            f"rates must have (conditions, times) = {(n_conditions, n_times)}, got {rates.shape}"
        )
    if abscissa_trace.size == 0:
        raise ValueError("abscissa_trace is empty")
    if n_example_neurons < 1:
        raise ValueError(f"n_example_neurons must be at least 1, got {n_example_neurons}")
    colors = condition_colors(n_conditions)

    ncols = min(5, n_muscles)
    nrows = math.ceil(n_muscles / ncols)
    fig = Figure(figsize=(13, 4.8 + 2.3 * nrows), layout="constrained")
    fig.suptitle("Ground-truth M1: gain-modulated SOC", fontsize=14, fontweight="bold")
    top, middle, bottom = fig.subfigures(3, 1, height_ratios=[1.0 * nrows, 1.2, 1.4])

    # EMG small multiples.
    axes = top.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
    for m in range(n_muscles):
        ax = axes[m]
        for c in range(n_conditions):
            ax.plot(time_ms, emg[c, :, m], color=colors[c], linestyle="--", linewidth=1.1)
            ax.plot(time_ms, emg_fit[c, :, m], color=colors[c], linewidth=1.4)
        ax.set_title(f"muscle {m + 1}, R² = {r2[m]:.3f}", fontsize=10)
        if m % ncols == 0:
            ax.set_ylabel("EMG (a.u.)")
        if m >= n_muscles - ncols:
            ax.set_xlabel("time (ms)")
            ax.xaxis.set_tick_params(labelbottom=True)
    for ax in axes[n_muscles:]:
        ax.remove()
    top.suptitle("EMG targets (dashed) and SOC linear readout (solid)", fontsize=12)
    top.legend(
        handles=_condition_handles(n_conditions) + _style_handles("EMG target", "SOC readout"),
        loc="outside right upper",
        fontsize=9,
        frameon=False,
    )

    # Example neurons: largest variance over conditions and time.
    stacked = sim.stack_conditions(rates)
    variance = stacked.var(axis=0)
    n_ex = min(n_example_neurons, rates.shape[2])
    examples = np.argsort(-variance, kind="stable")[:n_ex]
    neuron_axes = middle.subplots(1, n_ex, sharex=True, squeeze=False).ravel()
    for ax, neuron in zip(neuron_axes, examples, strict=True):
        for c in range(n_conditions):
            ax.plot(time_ms, rates[c, :, neuron], color=colors[c], linewidth=1.4)
        ax.set_title(f"neuron {neuron + 1}", fontsize=10)
        ax.set_xlabel("time (ms)")
    neuron_axes[0].set_ylabel("rate (Hz)")
    middle.suptitle("Example SOC neurons (largest variance), one line per condition", fontsize=12)

    # Population PCs and the abscissa trace.
    ax_pc, ax_abs = bottom.subplots(1, 2, gridspec_kw={"width_ratios": [1.0, 1.4]})
    pcs = sim.pca_scores(stacked, min(2, stacked.shape[1]), label="rates")
    total = float(((stacked - stacked.mean(axis=0)) ** 2).sum())
    explained = 100.0 * pcs.singular_values**2 / total
    scores = pcs.scores.reshape(n_conditions, n_times, -1)
    if scores.shape[2] == 1:
        scores = np.concatenate([scores, np.zeros_like(scores)], axis=2)
        explained = np.append(explained, 0.0)
    for c in range(n_conditions):
        ax_pc.plot(scores[c, :, 0], scores[c, :, 1], color=colors[c], linewidth=1.4)
        ax_pc.plot(scores[c, 0, 0], scores[c, 0, 1], "o", color=colors[c], markersize=5)
    ax_pc.set_xlabel(f"PC 1 (Hz, {explained[0]:.0f}% var.)")
    ax_pc.set_ylabel(f"PC 2 (Hz, {explained[1]:.0f}% var.)")
    ax_pc.set_title("Population trajectories (top-2 PCs, ● = start)", fontsize=11)

    iterations = np.arange(abscissa_trace.size)
    ax_abs.plot(iterations, abscissa_trace, color="0.15", linewidth=1.5, label="α(W)")
    ax_abs.axhline(
        target_abscissa,
        color="#D55E00",
        linestyle=":",
        linewidth=1.6,
        label=f"target α = {target_abscissa:g}",
    )
    if np.all(abscissa_trace > 0) and target_abscissa > 0:
        ax_abs.set_yscale("log")
    ax_abs.set_xlabel("optimisation iteration")
    ax_abs.set_ylabel("spectral abscissa α(W)")
    ax_abs.set_title(
        f"Stability optimisation: α {abscissa_trace[0]:.3g} → {abscissa_trace[-1]:.3g} "
        f"in {abscissa_trace.size - 1} iterations",
        fontsize=11,
    )
    ax_abs.legend(fontsize=9, frameon=False)
    return fig


# ---------------------------------------------------------------------------------------------
# 2. Model outputs


def model_outputs_figure(
    targets: np.ndarray,
    outputs: Mapping[str, np.ndarray],
    r2: Mapping[str, float],
    time_ms: np.ndarray,
    muscles: Sequence[int],
) -> Figure:
    """Outputs of trained networks against the EMG targets of the observed muscles.

    Parameters
    ----------
    targets : ndarray, shape (n_conditions, n_times, n_observed_muscles)
        EMG targets of the observed muscles (a.u.).
    outputs : mapping of str to ndarray, shape (n_conditions, n_times, n_observed_muscles)
        Each model's output (rows of the figure, in mapping order).
    r2 : mapping of str to float
        R² of each model's output (every key of ``outputs`` must be present).
    time_ms : ndarray, shape (n_times,)
        Time of each bin (ms).
    muscles : sequence of int, length n_observed_muscles
        Original (0-based) indices of the observed muscles, shown 1-based as labels.

    Returns
    -------
    Figure
        Rows = models, columns = muscles; targets dashed, outputs solid, one colour per
        condition.
    """
    targets = _as_array(targets, "targets", 3)
    time_ms = _as_array(time_ms, "time_ms", 1)
    muscles = [int(m) for m in muscles]
    n_conditions, n_times, n_muscles = targets.shape
    if len(muscles) != n_muscles:
        raise ValueError(f"muscles has {len(muscles)} entries, targets has {n_muscles} muscles")
    if time_ms.shape != (n_times,):
        raise ValueError(f"time_ms must have shape ({n_times},), got {time_ms.shape}")
    if not outputs:
        raise ValueError("outputs must contain at least one model")
    arrays = {}
    for name, out in outputs.items():
        out = _as_array(out, f"outputs[{name!r}]", 3)
        if out.shape != targets.shape:
            raise ValueError(
                f"outputs[{name!r}] has shape {out.shape}, targets have {targets.shape}"
            )
        if name not in r2:
            raise ValueError(f"r2 has no entry for model {name!r}")
        arrays[name] = out
    colors = condition_colors(n_conditions)

    n_rows = len(arrays)
    fig = Figure(figsize=(2.7 * n_muscles + 2.4, 2.2 * n_rows + 1.0), layout="constrained")
    axes = fig.subplots(n_rows, n_muscles, sharex=True, sharey=True, squeeze=False)
    for i, (name, out) in enumerate(arrays.items()):
        for j, muscle in enumerate(muscles):
            ax = axes[i, j]
            for c in range(n_conditions):
                ax.plot(time_ms, targets[c, :, j], color=colors[c], linestyle="--", linewidth=1.1)
                ax.plot(time_ms, out[c, :, j], color=colors[c], linewidth=1.4)
            ax.set_title(f"{_label(name)}: muscle {muscle + 1}", fontsize=10)
            if i == n_rows - 1:
                ax.set_xlabel("time (ms)")
        axes[i, 0].set_ylabel(f"{_label(name)}, R² = {float(r2[name]):.3f}\noutput (a.u.)")
    fig.suptitle(
        "Network outputs (solid) vs EMG targets (dashed) on the observed muscles",
        fontsize=13,
    )
    fig.legend(
        handles=_condition_handles(n_conditions) + _style_handles("EMG target", "network"),
        loc="outside right upper",
        fontsize=9,
        frameon=False,
    )
    return fig


# ---------------------------------------------------------------------------------------------
# 3. CCA spectra


def cca_spectra_figure(spectra: pd.DataFrame) -> Figure:
    """Canonical-correlation spectra per population, mean over seeds with 95% t-intervals.

    Parameters
    ----------
    spectra : DataFrame
        Long table with columns ``neuron_fraction, seed, model, population, k, index, value``
        (``index`` 0..k-1 in descending order of correlation). Only the largest ``k`` and the
        smallest ``neuron_fraction`` are drawn.

    Returns
    -------
    Figure
        One panel per population (all, observed, unobserved, those present). Models as lines
        with a shaded 95% interval; ``soc_split`` and ``soc_observed`` as dashed reference
        lines where present.
    """
    _check_columns(spectra, _SPECTRA_COLUMNS, "spectra")
    k = int(spectra["k"].max())
    fraction = _first_value(spectra["neuron_fraction"])
    sub = spectra[(spectra["k"] == k) & (spectra["neuron_fraction"] == fraction)]
    populations = [p for p in sim.POPULATIONS if p in set(sub["population"])]
    if not populations:
        raise ValueError(
            f"spectra has no population among {sim.POPULATIONS}, got "
            f"{sorted(sub['population'].unique())}"
        )
    summary = stats.summarise(sub, by=["model", "population", "index"])
    models = _order_models(summary["model"])
    all_names = list(summary["model"].unique())
    n_seeds = sub["seed"].nunique()

    fig = Figure(figsize=(4.3 * len(populations) + 2.6, 4.2), layout="constrained")
    axes = fig.subplots(1, len(populations), sharey=True, squeeze=False).ravel()
    handles: dict[str, object] = {}
    for ax, population in zip(axes, populations, strict=True):
        panel = summary[summary["population"] == population]
        for name in models:
            rows = panel[panel["model"] == name].sort_values("index")
            if rows.empty:
                continue
            x = rows["index"].to_numpy() + 1
            color = model_color(name, all_names)
            (line,) = ax.plot(
                x, rows["mean"], color=color, marker="o", markersize=3.5, linewidth=1.8
            )
            ax.fill_between(x, rows["ci_low"], rows["ci_high"], color=color, alpha=0.2, linewidth=0)
            handles.setdefault(name, line)
        for name, style in REFERENCE_STYLES.items():
            rows = panel[panel["model"] == name].sort_values("index")
            if rows.empty:
                continue
            (line,) = ax.plot(rows["index"].to_numpy() + 1, rows["mean"], **style)
            handles.setdefault(name, line)
        ax.set_title(_POPULATION_TITLES.get(population, population), fontsize=11)
        ax.set_xlabel("canonical dimension")
        ax.set_ylim(0.0, 1.03)
        ax.set_xlim(0.5, k + 0.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylabel("canonical correlation")
    fig.suptitle(
        f"CCA spectra vs the SOC (k = {k} PCs, neuron fraction {fraction:g}, "
        f"{n_seeds} seed{'s' if n_seeds != 1 else ''}; band = 95% CI)",
        fontsize=12,
    )
    _bottom_legend(fig, list(handles.values()), [_label(n) for n in handles])
    return fig


# ---------------------------------------------------------------------------------------------
# 4. Mean CCA per model, with seeds


def cca_means_figure(similarity: pd.DataFrame) -> Figure:
    """Mean canonical correlation per model and population, with single seeds and references.

    Parameters
    ----------
    similarity : DataFrame
        Long table with columns ``neuron_fraction, muscle_fraction, seed, model, population,
        metric, k, value``. Only ``metric == "cca"`` and the first (smallest) neuron and muscle
        fractions are drawn.

    Returns
    -------
    Figure
        Rows = ``k`` (ascending), columns = populations. Bars: mean over seeds with a 95%
        t-interval; dots: single seeds, with FF and FFH of the same seed joined by a thin line
        (the paired comparison; the count of seeds with FFH > FF is printed). Horizontal
        lines: the ceiling (``soc_split``) and the data baseline (``soc_observed``) with a
        faint 95% band.
    """
    table = similarity
    _check_columns(table, _SIMILARITY_COLUMNS, "similarity")
    sub = table[table["metric"] == "cca"]
    if sub.empty:
        raise ValueError("similarity has no rows with metric 'cca'")
    fraction = _first_value(sub["neuron_fraction"])
    muscle_fraction = _first_value(sub["muscle_fraction"])
    sub = sub[(sub["neuron_fraction"] == fraction) & (sub["muscle_fraction"] == muscle_fraction)]
    ks = sorted(int(k) for k in sub["k"].unique())
    populations = [p for p in sim.POPULATIONS if p in set(sub["population"])]
    if not populations:
        raise ValueError(
            f"similarity has no population among {sim.POPULATIONS}, got "
            f"{sorted(sub['population'].unique())}"
        )
    summary = stats.summarise(sub, by=["model", "population", "k"])
    models = _order_models(sub["model"])
    all_names = list(sub["model"].unique())
    seeds = sorted(sub["seed"].unique())
    offsets = dict(zip(seeds, _seed_offsets(len(seeds)), strict=True))

    fig = Figure(figsize=(3.9 * len(populations) + 2.8, 3.4 * len(ks) + 0.8), layout="constrained")
    axes = fig.subplots(len(ks), len(populations), sharey=True, squeeze=False)
    ref_handles: dict[str, object] = {}
    for i, k in enumerate(ks):
        for j, population in enumerate(populations):
            ax = axes[i, j]
            cell = sub[(sub["population"] == population) & (sub["k"] == k)]
            cell_summary = summary[(summary["population"] == population) & (summary["k"] == k)]
            present = [m for m in models if m in set(cell["model"])]
            positions = {m: p for p, m in enumerate(present)}
            for name in present:
                row = cell_summary[cell_summary["model"] == name].iloc[0]
                pos = positions[name]
                color = model_color(name, all_names)
                mean = float(row["mean"])
                err = np.array([[mean - row["ci_low"]], [row["ci_high"] - mean]], dtype=float)
                ax.bar(
                    pos,
                    mean,
                    width=0.6,
                    color=color,
                    alpha=0.3,
                    edgecolor=color,
                    linewidth=1.5,
                    zorder=1,
                )
                ax.errorbar(
                    pos,
                    mean,
                    yerr=np.nan_to_num(err),
                    color="black",
                    capsize=5,
                    linewidth=1.4,
                    zorder=3,
                )
                seeds_rows = cell[cell["model"] == name]
                xs = pos + np.array([offsets[s] for s in seeds_rows["seed"]])
                ax.scatter(
                    xs,
                    seeds_rows["value"],
                    s=16,
                    color=color,
                    edgecolor="white",
                    linewidth=0.5,
                    zorder=4,
                )
            if "ff" in positions and "ffh" in positions:
                ff = cell[cell["model"] == "ff"].set_index("seed")["value"]
                ffh = cell[cell["model"] == "ffh"].set_index("seed")["value"]
                paired = sorted(set(ff.index) & set(ffh.index))
                for s in paired:
                    ax.plot(
                        [positions["ff"] + offsets[s], positions["ffh"] + offsets[s]],
                        [ff[s], ffh[s]],
                        color="0.4",
                        linewidth=0.7,
                        alpha=0.7,
                        zorder=2,
                    )
                test = stats.paired_tests(cell, a="ffh", b="ff", by=[]).iloc[0]
                ax.text(
                    0.02,
                    0.97,
                    f"FFH > FF in {int(test['wins'])}/{int(test['n'])} seeds",
                    transform=ax.transAxes,
                    va="top",
                    fontsize=9,
                )
            for name, style in REFERENCE_STYLES.items():
                rows = cell_summary[cell_summary["model"] == name]
                if rows.empty:
                    continue
                row = rows.iloc[0]
                line = ax.axhline(float(row["mean"]), zorder=0, **style)
                if np.isfinite(row["ci_low"]) and np.isfinite(row["ci_high"]):
                    ax.axhspan(
                        row["ci_low"], row["ci_high"], color=style["color"], alpha=0.1, zorder=0
                    )
                ref_handles.setdefault(name, line)
            ax.set_xticks(range(len(present)), [_label(m) for m in present], fontsize=9)
            ax.set_xlim(-0.6, max(len(present), 1) - 0.4)
            ax.set_ylim(0.0, 1.05)
            ax.grid(True, axis="y", alpha=0.3)
            ax.set_title(f"{_POPULATION_TITLES.get(population, population)}, k = {k}", fontsize=11)
            if j == 0:
                ax.set_ylabel("mean canonical correlation")
    n_seeds = len(seeds)
    fig.suptitle(
        f"Similarity to the SOC: mean CCA on PCA factors (neuron fraction {fraction:g}, "
        f"{n_seeds} seed{'s' if n_seeds != 1 else ''}; bars = mean ± 95% CI, dots = seeds)",
        fontsize=12,
    )
    handles = [
        Line2D([], [], color="black", marker="_", markersize=10, linewidth=1.4),
        Line2D([], [], color="0.4", marker="o", markersize=4, linestyle="none"),
        Line2D([], [], color="0.4", linewidth=0.7),
        *ref_handles.values(),
    ]
    labels = [
        "mean ± 95% CI",
        "single seed",
        "same seed, FF vs FFH",
        *(_label(n) for n in ref_handles),
    ]
    _bottom_legend(fig, handles, labels)
    return fig


# ---------------------------------------------------------------------------------------------
# 5. Mean CCA vs observed fraction


def cca_vs_fraction_figure(summary: pd.DataFrame) -> Figure:
    """Mean canonical correlation as a function of the observed neuron fraction.

    Parameters
    ----------
    summary : DataFrame
        Columns ``model, population, metric, k, neuron_fraction, n, mean, sd, ci_low,
        ci_high`` (one row per group). Only ``metric == "cca"`` and the largest ``k`` are
        drawn.

    Returns
    -------
    Figure
        One panel per population, unobserved first (the honest test), then all and observed.
        Models: mean with 95% CI error bars (slightly dodged horizontally); references dashed.
    """
    _check_columns(summary, _SUMMARY_COLUMNS, "summary")
    sub = summary[summary["metric"] == "cca"]
    if sub.empty:
        raise ValueError("summary has no rows with metric 'cca'")
    k = int(sub["k"].max())
    sub = sub[sub["k"] == k]
    order = ("unobserved", "all", "observed")
    populations = [p for p in order if p in set(sub["population"])]
    if not populations:
        raise ValueError(
            f"summary has no population among {order}, got {sorted(sub['population'].unique())}"
        )
    fractions = np.sort(sub["neuron_fraction"].unique().astype(float))
    spacing = float(np.diff(fractions).min()) if fractions.size > 1 else 0.1
    models = _order_models(sub["model"])
    all_names = list(sub["model"].unique())
    dodge = {m: (i - (len(models) - 1) / 2) * 0.06 * spacing for i, m in enumerate(models)}

    fig = Figure(figsize=(4.4 * len(populations) + 2.8, 4.2), layout="constrained")
    axes = fig.subplots(1, len(populations), sharey=True, squeeze=False).ravel()
    handles: dict[str, object] = {}
    for ax, population in zip(axes, populations, strict=True):
        panel = sub[sub["population"] == population]
        for name in models:
            rows = panel[panel["model"] == name].sort_values("neuron_fraction")
            if rows.empty:
                continue
            mean = rows["mean"].to_numpy(dtype=float)
            err = np.vstack(
                [mean - rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float) - mean]
            )
            container = ax.errorbar(
                rows["neuron_fraction"].to_numpy(float) + dodge[name],
                mean,
                yerr=np.nan_to_num(err),
                color=model_color(name, all_names),
                marker="o",
                markersize=5,
                capsize=4,
                linewidth=1.8,
            )
            handles.setdefault(name, container)
        for name, style in REFERENCE_STYLES.items():
            rows = panel[panel["model"] == name].sort_values("neuron_fraction")
            if rows.empty:
                continue
            (line,) = ax.plot(
                rows["neuron_fraction"].to_numpy(float),
                rows["mean"],
                marker="s",
                markersize=4,
                **style,
            )
            handles.setdefault(name, line)
        title = _POPULATION_TITLES.get(population, population)
        if population == "unobserved":
            title += " (never seen)"
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("observed fraction of SOC neurons")
        ax.set_xticks(fractions)
        ax.set_xticklabels([f"{f:g}" for f in fractions])
        pad = 0.5 * spacing
        ax.set_xlim(fractions[0] - pad, fractions[-1] + pad)
        ax.set_ylim(0.0, 1.05)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylabel("mean canonical correlation")
    fig.suptitle(
        f"Similarity to the SOC vs observed fraction (CCA, k = {k}; mean ± 95% CI over seeds)",
        fontsize=12,
    )
    _bottom_legend(fig, list(handles.values()), [_label(n) for n in handles])
    return fig


# ---------------------------------------------------------------------------------------------
# 6. Latent trajectories in a CCA-aligned space


def trajectories_figure(soc_rates: np.ndarray, models: Mapping[str, np.ndarray], k: int) -> Figure:
    """SOC and model latent trajectories in a common, CCA-aligned 2-D space.

    For each model, the top-``k`` PCA factors of the model and of the SOC (samples = condition
    x time bins, :func:`hintforce.similarity.stack_conditions`) are rotated to their canonical
    directions by :func:`hintforce.similarity.canonical_variates`; the first two canonical
    variates of each are drawn against each other. Canonical variates are orthonormal, so both
    curves are on the same (dimensionless) scale, and a model whose activity is a linear
    transform of the SOC's draws exactly on top of it.

    Parameters
    ----------
    soc_rates : ndarray, shape (n_conditions, n_times, n_neurons)
        Ground-truth SOC rates (Hz), e.g. all neurons or only the unobserved ones.
    models : mapping of str to ndarray, shape (n_conditions, n_times, n_units)
        Model activity on the same conditions and time bins (e.g. ``ff``, ``ffh``), one panel
        each, in mapping order.
    k : int
        Number of PCs of each population entering the CCA (at least 2).

    Returns
    -------
    Figure
        One panel per model: SOC dashed, model solid, one colour per condition, marker at the
        start; the title gives the mean canonical correlation. Each line's ``gid`` is
        ``"soc/<model>/<condition>"`` or ``"<model>/<condition>"``.
    """
    soc_rates = _as_array(soc_rates, "soc_rates", 3)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 2:
        raise ValueError(f"k must be an integer of at least 2, got {k!r}")
    if not models:
        raise ValueError("models must contain at least one model")
    n_conditions, n_times, _ = soc_rates.shape
    soc = sim.stack_conditions(soc_rates)
    colors = condition_colors(n_conditions)

    fig = Figure(figsize=(4.6 * len(models) + 2.2, 4.8), layout="constrained")
    axes = fig.subplots(1, len(models), squeeze=False).ravel()
    for ax, (name, rates) in zip(axes, models.items(), strict=True):
        rates = _as_array(rates, f"models[{name!r}]", 3)
        if rates.shape[:2] != (n_conditions, n_times):
            raise ValueError(
                f"models[{name!r}] has (conditions, times) {rates.shape[:2]}, the SOC has "
                f"{(n_conditions, n_times)}"
            )
        model_v, soc_v, rho = sim.canonical_variates(sim.stack_conditions(rates), soc, int(k))
        model_v = np.asarray(model_v)[:, :2].reshape(n_conditions, n_times, 2)
        soc_v = np.asarray(soc_v)[:, :2].reshape(n_conditions, n_times, 2)
        for c in range(n_conditions):
            (line,) = ax.plot(
                soc_v[c, :, 0], soc_v[c, :, 1], color=colors[c], linestyle="--", linewidth=1.2
            )
            line.set_gid(f"soc/{name}/{c}")
            (line,) = ax.plot(model_v[c, :, 0], model_v[c, :, 1], color=colors[c], linewidth=1.6)
            line.set_gid(f"{name}/{c}")
            ax.plot(soc_v[c, 0, 0], soc_v[c, 0, 1], "o", color=colors[c], markersize=4)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel("canonical variate 1 (a.u.)")
        ax.set_ylabel("canonical variate 2 (a.u.)")
        rho = np.asarray(rho, dtype=float)
        ax.set_title(
            f"SOC (dashed) vs {_label(name)} (solid)\n"
            f"mean ρ = {rho.mean():.2f} (k = {k}); ρ₁ = {rho[0]:.2f}, ρ₂ = {rho[1]:.2f}",
            fontsize=11,
        )
    fig.suptitle("Latent trajectories in CCA-aligned space (● = start)", fontsize=12)
    fig.legend(
        handles=_condition_handles(n_conditions) + _style_handles("SOC", "model"),
        loc="outside right upper",
        fontsize=9,
        frameon=False,
    )
    return fig
