"""What the figures of :mod:`hintforce.plots` share: colours, labels, defaults and drawings.

The registry's names as the figures show them (:data:`MODEL_COLORS`, :data:`REFERENCE_STYLES`,
:data:`MODEL_LABELS`, :func:`condition_colors`, :func:`describe_run`), the checks of the arrays
and tables a figure is given, the reading of ``summary.csv`` (one quantity, its intervals, one
row per model) and the drawings several figure families repeat: grids of panels, per-condition
traces, 95% CI bars and bands, reference lines and legends.
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

from hintforce import study
from hintforce.selection import where

__all__ = [
    "MODEL_COLORS",
    "MODEL_LABELS",
    "REFERENCE_STYLES",
    "condition_colors",
    "describe_run",
    "model_color",
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
_FULL = _registered("full", study.COMPONENTS)
_CONDITION = _registered("condition", study.COMPONENTS)
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
