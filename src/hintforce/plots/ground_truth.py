"""The ground-truth figure: the SOC's EMG fit, example neurons, PCs and stability optimisation."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from hintforce import similarity as sim
from hintforce.plots._draw import (
    _TARGET_STYLE,
    _TRACE_STYLE,
    _as_array,
    _condition_lines,
    _grid,
    _panel_grid,
    _suptitle,
    _trace_handles,
    condition_colors,
)

__all__ = ["ground_truth_figure"]


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
