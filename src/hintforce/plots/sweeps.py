"""Similarity along a swept axis: against the axis, and against the output fit (trade-off)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from hintforce import study
from hintforce.plots import _draw
from hintforce.selection import FIT_METRIC, equals, first_cell, where

__all__ = ["axis_figure", "tradeoff_figure"]


def _axis_label(name: str) -> str:
    return f"{name.replace('_', ' ')} ({study.axis(name).key})"


def axis_figure(
    summary: pd.DataFrame,
    axis_name: str,
    k: int,
    *,
    populations: Sequence[str] = (_draw._UNOBSERVED,),
    metric: str = _draw._PRIMARY_METRIC,
    validation: str = _draw._CROSS_VALIDATED,
) -> Figure:
    """Similarity against one swept axis, one line per model with its 95% CI band.

    Parameters
    ----------
    summary : DataFrame
        ``summary.csv`` (columns as for :func:`~hintforce.plots.headline_figure`, plus
        ``axis_name``). Rows of quantity ``value``; every other axis at its first value (see
        :mod:`hintforce.plots`).
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
    _draw._check_columns(summary, [axis_name], "summary")
    rows = _draw._quantity(
        _draw._similarity_rows(summary, k, metric, validation, populations), _draw._VALUE
    )
    rows, cell = first_cell(rows, vary=(axis_name,))
    if rows.empty:
        raise ValueError(
            f"summary has no rows of quantity {_draw._VALUE!r} with a {axis_name} value"
        )
    present = [p for p in populations if p in set(rows["population"])]
    components = _draw._components(rows)
    values = np.sort(rows[axis_name].unique().astype(float))

    fig = Figure(
        figsize=(max(9.0, 4.6 * len(components)), 3.9 * len(present) + 1.8), layout="constrained"
    )
    axes = fig.subplots(len(present), len(components), sharex=True, sharey=True, squeeze=False)
    handles: dict[str, Line2D] = {}
    for i, population in enumerate(present):
        for j, component in enumerate(components):
            ax = axes[i, j]
            panel = _draw._component_rows(rows[rows["population"] == population], component)
            handles.update(_draw._curves(ax, panel, axis_name))
            ax.set_title(_draw._panel_title(population, component), fontsize=11)
            ax.set_xticks(values, [study.axis(axis_name).label(v) for v in values])
            ax.set_xlabel(_axis_label(axis_name))
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.grid(True, axis="y", alpha=0.3)
        axes[i, 0].set_ylabel(_draw._similarity_label(metric, validation))
    fig.suptitle(
        f"Similarity to the SOC against {axis_name.replace('_', ' ')}: "
        f"{study.metric(metric).label}, k = {k}\n{_draw.describe_run(cell) or 'one cell'}; "
        f"band = 95% CI{_draw._replicates(rows)}",
        fontsize=12,
    )
    _draw._bottom_legend(fig, _draw._ordered_handles(handles))
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
        rows = _draw._quantity(
            where(summary, "summary", metric=FIT_METRIC, start=start), _draw._VALUE
        )
        for name, value in cell.items():
            rows = rows[equals(rows[name], value)]
        rows = rows.dropna(subset=[axis_name])
        if rows.empty:
            raise ValueError(
                f"summary has no {FIT_METRIC} rows of the cell {_draw.describe_run(cell)}"
            )
        low, high = _draw._interval(rows)
        return rows.assign(ci_low=low, ci_high=high).set_index(["model", axis_name])[
            ["mean", "ci_low", "ci_high"]
        ]
    _draw._check_columns(fit, ["model", "start", FIT_METRIC, axis_name], "fit")
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
    color = _draw.model_color(name)
    _draw._ci_errorbars(
        ax,
        x,
        y,
        x_ci=_draw._interval(xs),
        y_ci=_draw._interval(curve),
        ecolor=color,
        alpha=0.6,
        capsize=3,
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
        label=_draw._label(name) if sweeps else f"{_draw._label(name)} (no {axis.key})",
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
    population: str = _draw._UNOBSERVED,
    component: str = _draw._CONDITION,
    metric: str = _draw._PRIMARY_METRIC,
    validation: str = _draw._CROSS_VALIDATED,
    start: str = _draw._NOISY,
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
    _draw._check_columns(summary, [axis_name], "summary")
    rows = _draw._similarity_rows(summary, k, metric, validation, [population], component)
    rows, cell = first_cell(_draw._quantity(rows, _draw._VALUE), vary=(axis_name,))
    r2 = _fit_points(summary, fit, axis_name, cell, start)

    fig = Figure(figsize=(8.5, 6.4), layout="constrained")
    ax = fig.subplots()
    handles: dict[str, Line2D] = {}
    for name in _draw._models_in(rows["model"]):
        line = _tradeoff_curve(ax, rows, r2, name, axis)
        if line is not None:
            handles[name] = line
    if not handles:
        raise ValueError(f"no model has both a similarity and a {start}-start R² row")
    source = "mean over runs" if fit is not None else "mean ± 95% CI"
    ax.set_xlabel(f"output R², {start} start ({source})")
    ax.set_ylabel(_draw._similarity_label(metric, validation))
    ax.set_title(_draw._panel_title(population, component), fontsize=11)
    ax.grid(True, alpha=0.3)
    fig.suptitle(
        f"Trade-off along {axis_name.replace('_', ' ')}: similarity vs output fit "
        f"({study.metric(metric).label}, k = {k})\n{_draw.describe_run(cell) or 'one cell'}; "
        f"similarity mean ± 95% CI{_draw._replicates(rows)}",
        fontsize=12,
    )
    _draw._bottom_legend(fig, _draw._ordered_handles(handles))
    return fig
