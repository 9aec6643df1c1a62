"""The spike recording: an example neuron, and the answer against the number of trials."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from hintforce import study
from hintforce.plots._draw import (
    _CONDITION,
    _CROSS_VALIDATED,
    _PRIMARY_METRIC,
    _TARGET_STYLE,
    _TRACE_STYLE,
    _UNOBSERVED,
    _VALUE,
    _bottom_legend,
    _curves,
    _ordered_handles,
    _quantity,
    _reference_lines,
    _similarity_label,
    condition_colors,
    describe_run,
    model_color,
)
from hintforce.selection import first_cell

__all__ = ["recording_figure"]


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


def _similarity_panel(
    ax_sim: Axes, summary: pd.DataFrame, k: int, axis: str
) -> tuple[dict[str, Line2D], pd.DataFrame, dict[str, object]]:
    """Condition-specific cross-validated similarity to the unobserved neurons against
    ``axis``, per model, with the data baseline and the trial-split ceiling. Returns the lines
    drawn (by name), the rows of the unobserved neurons and the cell drawn."""
    rows = _quantity(summary, _VALUE)
    rows = rows[(rows["metric"] == _PRIMARY_METRIC) & (rows["k"] == k)]
    rows = rows[(rows["validation"] == _CROSS_VALIDATED) & (rows["component"] == _CONDITION)]
    truth_rows, cell = first_cell(rows[rows["population"] == _UNOBSERVED], vary=(axis,))
    handles = _curves(ax_sim, truth_rows, axis)
    ceiling, _ = first_cell(rows[rows["model"] == study.TRIAL_SPLIT], vary=(axis,))
    handles.update(_reference_lines(ax_sim, ceiling, axis))
    ax_sim.set_title(f"similarity to the unobserved neurons (CCA, k = {k})")
    ax_sim.set_ylabel(_similarity_label(_PRIMARY_METRIC, _CROSS_VALIDATED))
    return handles, truth_rows, cell


def _contrasts_panel(ax_diff: Axes, paired: pd.DataFrame, k: int, axis: str) -> None:
    """Mean difference of each contrast against ``axis`` (filled where the Holm-adjusted
    t-test p < 0.05)."""
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


def _co_smoothing_panel(ax_bps: Axes, co_smoothing: pd.DataFrame, axis: str) -> None:
    """Co-smoothing bits per spike against ``axis``, per model and the smoothing baseline."""
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

    handles, truth_rows, cell = _similarity_panel(ax_sim, summary, k, axis)
    _contrasts_panel(ax_diff, paired, k, axis)
    _co_smoothing_panel(ax_bps, co_smoothing, axis)
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
