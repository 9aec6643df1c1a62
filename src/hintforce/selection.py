"""Picking rows out of the study's tables: the one selection layer of the findings, the
figures and the report.

A table of the study holds every sweep cell (a combination of the axes' values other than the
seed) and, in ``summary.csv`` and ``paired_tests.csv``, rows pooled over an axis: their
``n_over`` names the axis pooled over (``seed`` within a circuit, ``ground_truth_seed`` across
circuits), and in rows pooled over an axis that axis's column is empty.

* :func:`select`: the rows with given values (every named column must exist).
* :func:`where`: the same for columns a table may lack (a missing column is no condition), and
  no row left is an error naming the conditions.
* :func:`first_cell`: the rows of one sweep cell, every axis at its first (smallest) value.
* :func:`fit_rows`: the output-R² rows of the statistics tables (metric ``r2``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hintforce import study

__all__ = ["FIT_METRIC", "equals", "first_cell", "fit_rows", "select", "where"]

#: Metric name of the fit rows of ``summary.csv`` and ``paired_tests.csv``: the fit table's R²
#: column. R² improves when it rises.
FIT_METRIC = "r2"
if FIT_METRIC not in study.FIT_COLUMNS:
    raise ImportError(f"the fit table has no column {FIT_METRIC!r}: {study.FIT_COLUMNS}")


def equals(column: pd.Series, value) -> np.ndarray:
    """Where ``column`` equals ``value``, as a plain boolean array (a missing value, NaN or
    ``pd.NA`` of a nullable column, equals nothing but a missing ``value``)."""
    if pd.isna(value):
        return column.isna().to_numpy()
    return column.eq(value).fillna(False).to_numpy(dtype=bool)


def select(table: pd.DataFrame, **keys) -> pd.DataFrame:
    """The rows of ``table`` whose every ``column`` equals its ``value`` (possibly none)."""
    mask = pd.Series(True, index=table.index)
    for column, value in keys.items():
        mask &= table[column] == value
    return table[mask]


def where(table: pd.DataFrame, name: str, **conditions) -> pd.DataFrame:
    """Rows of ``table`` matching every ``column=value``; a column the table lacks is not a
    condition (optional columns). No rows left is an error naming ``name`` and the
    conditions."""
    mask = np.ones(len(table), dtype=bool)
    for column, value in conditions.items():
        if column in table.columns:
            mask &= equals(table[column], value)
    if not mask.any():
        shown = ", ".join(f"{c} = {v!r}" for c, v in conditions.items() if c in table.columns)
        raise ValueError(f"{name} has no rows with {shown}")
    return table[mask]


def first_cell(
    table: pd.DataFrame, vary: Sequence[str] = (), n_over: str | None = None
) -> tuple[pd.DataFrame, dict[str, object]]:
    """The rows of one sweep cell: every axis column but ``vary`` at its first value.

    Rows with a missing ``vary`` value are dropped. With ``n_over``, only the rows summarised
    over that axis are kept. Without, rows pooled over an axis (their ``n_over`` names an axis
    column, empty in those rows) are kept in preference to the per-value rows of that axis.

    Returns
    -------
    rows : pandas.DataFrame
    cell : dict
        Axis -> the cell's value, NaN for an axis pooled over.
    """
    table = table.dropna(subset=list(vary))
    axes = [a for a in study.AXIS_NAMES if a in table.columns and a not in vary]
    if n_over is not None:
        table = table[table["n_over"] == n_over]
    elif "n_over" in table.columns:
        pooled = table["n_over"].isin(axes).to_numpy()
        if pooled.any():
            table = table[pooled]
    cell: dict[str, object] = {}
    for name in axes:
        values = table[name].dropna()
        if values.empty:
            cell[name] = np.nan
            continue
        cell[name] = first = sorted(values.unique())[0]
        table = table[equals(table[name], first)]
    return table, cell


def fit_rows(table: pd.DataFrame, start: str, held_out: bool | None = None) -> pd.DataFrame:
    """The output-R² rows of one start of ``summary.csv`` or ``paired_tests.csv``: on the
    held-out directions (``held_out=True``), on the training directions (False) or both
    (None)."""
    rows = select(table, metric=FIT_METRIC, start=start)
    if held_out is None:
        return rows
    on_held_out = rows["validation"] == study.HELD_OUT_DIRECTIONS
    return rows[on_held_out if held_out else rows["validation"].isna()]
