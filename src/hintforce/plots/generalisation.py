"""Generalisation to reach directions no model was trained on: output fit and similarity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from hintforce import study
from hintforce.plots._draw import (
    _CONDITION,
    _CROSS_VALIDATED,
    _NOISY,
    _NULL_MEAN,
    _PRIMARY_METRIC,
    _SUMMARY_REQUIRED,
    _UNOBSERVED,
    _VALUE,
    _bottom_legend,
    _check_columns,
    _ci_errorbars,
    _interval,
    _label,
    _model_rows,
    _models_in,
    _null_markers,
    _panel_title,
    _quantity,
    _reference_lines,
    _registered,
    _replicates,
    describe_run,
    model_color,
)
from hintforce.selection import FIT_METRIC, first_cell, where

__all__ = ["generalisation_figure"]

# Defaults of the generalisation figure, checked against the registry.
_CLEAN = _registered("clean", study.STARTS)
_HELD_OUT_DIRECTIONS = _registered(study.HELD_OUT_DIRECTIONS, study.VALIDATIONS)


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
        held-out ones) and its similarity rows. One sweep cell is drawn (see
        :mod:`hintforce.plots`).
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
