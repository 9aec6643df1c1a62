"""Similarity across runs: the canonical-correlation spectra and the headline."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from hintforce import study
from hintforce.plots._draw import (
    _CROSS_VALIDATED,
    _FULL,
    _NULL_MEAN,
    _POPULATION_TITLES,
    _PRIMARY_METRIC,
    _UNOBSERVED,
    _VALUE,
    _bottom_legend,
    _check_columns,
    _ci_errorbars,
    _component_rows,
    _components,
    _curves,
    _interval,
    _label,
    _model_rows,
    _models_in,
    _null_markers,
    _ordered_handles,
    _panel_title,
    _quantity,
    _reference_lines,
    _replicates,
    _similarity_label,
    _similarity_rows,
    describe_run,
    model_color,
)
from hintforce.selection import first_cell, where

__all__ = ["cca_spectra_figure", "headline_figure"]

# Columns the spectra figure needs in its table (the others are optional).
_SPECTRA_REQUIRED = ("model", "population", "k", "index", "value")


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
        drawn (see :mod:`hintforce.plots`); rows of quantity ``value`` are the bars and those of
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
