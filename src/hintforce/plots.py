"""Figures of the study, built on :class:`matplotlib.figure.Figure` (no pyplot, no global state).

Every function takes plain arrays or the study's tidy tables (:mod:`pandas`) and returns a
:class:`~matplotlib.figure.Figure`; the caller saves it (``fig.savefig(path, dpi=...)``), which
works without any backend selection because a bare ``Figure`` renders through Agg for raster
formats. Nothing here reads or writes files, and nothing here computes statistics: the
similarity figures draw the means and intervals of ``summary.csv`` as the statistics rule wrote
them.

Names come from :mod:`hintforce.study`: models in :data:`~hintforce.study.MODELS` order with
their labels, one colour per model (:data:`MODEL_COLORS`) and, for the three reference rows,
a colour *and* line style each (:data:`REFERENCE_STYLES`). Reach directions get a cyclic hue
wheel (:func:`condition_colors`). Targets are dashed and fitted or model traces solid.

Where a table holds several sweep cells, a figure draws one: every axis it does not sweep at
its first (smallest) value, said in the title as :func:`describe_run` does for a run
(``gt~2020 mf~0.4 ...``). Rows summarised over a pooled axis (``n_over`` naming a column that
is empty in those rows, e.g. summaries across ground-truth circuits) are preferred to the
per-value rows of that axis.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import hsv_to_rgb
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from hintforce import similarity as sim
from hintforce import study
from hintforce.selection import FIT_METRIC, equals, first_cell, where

__all__ = [
    "MODEL_COLORS",
    "mechanism_figure",
    "MODEL_LABELS",
    "REFERENCE_STYLES",
    "axis_figure",
    "cca_spectra_figure",
    "condition_colors",
    "describe_run",
    "generalisation_figure",
    "ground_truth_figure",
    "headline_figure",
    "model_color",
    "model_outputs_figure",
    "recording_figure",
    "tradeoff_figure",
    "trajectories_figure",
]


def _registered(name: str, names: Sequence[str]) -> str:
    """``name``, checked against a registry tuple of :mod:`hintforce.study`."""
    if name not in names:
        raise ValueError(f"{name!r} is not among {names}")
    return name


# Defaults of the similarity figures, checked against the registry.
_UNOBSERVED = _registered("unobserved", study.POPULATIONS)
_PRIMARY_METRIC = study.METRICS[0].name
_CROSS_VALIDATED = _registered("cross_validated", study.VALIDATIONS)
_HELD_OUT_DIRECTIONS = _registered(study.HELD_OUT_DIRECTIONS, study.VALIDATIONS)
_FULL = _registered("full", study.COMPONENTS)
_CONDITION = _registered("condition", study.COMPONENTS)
_CLEAN = _registered("clean", study.STARTS)
_NOISY = _registered("noisy", study.STARTS)
# Quantities of summary.csv: the similarity itself and the mean of its permutation null.
_VALUE, _NULL_MEAN = "value", "null_mean"

# Okabe-Ito (colour-blind safe), in model order; cycled if the registry grows past it.
_MODEL_PALETTE = ("#009E73", "#0072B2", "#D55E00", "#CC79A7", "#E69F00", "#56B4E9")
#: Colour of each model, in :data:`hintforce.study.MODELS` order.
MODEL_COLORS = MappingProxyType(
    {name: _MODEL_PALETTE[i % len(_MODEL_PALETTE)] for i, name in enumerate(study.MODEL_NAMES)}
)
#: Colour and line style of each reference row: all differ in both.
REFERENCE_STYLES = MappingProxyType(
    {
        study.CEILING: MappingProxyType({"color": "black", "linestyle": "--", "linewidth": 1.6}),
        study.BASELINE: MappingProxyType({"color": "0.55", "linestyle": "-.", "linewidth": 1.8}),
        study.RELIABILITY: MappingProxyType(
            {"color": "#8C510A", "linestyle": ":", "linewidth": 2.0}
        ),
        study.TRIAL_SPLIT: MappingProxyType(
            {"color": "#762A83", "linestyle": (0, (5, 1, 1, 1)), "linewidth": 1.8}
        ),
    }
)
#: Display name of each model and reference row.
MODEL_LABELS = MappingProxyType(
    {
        **{m.name: m.label for m in study.MODELS},
        study.CEILING: "ceiling (SOC scored as a model)",
        study.BASELINE: "data baseline (observed SOC neurons, as recorded)",
        study.RELIABILITY: "split-half reliability (SOC halves)",
        study.TRIAL_SPLIT: "trial-split ceiling (recorded PSTHs, trial halves)",
    }
)
_POPULATION_TITLES = MappingProxyType(
    {
        "all": "all SOC neurons",
        "observed": "observed SOC neurons",
        _UNOBSERVED: "unobserved SOC neurons",
        study.HELD_OUT: "held-out SOC neurons (one fixed set)",
    }
)
_COMPONENT_TITLES = MappingProxyType(
    {_FULL: "full activity", _CONDITION: "condition-specific activity"}
)
# Columns every similarity figure needs in summary.csv (the others are optional).
_SUMMARY_REQUIRED = ("model", "population", "metric", "k", "mean")
_SPECTRA_REQUIRED = ("model", "population", "k", "index", "value")
# Most panels side by side in a grid of small multiples.
_MAX_COLUMNS = 5
# Per-condition traces: targets dashed, fitted or model traces solid.
_TARGET_STYLE = MappingProxyType({"linestyle": "--", "linewidth": 1.1})
_TRACE_STYLE = MappingProxyType({"linewidth": 1.4})


# ---------------------------------------------------------------------------------------------
# Colours, labels and small helpers


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


def model_color(name: str) -> str:
    """Colour of a model or reference row (dark grey for a name the registry does not know)."""
    if name in MODEL_COLORS:
        return MODEL_COLORS[name]
    if name in REFERENCE_STYLES:
        return REFERENCE_STYLES[name]["color"]
    return "0.3"


def describe_run(values: Mapping[str, object]) -> str:
    """A run or sweep cell as its path reads, e.g. ``"gt~2020 mf~0.4 seed~1 nf~0.3"``.

    Parameters
    ----------
    values : mapping of axis name to value
        Values of some of :data:`hintforce.study.AXES` (other keys are ignored); a missing
        value (None or NaN: a summary pooled over that axis) reads ``all``.

    Returns
    -------
    str
        ``key~value`` for each axis present, in path order, separated by spaces.
    """
    parts = []
    for ax in study.AXES:
        if ax.name not in values:
            continue
        value = values[ax.name]
        parts.append(f"{ax.key}~{'all' if pd.isna(value) else ax.label(value)}")
    return " ".join(parts)


def _label(name: str) -> str:
    return MODEL_LABELS.get(name, name)


def _axis_label(name: str) -> str:
    return f"{name.replace('_', ' ')} ({study.axis(name).key})"


def _models_in(names) -> list[str]:
    """The non-reference names among ``names``: registry order, then unknown ones sorted."""
    present = set(names) - set(study.REFERENCES)
    known = [m for m in study.MODEL_NAMES if m in present]
    return known + sorted(present - set(known))


def _grid(n: int, max_columns: int = _MAX_COLUMNS) -> tuple[int, int]:
    """Balanced (rows, columns) for ``n`` panels: as few rows as ``max_columns`` allows, then
    as few columns as those rows need (6 panels: 2 x 3, not 5 + 1)."""
    rows = math.ceil(n / max_columns)
    return rows, math.ceil(n / rows)


def _trace_handles(n_conditions: int, dashed: str, solid: str) -> list[Line2D]:
    """Legend entries of per-condition traces: one colour per condition, then what the dashed
    and the solid lines are."""
    colors = condition_colors(n_conditions)
    return [
        *(
            Line2D([], [], color=colors[c], linewidth=2, label=f"condition {c + 1}")
            for c in range(n_conditions)
        ),
        Line2D([], [], color="0.3", linestyle="--", linewidth=1.4, label=dashed),
        Line2D([], [], color="0.3", linestyle="-", linewidth=1.4, label=solid),
    ]


def _ordered_handles(handles: Mapping[str, Line2D]) -> list[Line2D]:
    """Legend handles: models in registry order, then the reference rows."""
    return [handles[n] for n in (*_models_in(handles), *study.REFERENCES) if n in handles]


def _bottom_legend(fig: Figure, handles: Sequence, labels: Sequence[str] | None = None) -> None:
    """Legend entries below the panels, in as many rows as the figure's width needs."""
    if labels is None:
        labels = [h.get_label() for h in handles]
    ncols = max(1, min(len(handles), int(fig.get_figwidth() // 2.2)))
    fig.legend(
        handles=handles,
        labels=labels,
        loc="outside lower center",
        ncols=ncols,
        fontsize=9,
        frameon=False,
    )


def _suptitle(fig: Figure, text: str, title: str | None, **kwargs) -> None:
    """The figure title, with the caller's ``title`` (e.g. the run shown) on a second line."""
    fig.suptitle(f"{text}\n{title}" if title else text, **kwargs)


def _check_columns(table: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{name} is missing columns {missing}; it has {list(table.columns)}")
    if table.empty:
        raise ValueError(f"{name} has no rows")


def _as_array(x, name: str, ndim: int, shape: tuple[int, ...] = ()) -> np.ndarray:
    """``x`` as a float array of ``ndim`` dimensions, the first of them ``shape``."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-d, got shape {arr.shape}")
    if arr.shape[: len(shape)] != shape:
        expected = ", ".join([*map(str, shape), *["..."] * (ndim - len(shape))])
        raise ValueError(f"{name} must have shape ({expected}), got {arr.shape}")
    return arr


def _model_arrays(
    models: Mapping[str, np.ndarray], name: str, shape: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """Each model's 3-d array of ``models`` (called ``name``), its first dimensions ``shape``,
    in :func:`_models_in` order."""
    if not models:
        raise ValueError(f"{name} must contain at least one model")
    return {m: _as_array(models[m], f"{name}[{m!r}]", 3, shape) for m in _models_in(models)}


# ---------------------------------------------------------------------------------------------
# Reading the summary table


def _quantity(table: pd.DataFrame, quantity: str) -> pd.DataFrame:
    """Rows of one quantity of summary.csv (all rows if the table has no ``quantity``)."""
    if "quantity" not in table.columns:
        return table if quantity == _VALUE else table.iloc[:0]
    return table[table["quantity"] == quantity]


def _replicates(rows: pd.DataFrame) -> str:
    """What the intervals are over, for a title, e.g. ``" (n = 5 seed)"`` (empty without
    ``n``)."""
    if "n" not in rows.columns:
        return ""
    counts = sorted({int(n) for n in rows["n"].dropna()})
    if not counts:
        return ""
    n = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    over = sorted(rows["n_over"].dropna().unique()) if "n_over" in rows.columns else []
    return f" (n = {n} {', '.join(map(str, over))}".rstrip() + ")"


def _interval(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``ci_low``, ``ci_high`` of ``rows`` (NaN where the table has none)."""
    nan = np.full(len(rows), np.nan)
    low = rows["ci_low"].to_numpy(float) if "ci_low" in rows.columns else nan
    high = rows["ci_high"].to_numpy(float) if "ci_high" in rows.columns else nan
    return low, high


def _model_rows(rows: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """The row of each of ``names`` (models or reference rows) in ``rows``, in that order: one
    each, else an error."""
    picked = []
    for name in names:
        row = rows[rows["model"] == name]
        if len(row) != 1:
            raise ValueError(
                f"expected one summary row for {name}, got {len(row)}: the table has a key the "
                f"figure does not select on"
            )
        picked.append(row)
    return pd.concat(picked) if picked else rows.iloc[:0]


def _components(table: pd.DataFrame) -> list[str | None]:
    """Components present in registry order ([None] for a table without the column)."""
    if "component" not in table.columns:
        return [None]
    present = set(table["component"])
    return [c for c in study.COMPONENTS if c in present] + sorted(present - set(study.COMPONENTS))


def _component_rows(rows: pd.DataFrame, component: str | None) -> pd.DataFrame:
    """Rows of one activity component (all rows for ``None``: a table without the column)."""
    return rows if component is None else rows[rows["component"] == component]


def _panel_title(population: str, component: str | None) -> str:
    title = _POPULATION_TITLES.get(population, population)
    if component is not None:
        title += f"\n{_COMPONENT_TITLES.get(component, component)}"
    return title


# ---------------------------------------------------------------------------------------------
# Repeated drawings


def _panel_grid(
    fig: Figure | SubFigure, n: int, max_columns: int = _MAX_COLUMNS, **kwargs
) -> np.ndarray:
    """``n`` axes of ``fig`` in the balanced grid of :func:`_grid`, row by row (the cells past
    the last removed); ``kwargs`` go to ``subplots`` (e.g. ``sharex``)."""
    axes = fig.subplots(*_grid(n, max_columns), squeeze=False, **kwargs).ravel()
    for ax in axes[n:]:
        ax.remove()
    return axes[:n]


def _condition_lines(
    ax: Axes,
    colors: np.ndarray,
    *series: tuple[np.ndarray, np.ndarray, Mapping[str, object]],
    start_marker: float | None = None,
) -> list[list[Line2D]]:
    """One line per condition and series, in the condition's colour, condition by condition
    (a condition's lines lie under the next condition's, in every panel alike).

    Parameters
    ----------
    ax : Axes
        The panel.
    colors : ndarray, shape (n_conditions, 3)
        Colour of each condition (:func:`condition_colors`).
    *series : tuple (x, y, style)
        ``y[c]`` against ``x`` (an abscissa shared by the conditions, e.g. time) or ``x[c]``
        (a trajectory), drawn with the line properties ``style``.
    start_marker : float, optional
        Size of a dot at the first point of the first series (none by default).

    Returns
    -------
    list of list of Line2D
        The lines of each series, by condition.
    """
    drawn: list[list[Line2D]] = [[] for _ in series]
    for c, color in enumerate(colors):
        for lines, (x, y, style) in zip(drawn, series, strict=True):
            (line,) = ax.plot(np.broadcast_to(x, y.shape)[c], y[c], color=color, **style)
            lines.append(line)
        if start_marker is not None:
            x, y, _ = series[0]
            start = np.broadcast_to(x, y.shape)[c, 0], y[c, 0]
            ax.plot(*start, "o", color=color, markersize=start_marker)
    return drawn


def _ci_errorbars(
    ax: Axes,
    x: np.ndarray,
    y: np.ndarray,
    *,
    x_ci: tuple[np.ndarray, np.ndarray] | None = None,
    y_ci: tuple[np.ndarray, np.ndarray] | None = None,
    **style,
) -> ErrorbarContainer:
    """Error bars from the means ``x``, ``y`` to their 95% CIs, each given as ``(low, high)``
    (no bar along an axis without an interval, nor where it is NaN)."""
    xerr = None if x_ci is None else np.nan_to_num(np.vstack([x - x_ci[0], x_ci[1] - x]))
    yerr = None if y_ci is None else np.nan_to_num(np.vstack([y - y_ci[0], y_ci[1] - y]))
    return ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", **style)


def _band(ax: Axes, x: np.ndarray, low: np.ndarray, high: np.ndarray, color, gid: str) -> None:
    """A shaded interval between ``low`` and ``high`` (gaps where they are NaN)."""
    if np.isfinite(low).any() and np.isfinite(high).any():
        band = ax.fill_between(x, low, high, color=color, alpha=0.2, linewidth=0, zorder=1)
        band.set_gid(gid)


def _reference_lines(ax: Axes, rows: pd.DataFrame, x: str | None = None) -> dict[str, Line2D]:
    """The reference rows of ``rows`` in their styles: horizontal lines at their mean, or their
    means against the column ``x``. Returns the lines drawn, by reference name."""
    drawn = {}
    for name, style in REFERENCE_STYLES.items():
        ref = rows[rows["model"] == name]
        if ref.empty:
            continue
        if x is None:
            line = ax.axhline(float(_model_rows(ref, [name])["mean"].iloc[0]), zorder=2, **style)
        else:
            ref = ref.sort_values(x)
            (line,) = ax.plot(ref[x].to_numpy(float), ref["mean"].to_numpy(float), **style)
        line.set_gid(name)
        line.set_label(_label(name))
        drawn[name] = line
    return drawn


def _curves(ax: Axes, rows: pd.DataFrame, x: str) -> dict[str, Line2D]:
    """Each model's mean against the column ``x`` with its interval as a band, and the
    reference rows as lines. Returns the lines drawn, by name."""
    drawn = {}
    for name in _models_in(rows["model"]):
        curve = rows[rows["model"] == name].sort_values(x)
        if curve[x].duplicated().any():
            raise ValueError(f"several rows of {name!r} share a {x} value in one panel")
        xs = curve[x].to_numpy(float)
        color = model_color(name)
        (line,) = ax.plot(
            xs, curve["mean"].to_numpy(float), color=color, marker="o", markersize=4, linewidth=1.8
        )
        line.set_gid(name)
        line.set_label(_label(name))
        _band(ax, xs, *_interval(curve), color=color, gid=f"{name}/band")
        drawn[name] = line
    drawn.update(_reference_lines(ax, rows, x))
    return drawn


# ---------------------------------------------------------------------------------------------
# Ground truth


def _emg_panels(
    fig: SubFigure,
    emg: np.ndarray,
    emg_fit: np.ndarray,
    r2: np.ndarray,
    time_ms: np.ndarray,
    colors: np.ndarray,
) -> None:
    """EMG small multiples: each muscle's targets (dashed) and SOC readout (solid)."""
    n_muscles = emg.shape[2]
    _, ncols = _grid(n_muscles)
    axes = _panel_grid(fig, n_muscles, sharex=True, sharey=True)
    for m, ax in enumerate(axes):
        _condition_lines(
            ax,
            colors,
            (time_ms, emg[:, :, m], _TARGET_STYLE),
            (time_ms, emg_fit[:, :, m], _TRACE_STYLE),
        )
        ax.set_title(f"muscle {m + 1}, R² = {r2[m]:.3f}", fontsize=10)
        if m % ncols == 0:
            ax.set_ylabel("EMG (a.u.)")
        if m >= n_muscles - ncols:
            ax.set_xlabel("time (ms)")
            ax.xaxis.set_tick_params(labelbottom=True)
    fig.suptitle("EMG targets (dashed) and SOC linear readout (solid)", fontsize=12)
    fig.legend(
        handles=_trace_handles(len(colors), "EMG target", "SOC readout"),
        loc="outside right upper",
        fontsize=9,
        frameon=False,
    )


def _example_neurons_panels(
    fig: SubFigure, rates: np.ndarray, time_ms: np.ndarray, n_examples: int, colors: np.ndarray
) -> None:
    """The rates of the ``n_examples`` neurons of largest variance over conditions and time."""
    variance = sim.stack_conditions(rates).var(axis=0)
    examples = np.argsort(-variance, kind="stable")[: min(n_examples, rates.shape[2])]
    axes = fig.subplots(1, examples.size, sharex=True, squeeze=False).ravel()
    for ax, neuron in zip(axes, examples, strict=True):
        _condition_lines(ax, colors, (time_ms, rates[:, :, neuron], _TRACE_STYLE))
        ax.set_title(f"neuron {neuron + 1}", fontsize=10)
        ax.set_xlabel("time (ms)")
    axes[0].set_ylabel("rate (Hz)")
    fig.suptitle("Example SOC neurons (largest variance), one line per condition", fontsize=12)


def _pc_trajectories_panel(ax: Axes, rates: np.ndarray, colors: np.ndarray) -> None:
    """The population's trajectories in its top-2 PCs (a zero PC 2 for a single neuron)."""
    stacked = sim.stack_conditions(rates)
    pcs = sim.pca_scores(stacked, min(2, stacked.shape[1]), label="rates")
    total = float(((stacked - stacked.mean(axis=0)) ** 2).sum())
    explained = 100.0 * pcs.singular_values**2 / total
    scores = pcs.scores.reshape(*rates.shape[:2], -1)
    if scores.shape[2] == 1:
        scores = np.concatenate([scores, np.zeros_like(scores)], axis=2)
        explained = np.append(explained, 0.0)
    _condition_lines(ax, colors, (scores[..., 0], scores[..., 1], _TRACE_STYLE), start_marker=5)
    ax.set_xlabel(f"PC 1 (Hz, {explained[0]:.0f}% var.)")
    ax.set_ylabel(f"PC 2 (Hz, {explained[1]:.0f}% var.)")
    ax.set_title("Population trajectories (top-2 PCs, ● = start)", fontsize=11)


def _abscissa_panel(ax: Axes, abscissa_trace: np.ndarray, target_abscissa: float) -> None:
    """The spectral abscissa per optimisation iteration (log scale if positive) and its target."""
    iterations = np.arange(abscissa_trace.size)
    ax.plot(iterations, abscissa_trace, color="0.15", linewidth=1.5, label="α(W)")
    ax.axhline(
        target_abscissa,
        color="#D55E00",
        linestyle=":",
        linewidth=1.6,
        label=f"target α = {target_abscissa:g}",
    )
    if np.all(abscissa_trace > 0) and target_abscissa > 0:
        ax.set_yscale("log")
    ax.set_xlabel("optimisation iteration")
    ax.set_ylabel("spectral abscissa α(W)")
    ax.set_title(
        f"Stability optimisation: α {abscissa_trace[0]:.3g} → {abscissa_trace[-1]:.3g} "
        f"in {abscissa_trace.size - 1} iterations",
        fontsize=11,
    )
    ax.legend(fontsize=9, frameon=False)


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
    title: str | None = None,
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
    title : str, optional
        Which circuit this is (e.g. ``describe_run({...})``), shown under the figure title.

    Returns
    -------
    Figure
        Top: one panel per muscle in a balanced grid (targets dashed, readout solid, R² in the
        title). Middle: example neurons' rates. Bottom: the top-2 PC trajectories (marker at
        the start) and the spectral abscissa per iteration (log scale if positive) with the
        target.
    """
    emg = _as_array(emg, "emg", 3)
    n_conditions, n_times, n_muscles = emg.shape
    emg_fit = _as_array(emg_fit, "emg_fit", 3, emg.shape)
    r2 = _as_array(r2, "r2", 1, (n_muscles,))
    time_ms = _as_array(time_ms, "time_ms", 1, (n_times,))
    rates = _as_array(rates, "rates", 3, (n_conditions, n_times))
    abscissa_trace = _as_array(abscissa_trace, "abscissa_trace", 1)
    if abscissa_trace.size == 0:
        raise ValueError("abscissa_trace is empty")
    if n_example_neurons < 1:
        raise ValueError(f"n_example_neurons must be at least 1, got {n_example_neurons}")
    colors = condition_colors(n_conditions)

    nrows, _ = _grid(n_muscles)
    fig = Figure(figsize=(13, 5.2 + 2.3 * nrows), layout="constrained")
    _suptitle(fig, "Ground-truth M1: gain-modulated SOC", title, fontsize=14, fontweight="bold")
    top, middle, bottom = fig.subfigures(3, 1, height_ratios=[1.0 * nrows, 1.2, 1.4])
    _emg_panels(top, emg, emg_fit, r2, time_ms, colors)
    _example_neurons_panels(middle, rates, time_ms, n_example_neurons, colors)
    ax_pc, ax_abs = bottom.subplots(1, 2, gridspec_kw={"width_ratios": [1.0, 1.4]})
    _pc_trajectories_panel(ax_pc, rates, colors)
    _abscissa_panel(ax_abs, abscissa_trace, target_abscissa)
    return fig


# ---------------------------------------------------------------------------------------------
# One run: model outputs and latent trajectories


def model_outputs_figure(
    targets: np.ndarray,
    outputs: Mapping[str, np.ndarray],
    r2: Mapping[str, float],
    time_ms: np.ndarray,
    muscles: Sequence[int],
    *,
    held_out: Sequence[int] = (),
    held_out_r2: Mapping[str, float] | None = None,
    title: str | None = None,
) -> Figure:
    """Outputs of trained networks against the EMG targets of the observed muscles.

    Parameters
    ----------
    targets : ndarray, shape (n_conditions, n_times, n_observed_muscles)
        EMG targets of the observed muscles (a.u.).
    outputs : mapping of str to ndarray, shape (n_conditions, n_times, n_observed_muscles)
        Each model's output: every trained model of the run, shams included (rows of the
        figure: registry models in registry order, then any others sorted).
    r2 : mapping of str to float
        R² of each model's output on its training directions (every key of ``outputs`` must
        be present).
    time_ms : ndarray, shape (n_times,)
        Time of each bin (ms) from movement onset (a rest window included, if any).
    muscles : sequence of int, length n_observed_muscles
        Original (0-based) indices of the observed muscles, shown 1-based as labels.
    held_out : sequence of int, optional
        Conditions no model was trained on: their outputs are dotted.
    held_out_r2 : mapping of str to float, optional
        R² of each model's output on the held-out conditions, shown next to ``r2``.
    title : str, optional
        Which run this is (e.g. ``describe_run({...})``), shown under the figure title.

    Returns
    -------
    Figure
        Rows = models, columns = muscles; targets dashed, outputs solid, one colour per
        condition; the legend below the panels.
    """
    targets = _as_array(targets, "targets", 3)
    n_conditions, n_times, n_muscles = targets.shape
    time_ms = _as_array(time_ms, "time_ms", 1, (n_times,))
    muscles = [int(m) for m in muscles]
    if len(muscles) != n_muscles:
        raise ValueError(f"muscles has {len(muscles)} entries, targets has {n_muscles} muscles")
    arrays = _model_arrays(outputs, "outputs", targets.shape)
    for name in arrays:
        if name not in r2:
            raise ValueError(f"r2 has no entry for model {name!r}")
    colors = condition_colors(n_conditions)

    n_rows = len(arrays)
    fig = Figure(
        figsize=(max(8.0, 2.7 * n_muscles + 1.6), 2.1 * n_rows + 2.0), layout="constrained"
    )
    axes = fig.subplots(n_rows, n_muscles, sharex=True, sharey=True, squeeze=False)
    held_out = [int(c) for c in held_out]
    for i, (name, out) in enumerate(arrays.items()):
        for j, muscle in enumerate(muscles):
            ax = axes[i, j]
            _, lines = _condition_lines(
                ax,
                colors,
                (time_ms, targets[:, :, j], _TARGET_STYLE),
                (time_ms, out[:, :, j], _TRACE_STYLE),
            )
            for c in held_out:
                lines[c].set_linestyle(":")
            ax.set_title(f"{_label(name)}: muscle {muscle + 1}", fontsize=10)
            if i == n_rows - 1:
                ax.set_xlabel("time (ms)")
        label = f"{_label(name)}, R² = {float(r2[name]):.3f}"
        if held_out_r2 is not None and name in held_out_r2:
            label += f"\n(held out: {float(held_out_r2[name]):.3f})"
        axes[i, 0].set_ylabel(f"{label}\noutput (a.u.)")
    _suptitle(
        fig,
        "Network outputs (solid; dotted: held-out directions) vs EMG targets (dashed)"
        if held_out
        else "Network outputs (solid) vs EMG targets (dashed) on the observed muscles",
        title,
        fontsize=13,
    )
    _bottom_legend(fig, _trace_handles(n_conditions, "EMG target", "network output"))
    return fig


def trajectories_figure(
    soc_rates: np.ndarray,
    models: Mapping[str, np.ndarray],
    k: int,
    *,
    title: str | None = None,
) -> Figure:
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
        Model activity on the same conditions and time bins, one panel each (registry models
        in registry order, then any others sorted; in a balanced grid).
    k : int
        Number of PCs of each population entering the CCA (at least 2).
    title : str, optional
        Which run this is (e.g. ``describe_run({...})``), shown under the figure title.

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
    n_conditions, n_times, _ = soc_rates.shape
    arrays = _model_arrays(models, "models", (n_conditions, n_times))
    soc = sim.stack_conditions(soc_rates)
    colors = condition_colors(n_conditions)

    nrows, ncols = _grid(len(arrays), max_columns=3)
    fig = Figure(figsize=(max(8.0, 4.4 * ncols), 4.3 * nrows + 1.4), layout="constrained")
    axes = _panel_grid(fig, len(arrays), max_columns=3)
    for ax, (name, rates) in zip(axes, arrays.items(), strict=True):
        model_v, soc_v, rho = sim.canonical_variates(sim.stack_conditions(rates), soc, int(k))
        model_v = np.asarray(model_v)[:, :2].reshape(n_conditions, n_times, 2)
        soc_v = np.asarray(soc_v)[:, :2].reshape(n_conditions, n_times, 2)
        soc_lines, model_lines = _condition_lines(
            ax,
            colors,
            (soc_v[..., 0], soc_v[..., 1], {"linestyle": "--", "linewidth": 1.2}),
            (model_v[..., 0], model_v[..., 1], {"linewidth": 1.6}),
            start_marker=4,
        )
        for c, (soc_line, model_line) in enumerate(zip(soc_lines, model_lines, strict=True)):
            soc_line.set_gid(f"soc/{name}/{c}")
            model_line.set_gid(f"{name}/{c}")
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel("canonical variate 1 (a.u.)")
        ax.set_ylabel("canonical variate 2 (a.u.)")
        rho = np.asarray(rho, dtype=float)
        ax.set_title(
            f"SOC (dashed) vs {_label(name)} (solid)\n"
            f"mean ρ = {rho.mean():.2f} (k = {k}); ρ₁ = {rho[0]:.2f}, ρ₂ = {rho[1]:.2f}",
            fontsize=11,
        )
    _suptitle(fig, "Latent trajectories in CCA-aligned space (● = start)", title, fontsize=12)
    _bottom_legend(fig, _trace_handles(n_conditions, "SOC", "model"))
    return fig


# ---------------------------------------------------------------------------------------------
# Across runs: canonical-correlation spectra


def cca_spectra_figure(
    spectra: pd.DataFrame, over: str = study.SEED, k: int | None = None, *, component: str = _FULL
) -> Figure:
    """Canonical-correlation spectra per population: mean over runs with their range.

    Parameters
    ----------
    spectra : DataFrame
        Long table with columns ``model, population, k, index, value`` (``index`` 0..k-1 in
        descending order of correlation), the axis columns and, optionally, ``component``.
    over : str, optional
        The axis the runs of a cell differ in (the run seed by default); every other axis is
        drawn at its first value.
    k : int, optional
        Number of PCs; the largest in the table by default.
    component : str, optional
        Activity component drawn (the full activity by default).

    Returns
    -------
    Figure
        One panel per population in registry order. Models as lines (mean over the runs) with
        a band spanning the runs' smallest to largest correlation; reference rows as lines in
        their styles. Lines carry the model name as ``gid``.
    """
    _check_columns(spectra, [*_SPECTRA_REQUIRED, over], "spectra")
    study.axis(over)
    k = int(spectra["k"].max()) if k is None else int(k)
    rows = where(spectra, "spectra", k=k, component=component)
    rows, cell = first_cell(rows, vary=(over,))
    populations = [p for p in study.POPULATIONS if p in set(rows["population"])]
    if not populations:
        raise ValueError(
            f"spectra has no population among {study.POPULATIONS}, got "
            f"{sorted(rows['population'].unique())}"
        )
    # The table of curves _curves draws: mean over runs, band from the smallest to the largest.
    curves = (
        rows.groupby(["model", "population", "index"])["value"]
        .agg(mean="mean", ci_low="min", ci_high="max")
        .reset_index()
    )
    curves["dimension"] = curves["index"] + 1
    n_runs = rows[over].nunique()

    fig = Figure(figsize=(max(9.0, 4.0 * len(populations)), 4.8), layout="constrained")
    axes = fig.subplots(1, len(populations), sharey=True, squeeze=False).ravel()
    handles: dict[str, Line2D] = {}
    for ax, population in zip(axes, populations, strict=True):
        handles.update(_curves(ax, curves[curves["population"] == population], "dimension"))
        ax.set_title(_panel_title(population, component), fontsize=11)
        ax.set_xlabel("canonical dimension")
        ax.set_ylim(0.0, 1.03)
        ax.set_xlim(0.5, k + 0.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylabel("canonical correlation")
    fig.suptitle(
        f"CCA spectra vs the SOC (k = {k} PCs; line = mean over {n_runs} {over} value"
        f"{'s' if n_runs != 1 else ''}, band = their range)\n{describe_run(cell)}",
        fontsize=12,
    )
    _bottom_legend(fig, _ordered_handles(handles))
    return fig


# ---------------------------------------------------------------------------------------------
# Across runs: the headline, similarity against a swept axis, and the fit trade-off


def _similarity_rows(
    summary: pd.DataFrame,
    k: int,
    metric: str,
    validation: str,
    populations: Sequence[str],
    component: str | None = None,
) -> pd.DataFrame:
    """Rows of summary.csv for one metric, k and validation, some populations (and optionally
    one component)."""
    _check_columns(summary, _SUMMARY_REQUIRED, "summary")
    study.metric(metric)
    conditions: dict[str, object] = {"metric": metric, "k": k, "validation": validation}
    if component is not None:
        conditions["component"] = component
    rows = where(summary, "summary", **conditions)
    rows = rows[rows["population"].isin(populations)]
    if rows.empty:
        raise ValueError(f"summary has no rows for the populations {list(populations)}")
    return rows


def _similarity_label(metric: str, validation: str) -> str:
    return f"{study.metric(metric).label}\n({validation.replace('_', '-')})"


def _headline_panel(
    ax: Axes, values: pd.DataFrame, nulls: pd.DataFrame, models: Sequence[str]
) -> dict[str, object]:
    """One component of the headline: per model a bar at its mean with the 95% CI and its null
    marker, and the reference lines. Returns the legend handles (``"ci"``, ``"null"`` and the
    reference names)."""
    present = [m for m in models if m in set(values["model"])]
    bars = _model_rows(values, present)
    means = bars["mean"].to_numpy(float)
    x = np.arange(len(present), dtype=float)
    colors = [model_color(m) for m in present]
    ax.bar(x, means, width=0.6, color=colors, alpha=0.35, edgecolor=colors, linewidth=1.5)
    handles: dict[str, object] = {
        "ci": _ci_errorbars(
            ax, x, means, y_ci=_interval(bars), ecolor="black", capsize=5, linewidth=1.4, zorder=3
        )
    }
    marker = _null_markers(ax, x, present, nulls)
    if marker is not None:
        handles["null"] = marker
    handles.update(_reference_lines(ax, values))
    ax.set_xticks(x, [_label(m) for m in present], rotation=25, ha="right", fontsize=9)
    ax.set_xlim(-0.6, len(present) - 0.4)
    ax.set_xlabel("model")
    ax.grid(True, axis="y", alpha=0.3)
    return handles


def _null_markers(
    ax: Axes, x: np.ndarray, models: Sequence[str], nulls: pd.DataFrame
) -> Line2D | None:
    """A hollow diamond at the permutation-null mean of each of ``models`` (drawn at ``x``)
    that has one (``gid`` ``"null"``; None if none has)."""
    with_null = [i for i, m in enumerate(models) if m in set(nulls["model"])]
    if not with_null:
        return None
    means = _model_rows(nulls, [models[i] for i in with_null])["mean"].to_numpy(float)
    (marker,) = ax.plot(
        x[with_null],
        means,
        linestyle="none",
        marker="D",
        markersize=7,
        markerfacecolor="white",
        markeredgecolor="0.2",
        markeredgewidth=1.4,
        zorder=4,
    )
    marker.set_gid("null")
    return marker


def headline_figure(
    summary: pd.DataFrame,
    k: int,
    *,
    metric: str = _PRIMARY_METRIC,
    population: str = _UNOBSERVED,
    validation: str = _CROSS_VALIDATED,
) -> Figure:
    """The headline: each model's similarity to the unobserved neurons next to its null.

    Parameters
    ----------
    summary : DataFrame
        ``summary.csv``: axis columns, ``model, population, metric, k, mean`` and, optionally,
        ``component, validation, quantity, n, n_over, ci_low, ci_high``. One sweep cell is
        drawn (see the module notes); rows of quantity ``value`` are the bars and those of
        quantity ``null_mean`` the null markers.
    k : int
        Number of PCs (the study's primary k).
    metric, population, validation : str, optional
        The similarity drawn: mean canonical correlation with the unobserved neurons,
        cross-validated, by default.

    Returns
    -------
    Figure
        One panel per activity component (full, condition). Per model: a bar at its mean with
        the 95% CI (black error bar) and a hollow diamond at the mean of its permutation null
        (``gid`` ``"null"``, one marker per model). Reference rows as horizontal lines, each in
        its own colour and style.
    """
    rows = _similarity_rows(summary, k, metric, validation, [population])
    rows, cell = first_cell(rows)
    values = _quantity(rows, _VALUE)
    nulls = _quantity(rows, _NULL_MEAN)
    if values.empty:
        raise ValueError(f"summary has no rows of quantity {_VALUE!r}")
    models = _models_in(values["model"])
    components = _components(values)

    fig = Figure(
        figsize=(max(9.0, (1.1 * len(models) + 1.6) * len(components)), 5.4), layout="constrained"
    )
    axes = fig.subplots(1, len(components), sharey=True, squeeze=False).ravel()
    handles: dict[str, object] = {}
    for ax, component in zip(axes, components, strict=True):
        panel = _component_rows(values, component)
        handles.update(_headline_panel(ax, panel, _component_rows(nulls, component), models))
        ax.set_title(_panel_title(population, component), fontsize=11)
    axes[0].set_ylabel(_similarity_label(metric, validation))
    fig.suptitle(
        f"Similarity to the {_POPULATION_TITLES.get(population, population)}: "
        f"{study.metric(metric).label}, k = {k}\n{describe_run(cell)}; bars = mean ± 95% CI"
        f"{_replicates(values)}, ◇ = permutation null mean",
        fontsize=12,
    )
    labels = {
        "ci": "mean ± 95% CI",
        "null": "permutation null (mean)",
        **{name: _label(name) for name in study.REFERENCES},
    }
    shown = [h for h in labels if h in handles]
    _bottom_legend(fig, [handles[h] for h in shown], [labels[h] for h in shown])
    return fig


def _paired_bars(
    ax: Axes,
    models: Sequence[str],
    groups: Sequence[tuple[str, pd.DataFrame, pd.DataFrame | None, Mapping[str, object]]],
) -> dict[str, object]:
    """Per model, one bar per group side by side, at the group rows' mean with its 95% CI and,
    where the group has null rows, the null marker. ``groups`` are ``(label, values, nulls,
    bar style)``. Returns the legend handles: one bar per group label, ``"null"``."""
    width = 0.8 / len(groups)
    x = np.arange(len(models), dtype=float)
    handles: dict[str, object] = {}
    for g, (label, values, nulls, style) in enumerate(groups):
        present = [m for m in models if m in set(values["model"])]
        if not present:
            continue
        rows = _model_rows(values, present)
        at = x[[models.index(m) for m in present]] + (g - (len(groups) - 1) / 2) * width
        means = rows["mean"].to_numpy(float)
        bars = ax.bar(
            at, means, width=0.9 * width, color=[model_color(m) for m in present], **style
        )
        for bar in bars:
            bar.set_gid(label)
        handles[label] = Patch(facecolor="0.6", label=label, **style)
        _ci_errorbars(ax, at, means, y_ci=_interval(rows), ecolor="black", capsize=3, zorder=3)
        if nulls is not None:
            marker = _null_markers(ax, at, present, nulls)
            if marker is not None:
                handles["null"] = marker
    ax.set_xticks(x, [_label(m) for m in models], rotation=25, ha="right", fontsize=9)
    ax.set_xlim(-0.6, len(models) - 0.4)
    ax.grid(True, axis="y", alpha=0.3)
    return handles


def generalisation_figure(
    summary: pd.DataFrame,
    k: int,
    *,
    metric: str = _PRIMARY_METRIC,
    population: str = _UNOBSERVED,
    component: str = _CONDITION,
) -> Figure:
    """Generalisation to reach directions no model was trained on.

    Parameters
    ----------
    summary : DataFrame
        ``summary.csv`` of a study whose task holds directions out: its fit rows (``metric``
        r2; ``validation`` empty for the training directions, ``held_out_directions`` for the
        held-out ones) and its similarity rows. One sweep cell is drawn (see the module notes).
    k : int
        Number of PCs of the similarity panel.
    metric, population, component : str, optional
        The similarity drawn: mean canonical correlation with the unobserved neurons, on the
        condition-specific activity, by default.

    Returns
    -------
    Figure
        Left and middle: each model's output R² from the clean and from noisy starts, on the
        training directions (solid bars) and on the held-out directions (hatched). Right: its
        similarity cross-validated over the training directions (solid) and on the held-out
        directions (hatched), each with its permutation null (◇) and the reference rows of the
        held-out directions as lines. Bars are means with 95% CIs; bar ``gid`` is the group
        label.
    """
    _check_columns(summary, (*_SUMMARY_REQUIRED, "start", "validation"), "summary")
    if not (summary["validation"] == _HELD_OUT_DIRECTIONS).any():
        raise ValueError(
            f"summary has no rows with validation {_HELD_OUT_DIRECTIONS!r}: the study's task "
            "holds no direction out (task.held_out_directions)"
        )
    fit = _quantity(where(summary, "summary", metric=FIT_METRIC), _VALUE)
    fit, cell = first_cell(fit)
    similarity = where(summary, "summary", metric=metric, k=k, population=population)
    similarity, _ = first_cell(where(similarity, "summary", component=component))
    models = _models_in(pd.concat([fit["model"], similarity["model"]]))
    trained = fit["validation"].isna()
    solid = {"alpha": 0.45}
    hatched = {"alpha": 0.45, "hatch": "//", "edgecolor": "0.2"}
    fig = Figure(figsize=(max(13.0, 3.3 * len(models)), 5.6), layout="constrained")
    axes = fig.subplots(1, 3, squeeze=False).ravel()
    handles: dict[str, object] = {}
    for ax, start in zip(axes[:2], (_CLEAN, _NOISY), strict=True):
        rows = fit[fit["start"] == start]
        groups = [
            ("training directions", rows[trained.loc[rows.index]], None, solid),
            ("held-out directions", rows[~trained.loc[rows.index]], None, hatched),
        ]
        handles.update(_paired_bars(ax, models, groups))
        ax.set_title(f"output R², {start} start", fontsize=11)
        ax.set_ylabel("R² of the observed muscles")
    groups = []
    for label, validation, style in (
        ("training directions", _CROSS_VALIDATED, solid),
        ("held-out directions", _HELD_OUT_DIRECTIONS, hatched),
    ):
        rows = similarity[similarity["validation"] == validation]
        groups.append((label, _quantity(rows, _VALUE), _quantity(rows, _NULL_MEAN), style))
    handles.update(_paired_bars(axes[2], models, groups))
    handles.update(_reference_lines(axes[2], groups[1][1]))
    axes[2].set_title(
        f"similarity to the {_panel_title(population, component)}\n(solid: cross-validated "
        "on the training directions)",
        fontsize=10,
    )
    axes[2].set_ylabel(f"{study.metric(metric).label}, k = {k}")
    fig.suptitle(
        f"Generalisation to held-out reach directions\n{describe_run(cell)}; bars = mean ± "
        f"95% CI{_replicates(fit)}, ◇ = permutation null mean",
        fontsize=12,
    )
    labels = {
        "training directions": "training directions",
        "held-out directions": "held-out directions",
        "null": "permutation null (mean)",
        **{name: f"{_label(name)}, held out" for name in study.REFERENCES},
    }
    shown = [h for h in labels if h in handles]
    _bottom_legend(fig, [handles[h] for h in shown], [labels[h] for h in shown])
    return fig


def mechanism_figure(
    spectra: Mapping[str, np.ndarray],
    traces: Mapping[str, np.ndarray],
    time_ms: np.ndarray,
    window_ms: float,
    run: Mapping[str, object],
) -> Figure:
    """The mechanism of one run's networks: linearised dynamics at rest and return to rest.

    Parameters
    ----------
    spectra : mapping of name to complex ndarray
        Eigenvalues (s^-1) of each network's Jacobian at rest: the SOC's of every condition
        together, each model's one.
    traces : mapping of name to ndarray, shape (S,)
        Each network's RMS rate deviation from rest over units and conditions at every step
        from movement onset, relative to its RMS over the movement window.
    time_ms : ndarray, shape (S,)
        Time of each step from movement onset, ms.
    window_ms : float
        End of the trial's window (movement, then rest), ms: the free run starts there.
    run : mapping
        The run's axes (the title).

    Returns
    -------
    Figure
        Left: the spectra on one set of axes (Re, Im in s^-1; the dashed line is Re = 0, the
        dotted one the slow-mode bound). Right: the traces, log scale, with the window's end.
    """
    fig = Figure(figsize=(13.0, 5.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    for name, eig in spectra.items():
        eig = np.asarray(eig)
        left.scatter(
            eig.real, eig.imag, s=10, alpha=0.6, color=model_color(name), label=_label(name)
        )
    left.axvline(0.0, color="0.3", ls="--", lw=1)
    left.axvline(-1.0, color="0.5", ls=":", lw=1)
    left.set_xlabel("Re λ (1/s)")
    left.set_ylabel("Im λ (1/s)")
    left.set_title("Jacobian eigenvalues at rest (dotted: time constant 1 s)", fontsize=11)
    for name, trace in traces.items():
        right.semilogy(time_ms, trace, color=model_color(name), label=_label(name))
    right.axvline(window_ms, color="0.3", ls="--", lw=1)
    right.set_xlabel("time from movement onset (ms); dashed: end of trial, input off")
    right.set_ylabel("RMS deviation from rest / movement RMS")
    right.set_title("return to rest in a free run", fontsize=11)
    handles, labels = left.get_legend_handles_labels()
    _bottom_legend(fig, handles, labels)
    fig.suptitle(f"Mechanism of one run: {describe_run(run)}", fontsize=12)
    return fig


def axis_figure(
    summary: pd.DataFrame,
    axis_name: str,
    k: int,
    *,
    populations: Sequence[str] = (_UNOBSERVED,),
    metric: str = _PRIMARY_METRIC,
    validation: str = _CROSS_VALIDATED,
) -> Figure:
    """Similarity against one swept axis, one line per model with its 95% CI band.

    Parameters
    ----------
    summary : DataFrame
        ``summary.csv`` (columns as for :func:`headline_figure`, plus ``axis_name``). Rows of
        quantity ``value``; every other axis at its first value (see the module notes).
    axis_name : str
        The swept axis on the horizontal axis (one of :data:`hintforce.study.AXIS_NAMES`).
    k : int
        Number of PCs (the study's primary k).
    populations : sequence of str, optional
        One row of panels each. The unobserved neurons by default; against the neuron
        fraction pass also :data:`hintforce.study.HELD_OUT` (the same neurons at every
        fraction).
    metric, validation : str, optional
        Mean canonical correlation, cross-validated, by default.

    Returns
    -------
    Figure
        Rows = populations, columns = activity components (full, condition). Per model a line
        through its means at the axis values (``gid`` the model name) and a band from
        ``ci_low`` to ``ci_high`` (``gid`` ``"<model>/band"``); reference rows as lines in
        their styles.
    """
    study.axis(axis_name)
    _check_columns(summary, [axis_name], "summary")
    rows = _quantity(_similarity_rows(summary, k, metric, validation, populations), _VALUE)
    rows, cell = first_cell(rows, vary=(axis_name,))
    if rows.empty:
        raise ValueError(f"summary has no rows of quantity {_VALUE!r} with a {axis_name} value")
    present = [p for p in populations if p in set(rows["population"])]
    components = _components(rows)
    values = np.sort(rows[axis_name].unique().astype(float))

    fig = Figure(
        figsize=(max(9.0, 4.6 * len(components)), 3.9 * len(present) + 1.8), layout="constrained"
    )
    axes = fig.subplots(len(present), len(components), sharex=True, sharey=True, squeeze=False)
    handles: dict[str, Line2D] = {}
    for i, population in enumerate(present):
        for j, component in enumerate(components):
            ax = axes[i, j]
            panel = _component_rows(rows[rows["population"] == population], component)
            handles.update(_curves(ax, panel, axis_name))
            ax.set_title(_panel_title(population, component), fontsize=11)
            ax.set_xticks(values, [study.axis(axis_name).label(v) for v in values])
            ax.set_xlabel(_axis_label(axis_name))
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.grid(True, axis="y", alpha=0.3)
        axes[i, 0].set_ylabel(_similarity_label(metric, validation))
    fig.suptitle(
        f"Similarity to the SOC against {axis_name.replace('_', ' ')}: "
        f"{study.metric(metric).label}, k = {k}\n{describe_run(cell) or 'one cell'}; "
        f"band = 95% CI{_replicates(rows)}",
        fontsize=12,
    )
    _bottom_legend(fig, _ordered_handles(handles))
    return fig


def _fit_points(
    summary: pd.DataFrame,
    fit: pd.DataFrame | None,
    axis_name: str,
    cell: Mapping[str, object],
    start: str,
) -> pd.DataFrame:
    """Output R² per model and value of ``axis_name`` in ``cell``: columns ``mean, ci_low,
    ci_high``, indexed by (model, axis value).

    Without ``fit``, the fit rows of ``summary`` (metric :data:`FIT_METRIC`) of the cell
    itself. With the fit table, the mean over its runs in the cell (over the seeds and any
    axis the cell pools), without an interval.
    """
    if fit is None:
        rows = _quantity(where(summary, "summary", metric=FIT_METRIC, start=start), _VALUE)
        for name, value in cell.items():
            rows = rows[equals(rows[name], value)]
        rows = rows.dropna(subset=[axis_name])
        if rows.empty:
            raise ValueError(f"summary has no {FIT_METRIC} rows of the cell {describe_run(cell)}")
        low, high = _interval(rows)
        return rows.assign(ci_low=low, ci_high=high).set_index(["model", axis_name])[
            ["mean", "ci_low", "ci_high"]
        ]
    _check_columns(fit, ["model", "start", FIT_METRIC, axis_name], "fit")
    runs = where(fit, "fit", start=start)
    for name, value in cell.items():
        if name in runs.columns and not pd.isna(value):
            runs = runs[equals(runs[name], value)]
    means = runs.groupby(["model", axis_name])[FIT_METRIC].mean().rename("mean").to_frame()
    return means.assign(ci_low=np.nan, ci_high=np.nan)


def _tradeoff_curve(
    ax: Axes, rows: pd.DataFrame, r2: pd.DataFrame, name: str, axis: study.Axis
) -> Line2D | None:
    """One model's similarity (``rows``) against its output R² (``r2``, from
    :func:`_fit_points`), means with their 95% CIs: a line through the axis values, each
    annotated, for a model that depends on ``axis``, else one hollow square at its first value.
    Returns the line (``gid`` the model name), or None if no R² matches."""
    sweeps = name in study.MODEL_NAMES and axis.name in study.model(name).axes
    curve = rows[rows["model"] == name].sort_values(axis.name)
    if not sweeps:
        curve = curve[curve[axis.name] == rows[axis.name].min()]
    keys = [(name, v) for v in curve[axis.name]]
    found = np.array([key in r2.index for key in keys], dtype=bool)
    if not found.any():
        return None
    curve = curve[found]
    xs = r2.loc[[key for key, ok in zip(keys, found, strict=True) if ok]]
    x = xs["mean"].to_numpy(float)
    y = curve["mean"].to_numpy(float)
    color = model_color(name)
    _ci_errorbars(
        ax, x, y, x_ci=_interval(xs), y_ci=_interval(curve), ecolor=color, alpha=0.6, capsize=3
    )
    (line,) = ax.plot(
        x,
        y,
        color=color,
        marker="o" if sweeps else "s",
        markersize=7,
        markerfacecolor=color if sweeps else "white",
        linestyle="-" if sweeps else "none",
        linewidth=1.2,
        label=_label(name) if sweeps else f"{_label(name)} (no {axis.key})",
    )
    line.set_gid(name)
    if sweeps:
        for xi, yi, v in zip(x, y, curve[axis.name], strict=True):
            ax.annotate(
                f"{axis.key} {axis.label(v)}",
                (xi, yi),
                xytext=(5, 4),
                textcoords="offset points",
                fontsize=8,
                color=color,
            )
    return line


def tradeoff_figure(
    summary: pd.DataFrame,
    axis_name: str,
    k: int,
    *,
    fit: pd.DataFrame | None = None,
    population: str = _UNOBSERVED,
    component: str = _CONDITION,
    metric: str = _PRIMARY_METRIC,
    validation: str = _CROSS_VALIDATED,
    start: str = _NOISY,
) -> Figure:
    """Similarity against output fit along a swept axis (the hint gain): the trade-off.

    Parameters
    ----------
    summary : DataFrame
        ``summary.csv`` (as for :func:`axis_figure`), with its fit rows (metric ``r2``, column
        ``start``) unless ``fit`` is given.
    axis_name : str
        The swept axis (the hint gain).
    k : int
        Number of PCs (the study's primary k).
    fit : DataFrame, optional
        ``fit.csv`` (axis columns, ``model, start, r2``): if given, the R² is its mean over the
        runs of the drawn cell (every run, gated or not) instead of the summary's fit rows
        (mean and 95% CI over the runs the fit gate kept, as the similarity).
    population, component, metric, validation : str, optional
        The similarity drawn: mean canonical correlation with the condition-specific activity
        of the unobserved neurons, cross-validated, by default.
    start : str, optional
        Start of the free-running evaluation whose R² is drawn (noisy by default).

    Returns
    -------
    Figure
        One panel: R² from ``start`` (horizontal) against the similarity (vertical), means
        with their 95% CIs. A model that depends on the axis is one point per axis value (a
        line in axis order, ``gid`` the model name, each point annotated with the value); a
        model that does not is one hollow square (``gid`` the model name).
    """
    axis = study.axis(axis_name)
    _check_columns(summary, [axis_name], "summary")
    rows = _similarity_rows(summary, k, metric, validation, [population], component)
    rows, cell = first_cell(_quantity(rows, _VALUE), vary=(axis_name,))
    r2 = _fit_points(summary, fit, axis_name, cell, start)

    fig = Figure(figsize=(8.5, 6.4), layout="constrained")
    ax = fig.subplots()
    handles: dict[str, Line2D] = {}
    for name in _models_in(rows["model"]):
        line = _tradeoff_curve(ax, rows, r2, name, axis)
        if line is not None:
            handles[name] = line
    if not handles:
        raise ValueError(f"no model has both a similarity and a {start}-start R² row")
    source = "mean over runs" if fit is not None else "mean ± 95% CI"
    ax.set_xlabel(f"output R², {start} start ({source})")
    ax.set_ylabel(_similarity_label(metric, validation))
    ax.set_title(_panel_title(population, component), fontsize=11)
    ax.grid(True, alpha=0.3)
    fig.suptitle(
        f"Trade-off along {axis_name.replace('_', ' ')}: similarity vs output fit "
        f"({study.metric(metric).label}, k = {k})\n{describe_run(cell) or 'one cell'}; "
        f"similarity mean ± 95% CI{_replicates(rows)}",
        fontsize=12,
    )
    _bottom_legend(fig, _ordered_handles(handles))
    return fig


# ---------------------------------------------------------------------------------------------
# Recording


def _raster_panel(ax: Axes, counts: np.ndarray, n_shown: int) -> None:
    """Spike raster of one neuron in one condition: counts (n_trials, n_ms)."""
    shown = counts[:n_shown]
    for trial, row in enumerate(shown):
        ms = np.flatnonzero(row) + 0.5
        ax.vlines(ms, trial + 0.1, trial + 0.9, color="black", linewidth=0.8)
    ax.set_xlim(0, counts.shape[1])
    ax.set_ylim(0, len(shown))
    ax.set_ylabel("trial")
    ax.set_xlabel("time in the window (ms)")


def _psth_panel(ax: Axes, psth: np.ndarray, truth: np.ndarray, bin_ms: float) -> None:
    """PSTH (solid) and true rate (dashed) of one neuron in each condition: (C, T) each."""
    colors = condition_colors(psth.shape[0])
    t = (np.arange(psth.shape[1]) + 0.5) * bin_ms
    for c in range(psth.shape[0]):
        ax.plot(t, psth[c], color=colors[c], **_TRACE_STYLE)
        ax.plot(t[: truth.shape[1]], truth[c], color=colors[c], **_TARGET_STYLE)
    ax.set_xlabel("time in the window (ms)")
    ax.set_ylabel("rate (Hz)")


def recording_figure(
    counts: np.ndarray,
    psth: np.ndarray,
    truth: np.ndarray,
    neuron: int,
    bin_ms: float,
    summary: pd.DataFrame,
    paired: pd.DataFrame,
    co_smoothing: pd.DataFrame,
    k: int,
    *,
    n_shown: int = 20,
) -> Figure:
    """The spike recording: an example neuron, and the answer against the number of trials.

    Parameters
    ----------
    counts : ndarray, shape (n_trials, n_ms)
        The example neuron's 1 ms spike counts in the first condition of the example run.
    psth : ndarray, shape (n_conditions, n_times)
        Its recorded PSTH in every condition (Hz).
    truth : ndarray, shape (n_conditions, n_times_movement)
        Its true rate over the movement window (Hz).
    neuron : int
        Its index among the circuit's neurons (for the title).
    bin_ms : float
        The rate grid, ms.
    summary, paired : DataFrame
        ``summary.csv`` and ``paired_tests.csv`` (with the ``n_trials`` axis).
    co_smoothing : DataFrame
        ``co_smoothing_summary.csv``.
    k : int
        Number of PCs of the similarity (the study's primary k).
    n_shown : int
        Trials shown in the raster.

    Returns
    -------
    Figure
        Top: the raster and the PSTHs (solid) beside the true rates (dashed). Bottom, against
        ``n_trials`` (every other axis at its first value): condition-specific cross-validated
        CCA to the unobserved neurons per model (mean, 95% CI band) with the data baseline and
        the trial-split ceiling (the observed neurons' two trial halves); the contrasts' mean
        differences (filled where the Holm-adjusted t-test p < 0.05); co-smoothing bits per
        spike per model and the smoothing baseline.
    """
    axis = study.N_TRIALS
    fig = Figure(figsize=(15.0, 8.6), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 1.15])
    ax_raster, ax_psth = top.subplots(1, 2)
    _raster_panel(ax_raster, np.asarray(counts), n_shown)
    shown = min(n_shown, len(counts))
    ax_raster.set_title(f"neuron {neuron}, direction 0: {shown} of {len(counts)} trials")
    _psth_panel(ax_psth, np.asarray(psth), np.asarray(truth), bin_ms)
    ax_psth.set_title("recorded PSTH (solid) and true rate (dashed), every direction")
    ax_sim, ax_diff, ax_bps = bottom.subplots(1, 3)

    rows = _quantity(summary, _VALUE)
    rows = rows[(rows["metric"] == _PRIMARY_METRIC) & (rows["k"] == k)]
    rows = rows[(rows["validation"] == _CROSS_VALIDATED) & (rows["component"] == _CONDITION)]
    truth_rows, cell = first_cell(rows[rows["population"] == _UNOBSERVED], vary=(axis,))
    handles = _curves(ax_sim, truth_rows, axis)
    ceiling, _ = first_cell(rows[rows["model"] == study.TRIAL_SPLIT], vary=(axis,))
    handles.update(_reference_lines(ax_sim, ceiling, axis))
    ax_sim.set_title(f"similarity to the unobserved neurons (CCA, k = {k})")
    ax_sim.set_ylabel(_similarity_label(_PRIMARY_METRIC, _CROSS_VALIDATED))

    tests = paired[(paired["metric"] == _PRIMARY_METRIC) & (paired["k"] == k)]
    tests = tests[(tests["validation"] == _CROSS_VALIDATED) & (tests["component"] == _CONDITION)]
    tests, _ = first_cell(tests[tests["population"] == _UNOBSERVED], vary=(axis,))
    for a, b in study.CONTRASTS:
        part = tests[tests["contrast"] == f"{a}-{b}"].sort_values(axis)
        x = part[axis].to_numpy(float)
        y = part["mean_difference"].to_numpy(float)
        significant = part["holm_ttest_p"].to_numpy(float) < 0.05
        color = model_color(b)
        (line,) = ax_diff.plot(x, y, color=color, linewidth=1.6)
        line.set_gid(f"{a}-{b}")
        faces = [color if s else "white" for s in significant]
        ax_diff.scatter(x, y, s=36, edgecolors=color, facecolors=faces, zorder=3)
    ax_diff.axhline(0.0, color="0.4", linewidth=0.8)
    ax_diff.set_title("FFH minus FF (blue), shuffled (pink), mean hints (orange)")
    ax_diff.set_ylabel("mean difference of the similarity")

    bps, _ = first_cell(co_smoothing, vary=(axis,))
    for name in (*study.MODEL_NAMES, study.SMOOTHING_BASELINE):
        curve = bps[bps["model"] == name].sort_values(axis)
        if curve.empty:
            continue
        baseline = name == study.SMOOTHING_BASELINE
        style = {"linestyle": "--"} if baseline else {"marker": "o", "markersize": 4}
        xs, ys = curve[axis].to_numpy(float), curve["mean"].to_numpy(float)
        (line,) = ax_bps.plot(xs, ys, color=model_color(name), **style)
        line.set_gid(f"co_smoothing/{name}")
    ax_bps.set_title("co-smoothing on held-out recorded neurons")
    ax_bps.set_ylabel("bits per spike (test trials)")
    values = np.sort(truth_rows[axis].unique().astype(float))
    for ax in (ax_sim, ax_diff, ax_bps):
        ax.set_xscale("log")
        ax.set_xticks(values, [study.axis(axis).label(v) for v in values])
        ax.minorticks_off()
        ax.set_xlabel("trials per direction")
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(
        f"Spike recording: {describe_run(cell) or 'one cell'}; dashed grey (right) = smoothing "
        "baseline",
        fontsize=12,
    )
    _bottom_legend(fig, _ordered_handles(handles))
    return fig
