"""Aggregate statistics over seeds: group summaries and paired model comparisons.

Both functions take a tidy table (one row per observation, e.g. the similarity table with
columns ``neuron_fraction, muscle_fraction, seed, model, population, metric, k, value``) and
return a tidy table with one row per group.

* :func:`summarise`: n, mean, sample standard deviation (``ddof=1``) and the 95% Student-t
  interval ``mean +/- t_{0.975, n-1} * sd / sqrt(n)``.
* :func:`paired_tests`: model ``a`` vs model ``b`` paired on a key (the seed: FF, FFH and the
  floor of one seed share their initial weights, so they are paired by construction), with the
  mean difference ``a - b``, wins and ties, a two-sided Wilcoxon signed-rank test and a paired
  t-test.

Undefined statistics are NaN, by rule rather than by accident (scipy is not called where its
answer would be NaN or a warning), so neither function emits RuntimeWarnings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.stats

__all__ = ["CONFIDENCE", "WILCOXON_ZERO_METHOD", "missing_runs", "paired_tests", "summarise"]

#: Coverage of the t-interval of :func:`summarise`.
CONFIDENCE = 0.95
#: How :func:`scipy.stats.wilcoxon` treats zero differences (ties between ``a`` and ``b``):
#: ``"wilcox"`` drops them before ranking (Wilcoxon's original rule); they are reported in the
#: ``ties`` column instead.
WILCOXON_ZERO_METHOD = "wilcox"
# Differences whose spread around their mean is within this many machine epsilons of the mean
# have zero variance for the t-test (scipy's own cancellation check uses 10 eps).
_CONSTANT_EPS = 100 * np.finfo(np.float64).eps

_GROUP = "__all__"


def _as_columns(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def _check_columns(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(
            f"{what}: column(s) {missing} not in the table (columns: {list(table.columns)})"
        )


def _grouped(table: pd.DataFrame, by: list[str]):
    """Group by ``by`` (NaN keys kept, sorted); no keys -> the whole table as one group."""
    if by:
        return table.groupby(by, sort=True, dropna=False)
    return table.groupby(np.zeros(len(table), dtype=np.int64), sort=False)


def summarise(table: pd.DataFrame, by: str | Sequence[str], value: str = "value") -> pd.DataFrame:
    """Mean, standard deviation and 95% t-interval of ``value`` per group.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy table, one observation per row.
    by : str or sequence of str
        Grouping columns (may be empty: one row for the whole table). Groups are sorted; NaN
        keys form their own group.
    value : str, optional
        Column to summarise.

    Returns
    -------
    pandas.DataFrame
        Columns ``by + [n, mean, sd, ci_low, ci_high]``, one row per group. ``n`` counts the
        non-NaN values (NaN values are ignored); ``sd`` uses ``ddof=1``; the interval is
        ``mean -/+ t_{0.975, n-1} * sd / sqrt(n)``. With ``n < 2`` the sd and the interval are
        NaN (undefined from one value), with ``n == 0`` the mean too.
    """
    by = _as_columns(by)
    _check_columns(table, [*by, value], "summarise")
    values = pd.to_numeric(table[value]).astype(np.float64)
    frame = table[by].assign(**{_GROUP: values})
    stats = _grouped(frame, by)[_GROUP].agg(["count", "mean", "std"])
    n = stats["count"].to_numpy(dtype=np.int64)
    mean = stats["mean"].to_numpy(dtype=np.float64)
    sd = np.where(n >= 2, stats["std"].to_numpy(dtype=np.float64), np.nan)
    half = np.full(n.shape, np.nan)
    defined = n >= 2
    t = scipy.stats.t.ppf(0.5 + CONFIDENCE / 2, n[defined] - 1)
    half[defined] = t * sd[defined] / np.sqrt(n[defined])
    out = stats.index.to_frame(index=False) if by else pd.DataFrame(index=range(len(stats)))
    out["n"] = n
    out["mean"] = mean
    out["sd"] = sd
    out["ci_low"] = mean - half
    out["ci_high"] = mean + half
    return out.reset_index(drop=True)


def _has_zero_variance(d: np.ndarray) -> bool:
    mean = d.mean()
    return bool(np.max(np.abs(d - mean)) <= _CONSTANT_EPS * abs(mean))


def _paired_row(a_values: np.ndarray, b_values: np.ndarray) -> dict[str, float | int]:
    ok = np.isfinite(a_values) & np.isfinite(b_values)
    a_values, b_values = a_values[ok], b_values[ok]
    d = a_values - b_values
    n = d.size
    row: dict[str, float | int] = {
        "n": n,
        "mean_difference": float(d.mean()) if n else np.nan,
        "wins": int(np.count_nonzero(d > 0)),
        "ties": int(np.count_nonzero(d == 0)),
        "wilcoxon_p": np.nan,
        "ttest_p": np.nan,
    }
    if n >= 2 and np.any(d != 0):
        row["wilcoxon_p"] = float(
            scipy.stats.wilcoxon(
                a_values, b_values, zero_method=WILCOXON_ZERO_METHOD, alternative="two-sided"
            ).pvalue
        )
    if n >= 2 and not _has_zero_variance(d):
        row["ttest_p"] = float(scipy.stats.ttest_rel(a_values, b_values).pvalue)
    return row


def paired_tests(
    table: pd.DataFrame,
    a: str = "ffh",
    b: str = "ff",
    pair_on: str = "seed",
    by: str | Sequence[str] = ("population", "metric", "k"),
    model_col: str = "model",
    value: str = "value",
) -> pd.DataFrame:
    """Paired comparison of model ``a`` against model ``b`` per group.

    Within each group of ``by``, the rows of ``a`` and of ``b`` are matched on ``pair_on``;
    only keys present for both (with finite values) form pairs, unmatched ones are ignored.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy table with columns ``by``, ``pair_on``, ``model_col`` and ``value``.
    a, b : str
        The two models (values of ``model_col``); differences are ``a - b``.
    pair_on : str
        Column whose equal values make a pair (the seed).
    by : str or sequence of str
        Grouping columns, e.g. ``("population", "metric", "k", "neuron_fraction")``.
    model_col, value : str
        Model and value columns.

    Returns
    -------
    pandas.DataFrame
        Columns ``by + [n, mean_difference, wins, ties, wilcoxon_p, ttest_p]``, one row per
        group holding ``a`` or ``b`` (sorted): ``n`` matched pairs, the mean of ``a - b``,
        ``wins`` pairs with ``a > b``, ``ties`` pairs with ``a == b``, and two-sided p-values.

        * ``wilcoxon_p``: :func:`scipy.stats.wilcoxon` on the pairs, two-sided,
          ``zero_method="wilcox"`` (ties dropped before ranking), scipy's default ``method``
          (exact for n <= 50 without ties; with ties an exhaustive permutation test for
          n <= 13, else the normal approximation). NaN if ``n < 2`` or every difference is
          zero (no signed ranks to test). Note that with n pairs the smallest exact p is
          ``2 / 2**n`` (0.0625 for 5 seeds).
        * ``ttest_p``: :func:`scipy.stats.ttest_rel`. NaN if ``n < 2`` or the differences have
          zero variance (constant to within 100 machine epsilons of their mean), where t is
          undefined or infinite.

    Raises
    ------
    ValueError
        If a column is missing, or a (group, ``pair_on``, model) combination has more than
        one row (the pairing would be ambiguous).
    """
    by = _as_columns(by)
    keys = [*by, pair_on]
    _check_columns(table, [*keys, model_col, value], "paired_tests")
    if a == b:
        raise ValueError(f"a and b must be different models, got {a!r} twice")
    sub = table.loc[table[model_col].isin([a, b]), [*keys, model_col, value]]
    duplicated = sub.duplicated([*keys, model_col], keep=False)
    if duplicated.any():
        example = sub.loc[duplicated].iloc[0]
        raise ValueError(
            f"paired_tests: more than one row per ({', '.join(keys)}, {model_col}), e.g. "
            f"{dict(example[[*keys, model_col]])}; add the distinguishing column to by"
        )
    values = pd.to_numeric(sub[value]).astype(np.float64)
    sub = sub.assign(**{value: values})
    left = sub.loc[sub[model_col] == a, [*keys, value]].rename(columns={value: "_a"})
    right = sub.loc[sub[model_col] == b, [*keys, value]].rename(columns={value: "_b"})
    merged = left.merge(right, on=keys, how="outer")
    columns = [*by, "n", "mean_difference", "wins", "ties", "wilcoxon_p", "ttest_p"]
    rows = []
    for group, frame in _grouped(merged, by):
        key = group if isinstance(group, tuple) else (group,)
        row = dict(zip(by, key, strict=False)) if by else {}
        row.update(_paired_row(frame["_a"].to_numpy(), frame["_b"].to_numpy()))
        rows.append(row)
    out = pd.DataFrame(rows, columns=columns)
    for column in ("n", "wins", "ties"):
        out[column] = out[column].astype(np.int64)
    for column in ("mean_difference", "wilcoxon_p", "ttest_p"):
        out[column] = out[column].astype(np.float64)
    return out


def missing_runs(table: pd.DataFrame, expected: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Rows of ``expected`` (combinations of ``keys``) that have no row in ``table``.

    Used before summarising so that statistics never silently cover fewer seeds, fractions or
    models than the study configured.

    Parameters
    ----------
    table : pandas.DataFrame
        The observations, with at least the columns ``keys``.
    expected : pandas.DataFrame
        One row per expected combination of ``keys``.
    keys : sequence of str

    Returns
    -------
    pandas.DataFrame
        The missing combinations, columns ``keys``, in the order of ``expected``.
    """
    keys = list(keys)
    _check_columns(table, keys, "table")
    _check_columns(expected, keys, "expected")
    present = table[keys].drop_duplicates()
    merged = expected[keys].merge(present, on=keys, how="left", indicator=True)
    return merged.loc[merged["_merge"] == "left_only", keys].reset_index(drop=True)
