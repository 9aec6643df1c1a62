"""Figures of one run: the trained networks' outputs and their latent trajectories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from hintforce import similarity as sim
from hintforce.plots._draw import (
    _TARGET_STYLE,
    _TRACE_STYLE,
    _as_array,
    _bottom_legend,
    _condition_lines,
    _grid,
    _label,
    _models_in,
    _panel_grid,
    _suptitle,
    _trace_handles,
    condition_colors,
)

__all__ = ["model_outputs_figure", "trajectories_figure"]


def _model_arrays(
    models: Mapping[str, np.ndarray], name: str, shape: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """Each model's 3-d array of ``models`` (called ``name``), its first dimensions ``shape``,
    in :func:`~hintforce.plots._draw._models_in` order."""
    if not models:
        raise ValueError(f"{name} must contain at least one model")
    return {m: _as_array(models[m], f"{name}[{m!r}]", 3, shape) for m in _models_in(models)}


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
