"""Statistics over seeds and circuits: summaries, paired model comparisons, the fit gate.

Generic tools, on any tidy table (one row per observation):

* :func:`summarise`: n, mean, sample standard deviation (``ddof=1``) and the 95% Student-t
  interval ``mean +/- t_{0.975, n-1} * sd / sqrt(n)`` per group.
* :func:`paired_tests`: model ``a`` vs model ``b`` paired on a key (the seed: the models of
  one run share their initial weights, so they are paired by construction), with the mean
  difference ``a - b``, wins (in the direction the metric improves) and ties, a two-sided
  Wilcoxon signed-rank test, a paired t-test and the smallest Wilcoxon p the pairs allow.
* :func:`holm`: Holm's step-down adjustment of a family of p-values.
* :func:`missing_runs`: expected combinations without a row.

The study's run check: :func:`check_runs` lists the configured model runs without similarity
rows and refuses them unless failed runs are allowed.

The study's tables (names from :mod:`hintforce.study`):

* :func:`fit_gate`: flags the model stores whose clean-start output R² reaches a threshold.
* :func:`summarise_study`: ``summary.csv``, per sweep cell and row key.
* :func:`paired_study`: ``paired_tests.csv``, per contrast of :data:`hintforce.study.CONTRASTS`.
* :func:`dynamics_distances`, :func:`summarise_dynamics`, :func:`paired_dynamics`: the
  mechanism measures of ``dynamics.csv`` per run, their distance to the SOC's, their summary
  and the contrasts on that distance (``dynamics_summary.csv``, ``dynamics_tests.csv``).

Both study tables hold the similarity rows and the **fit rows**: the output R² of each model
from the fit table, as rows whose ``metric`` is :data:`FIT_METRIC` (``"r2"``, higher is
better), whose ``start`` column names the start (clean, noisy) and whose population, ``k`` and
component are empty; their validation is empty for the training directions' R² and
``held_out_directions`` for the held-out directions' (when the task holds some out, the fit
table's ``directions`` column says which). Similarity rows have an empty ``start``. A model store is
placed on every run of the similarity table that uses it (a model trained for fewer axes than
a run has, e.g. FF across neuron fractions, is shared by those runs), so fit rows pair and
summarise per run exactly like similarity rows.

A model whose store fails the fit gate is excluded from every row of its run (similarity and
fit rows alike); reference rows (:data:`hintforce.study.REFERENCES`) never are.

Undefined statistics are NaN, by rule rather than by accident (scipy is not called where its
answer would be NaN or a warning), so no function emits RuntimeWarnings.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.stats

from hintforce import study
from hintforce.selection import FIT_METRIC

__all__ = [
    "CONFIDENCE",
    "FIT_METRIC",
    "QUANTITIES",
    "WILCOXON_ZERO_METHOD",
    "check_runs",
    "deciding_rows",
    "fit_gate",
    "holm",
    "missing_runs",
    "paired_study",
    "paired_tests",
    "dynamics_distances",
    "paired_dynamics",
    "summarise",
    "summarise_dynamics",
    "summarise_study",
]

#: Coverage of the t-interval of :func:`summarise`.
CONFIDENCE = 0.95
#: How :func:`scipy.stats.wilcoxon` treats zero differences (ties between ``a`` and ``b``):
#: ``"wilcox"`` drops them before ranking (Wilcoxon's original rule); they are reported in the
#: ``ties`` column instead.
WILCOXON_ZERO_METHOD = "wilcox"
# Differences whose spread around their mean is within this many machine epsilons of the mean
# have zero variance for the t-test (scipy's own cancellation check uses 10 eps).
_CONSTANT_EPS = 100 * np.finfo(np.float64).eps

# Columns of the similarity and fit tables (study.SIMILARITY_COLUMNS, study.FIT_COLUMNS).
_MODEL = "model"
_METRIC = "metric"
_VALIDATION = "validation"
_VALUE = "value"
_START = "start"
_QUANTITY = "quantity"
_R2 = "r2"
_GATE = "passes_fit_gate"
#: Columns of the similarity table summarised per row key (the ``quantity`` column).
QUANTITIES: tuple[str, ...] = (_VALUE, "null_mean", "above_null")
# The replicate axis (what per-circuit rows count) and the circuit axis (what cross-circuit
# rows count); a summary cell is every axis but the replicate.
_SEED = study.SEED
_CIRCUIT = study.GROUND_TRUTH_SEED
# Axes every table has; the spike-recording axes exist only in studies of spikes.
_REQUIRED_AXES = tuple(a.name for a in study.AXES if not a.spikes)
# The clean start on the training directions decides the fit gate.
_CLEAN = study.STARTS[0]
_DIRECTIONS = study.DIRECTIONS
_TRAIN = study.DIRECTION_SETS[0]
# Keys of an observation within a run, and of a paired comparison (no model: the contrast).
_KEYS = (*study.ROW_KEYS, _START)
_PAIR_KEYS = tuple(key for key in _KEYS if key != _MODEL)

_GROUP = "__value__"
_EXCLUDED = "__excluded__"
_A, _B = "__a__", "__b__"


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


def _describe(values) -> pd.DataFrame:
    """n, mean, sd and t-interval of each group of a grouped Series (index: the groups)."""
    stats = values.agg(["count", "mean", "std"])
    n = stats["count"].to_numpy(dtype=np.int64)
    mean = stats["mean"].to_numpy(dtype=np.float64)
    defined = n >= 2
    sd = np.where(defined, stats["std"].to_numpy(dtype=np.float64), np.nan)
    half = np.full(n.shape, np.nan)
    t = scipy.stats.t.ppf(0.5 + CONFIDENCE / 2, n[defined] - 1)
    half[defined] = t * sd[defined] / np.sqrt(n[defined])
    return pd.DataFrame(
        {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half},
        index=stats.index,
    )


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
    out = _describe(_grouped(frame, by)[_GROUP])
    return out.reset_index(drop=not by)


def _has_zero_variance(d: np.ndarray) -> bool:
    mean = d.mean()
    return bool(np.max(np.abs(d - mean)) <= _CONSTANT_EPS * abs(mean))


def _paired_row(
    a_values: np.ndarray, b_values: np.ndarray, higher_is_better: bool
) -> dict[str, float | int]:
    ok = np.isfinite(a_values) & np.isfinite(b_values)
    a_values, b_values = a_values[ok], b_values[ok]
    d = a_values - b_values
    n = d.size
    ties = int(np.count_nonzero(d == 0))
    row: dict[str, float | int] = {
        "n": n,
        "mean_difference": float(d.mean()) if n else np.nan,
        "wins": int(np.count_nonzero(d > 0 if higher_is_better else d < 0)),
        "ties": ties,
        "wilcoxon_p": np.nan,
        "ttest_p": np.nan,
        # all non-zero differences of one sign: the exact two-sided p is 2 / 2**(n - ties)
        "wilcoxon_min_p": min(1.0, 2.0 ** (1 - (n - ties))),
    }
    if n >= 2 and ties < n:
        row["wilcoxon_p"] = float(
            scipy.stats.wilcoxon(
                a_values, b_values, zero_method=WILCOXON_ZERO_METHOD, alternative="two-sided"
            ).pvalue
        )
    if n >= 2 and not _has_zero_variance(d):
        row["ttest_p"] = float(scipy.stats.ttest_rel(a_values, b_values).pvalue)
    return row


_PAIRED_STATS = (
    "n",
    "mean_difference",
    "wins",
    "ties",
    "wilcoxon_p",
    "ttest_p",
    "wilcoxon_min_p",
)
_INTEGER_STATS = ("n", "wins", "ties")


def _paired_frame(rows: list[dict], columns: Sequence[str]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=list(columns))
    for column in _PAIRED_STATS:
        if column in out.columns:
            dtype = np.int64 if column in _INTEGER_STATS else np.float64
            out[column] = out[column].astype(dtype)
    return out


def paired_tests(
    table: pd.DataFrame,
    a: str,
    b: str,
    pair_on: str = _SEED,
    by: str | Sequence[str] = (),
    model_col: str = "model",
    value: str = "value",
    higher_is_better: bool = True,
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
        Grouping columns, e.g. ``("population", "metric", "k", "neuron_fraction")``; empty:
        one group.
    model_col, value : str
        Model and value columns.
    higher_is_better : bool
        Direction in which ``value`` improves (:attr:`hintforce.study.Metric.higher_is_better`):
        a pair is a win for ``a`` when ``a > b``, or when ``a < b`` if False.

    Returns
    -------
    pandas.DataFrame
        Columns ``by + [n, mean_difference, wins, ties, wilcoxon_p, ttest_p,
        wilcoxon_min_p]``, one row per group holding ``a`` or ``b`` (sorted): ``n`` matched
        pairs, the mean of ``a - b``, ``wins`` pairs where ``a`` is better, ``ties`` pairs with
        ``a == b``, and two-sided p-values.

        * ``wilcoxon_p``: :func:`scipy.stats.wilcoxon` on the pairs, two-sided,
          ``zero_method="wilcox"`` (ties dropped before ranking), scipy's default ``method``
          (exact for n <= 50 without ties; with ties an exhaustive permutation test for
          n <= 13, else the normal approximation). NaN if ``n < 2`` or every difference is
          zero (no signed ranks to test).
        * ``ttest_p``: :func:`scipy.stats.ttest_rel`. NaN if ``n < 2`` or the differences have
          zero variance (constant to within 100 machine epsilons of their mean), where t is
          undefined or infinite.
        * ``wilcoxon_min_p``: the smallest two-sided exact Wilcoxon p the pairs can give,
          ``min(1, 2 / 2**(n - ties))`` (every non-zero difference of one sign): 0.0625 for 5
          pairs, so that ``wilcoxon_p`` is never read as evidence it cannot be.

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
    _check_unique(sub, [*keys, model_col], "paired_tests")
    sub = sub.assign(**{value: pd.to_numeric(sub[value]).astype(np.float64)})
    left = sub.loc[sub[model_col] == a, [*keys, value]].rename(columns={value: _A})
    right = sub.loc[sub[model_col] == b, [*keys, value]].rename(columns={value: _B})
    merged = left.merge(right, on=keys, how="outer")
    rows = []
    for group, frame in _grouped(merged, by):
        row = dict(zip(by, _as_tuple(group), strict=False)) if by else {}
        row.update(_paired_row(frame[_A].to_numpy(), frame[_B].to_numpy(), higher_is_better))
        rows.append(row)
    return _paired_frame(rows, [*by, *_PAIRED_STATS])


def _as_tuple(group) -> tuple:
    return group if isinstance(group, tuple) else (group,)


def _check_unique(table: pd.DataFrame, keys: Sequence[str], what: str) -> None:
    duplicated = table.duplicated(list(keys), keep=False)
    if duplicated.any():
        example = table.loc[duplicated].iloc[0]
        raise ValueError(
            f"{what}: more than one row per ({', '.join(keys)}), e.g. {dict(example[list(keys)])}"
        )


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment (family-wise error rate) of a family of p-values.

    The ``m`` finite p-values, sorted ascending ``p_(1) <= ... <= p_(m)``, are adjusted to
    ``max_{j <= i} min(1, (m - j + 1) p_(j))``; a hypothesis is rejected at level alpha iff its
    adjusted p is <= alpha.

    Parameters
    ----------
    p_values : array_like of float
        The family. NaN entries (untested hypotheses) are left out of it: they do not count
        towards ``m`` and stay NaN.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, in the order of ``p_values``.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    tested = np.isfinite(p)
    m = int(np.count_nonzero(tested))
    if m == 0:
        return out
    order = np.argsort(p[tested], kind="stable")
    steps = np.maximum.accumulate((m - np.arange(m)) * p[tested][order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(steps, 1.0)
    out[tested] = adjusted
    return out


def fit_gate(fit: pd.DataFrame, min_r2: float) -> pd.DataFrame:
    """Flag each model store whose clean-start output R² reaches ``min_r2``.

    Parameters
    ----------
    fit : pandas.DataFrame
        The fit table: the axes, ``model``, ``start`` and ``r2`` (NaN for a diverged model),
        and ``directions`` when the task holds directions out (the training directions' rows
        decide). A store is a model and the values of the axes it depends on
        (:attr:`hintforce.study.Model.axes`); its other axes may be empty, or the store's rows
        may be repeated for every run that shares it.
    min_r2 : float
        The threshold.

    Returns
    -------
    pandas.DataFrame
        ``fit`` with the column ``passes_fit_gate`` (replaced if present): True on every row of
        a store whose clean-start R² is >= ``min_r2``, False if it is below or NaN.

    Raises
    ------
    ValueError
        If a column is missing, ``min_r2`` is not finite, a model is unknown, or a store has
        no clean-start row or clean-start rows with different R².
    """
    present = _axes(fit, "fit_gate")
    _check_columns(fit, [_MODEL, _START, _R2], "fit_gate")
    if not np.isfinite(min_r2):
        raise ValueError(f"fit_gate: min_r2 must be finite, got {min_r2}")
    fit = fit.assign(**{_R2: pd.to_numeric(fit[_R2]).astype(np.float64)})
    passes = np.zeros(len(fit), dtype=bool)
    for name in pd.unique(fit[_MODEL]):
        axes = [a for a in study.model(name).axes if a in present]
        rows = (fit[_MODEL] == name).to_numpy()
        store = fit.loc[rows, [*axes, _START, _R2]]
        clean = store.loc[deciding_rows(fit)[rows], [*axes, _R2]].drop_duplicates()
        _check_unique(clean, axes, f"fit_gate: clean-start R² of model {name!r}")
        flags = clean.assign(**{_GATE: clean[_R2] >= min_r2}).drop(columns=_R2)
        flagged = store[axes].merge(flags, on=axes, how="left")[_GATE]
        if flagged.isna().any():
            example = store.loc[flagged.isna().to_numpy()].iloc[0]
            raise ValueError(
                f"fit_gate: model {name!r} has no {_CLEAN}-start row for the store "
                f"{dict(example[axes])}"
            )
        passes[rows] = flagged.to_numpy(dtype=bool)
    return fit.assign(**{_GATE: passes})


def deciding_rows(fit: pd.DataFrame) -> np.ndarray:
    """Which rows of the fit table decide the fit gate: the clean start's, on the training
    directions (boolean, one per row)."""
    deciding = (fit[_START] == _CLEAN).to_numpy()
    if _DIRECTIONS in fit.columns:
        deciding = deciding & (fit[_DIRECTIONS] == _TRAIN).to_numpy()
    return deciding


def _fit_per_run(fit: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The fit rows of each model store placed on every run of ``runs`` that uses it."""
    present = _axes(fit, "fit table")
    _check_columns(fit, study.FIT_COLUMNS, "fit table")
    if not pd.api.types.is_bool_dtype(fit[_GATE]):
        raise ValueError(f"fit table: {_GATE} must be boolean, got {fit[_GATE].dtype}")
    parts = []
    sets = [_DIRECTIONS] if _DIRECTIONS in fit.columns else []
    for name in pd.unique(fit[_MODEL]):
        axes = [a for a in study.model(name).axes if a in present]
        rows = fit.loc[fit[_MODEL] == name, [*axes, _START, *sets, _R2, _GATE]].drop_duplicates()
        _check_unique(rows, [*axes, _START, *sets], f"fit table, model {name!r}")
        _check_unique(rows[[*axes, _GATE]].drop_duplicates(), axes, f"{_GATE} of {name!r}")
        parts.append(runs.merge(rows, on=axes, how="inner").assign(**{_MODEL: name}))
    columns = [*_axes(runs, "runs"), _MODEL, _START, *sets, _R2, _GATE]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)[columns]
    return out.assign(**{_R2: pd.to_numeric(out[_R2]).astype(np.float64)})


def _observations(similarity: pd.DataFrame, fit: pd.DataFrame) -> pd.DataFrame:
    """Similarity and fit rows in one long table: axes, row keys, ``start``, ``quantity``,
    the value (NaN where excluded) and whether the fit gate excluded it."""
    axes = list(_axes(similarity, "similarity"))
    _check_columns(similarity, [*study.ROW_KEYS, *QUANTITIES], "similarity")
    known = [*study.MODEL_NAMES, *study.REFERENCES]
    unknown = sorted(set(similarity[_MODEL]) - set(known))
    if unknown:
        raise ValueError(f"similarity: unknown model(s) {unknown}; known: {known}")
    runs = similarity[axes].drop_duplicates()
    fits = _fit_per_run(fit, runs)
    run_model = [*axes, _MODEL]
    gate = fits[[*run_model, _GATE]].drop_duplicates()
    passes = similarity[run_model].merge(gate, on=run_model, how="left", validate="m:1")[_GATE]
    reference = similarity[_MODEL].isin(study.REFERENCES).to_numpy()
    ungated = passes.isna().to_numpy() & ~reference
    if ungated.any():
        example = similarity.loc[ungated, run_model].iloc[0]
        raise ValueError(f"similarity rows without a fit-table row, e.g. {dict(example)}")
    excluded = ~reference & passes.eq(False).to_numpy()
    parts = []
    for quantity in QUANTITIES:
        values = pd.to_numeric(similarity[quantity]).astype(np.float64).to_numpy()
        parts.append(
            similarity[[*axes, *study.ROW_KEYS]].assign(
                **{
                    _START: np.nan,
                    _QUANTITY: quantity,
                    _GROUP: np.where(excluded, np.nan, values),
                    _EXCLUDED: excluded,
                }
            )
        )
    failed = ~fits[_GATE].to_numpy(dtype=bool)
    empty = {key: np.nan for key in study.ROW_KEYS if key not in (_MODEL, _METRIC)}
    if _DIRECTIONS in fits.columns:  # the held-out directions' R² is validated on them
        held_out = (fits[_DIRECTIONS] != _TRAIN).to_numpy()
        empty[_VALIDATION] = np.array(
            [study.HELD_OUT_DIRECTIONS if h else np.nan for h in held_out], dtype=object
        )
    parts.append(
        fits[[*axes, _MODEL, _START]].assign(
            **empty,
            **{
                _METRIC: FIT_METRIC,
                _QUANTITY: _VALUE,
                _GROUP: np.where(failed, np.nan, fits[_R2].to_numpy()),
                _EXCLUDED: failed,
            },
        )
    )
    return pd.concat(parts, ignore_index=True)


def _axes(table: pd.DataFrame, what: str) -> tuple[str, ...]:
    """The study's axes among the table's columns (every axis but the spike recording's is
    required)."""
    _check_columns(table, _REQUIRED_AXES, what)
    return study.axes_in(table.columns)


def _cell(table: pd.DataFrame) -> tuple[str, ...]:
    """A summary cell's axes: every axis of the table but the replicate (the seed)."""
    return tuple(a for a in _axes(table, "table") if a != _SEED)


def _integers_like(out: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """Integer columns of ``like`` as nullable integers in ``out`` (empty, not ``1.0``, in a CSV,
    where the fit or cross-circuit rows leave them empty)."""
    for column in out.columns:
        if column in like.columns and pd.api.types.is_integer_dtype(like[column]):
            out[column] = out[column].astype("Int64")
    return out


def _several_circuits(similarity: pd.DataFrame) -> bool:
    return similarity[_CIRCUIT].nunique() > 1


def summarise_study(similarity: pd.DataFrame, fit: pd.DataFrame) -> pd.DataFrame:
    """The study's summary table (``summary.csv``).

    Parameters
    ----------
    similarity : pandas.DataFrame
        The similarity table (:data:`hintforce.study.SIMILARITY_COLUMNS`); its models are
        :data:`hintforce.study.MODEL_NAMES` and :data:`hintforce.study.REFERENCES`.
    fit : pandas.DataFrame
        The fit table (:data:`hintforce.study.FIT_COLUMNS`) with its ``passes_fit_gate``
        flag (:func:`fit_gate`), with a store for every model of the similarity table's runs.

    Returns
    -------
    pandas.DataFrame
        Columns: the cell's axes (every axis but the seed), the row keys
        (:data:`hintforce.study.ROW_KEYS`), ``start``, then
        ``quantity, n, n_over, n_excluded, mean, sd, ci_low, ci_high``
        (:data:`hintforce.study.SUMMARY_COLUMNS`). One row per cell, row key and quantity:

        * similarity rows: ``quantity`` is each of :data:`QUANTITIES` (``value``,
          ``null_mean``, ``above_null``), ``start`` is empty;
        * fit rows: ``metric`` :data:`FIT_METRIC`, ``start`` clean or noisy, ``quantity``
          ``value`` (the R²), population, ``k``, component and validation empty.

        ``n``, ``mean``, ``sd`` and the 95% t-interval are as in :func:`summarise` (NaN values
        are not counted). A model failing the fit gate in a run is left out of every row of
        that run; ``n_excluded`` counts what was left out, in the unit of ``n``.

        * Per-circuit rows (``n_over`` = ``"seed"``): over the seeds of the cell;
          ``n_excluded`` counts the excluded seeds.
        * Cross-circuit rows (``n_over`` = ``"ground_truth_seed"``), added when the
          similarity table holds more than one ground-truth circuit: the included seeds are
          averaged within each circuit first, and the circuit means are summarised, so that
          every circuit weighs the same whatever its number of seeds; ``ground_truth_seed``
          is empty and ``n_excluded`` counts the circuits whose every seed was excluded.

    Raises
    ------
    ValueError
        If a column is missing, a model is unknown, or a model's similarity rows have no fit
        row (or ambiguous ones) in their run.
    """
    obs = _observations(similarity, fit)
    cell = _cell(similarity)
    keys = [*_KEYS, _QUANTITY]
    seeds = _grouped(obs, [*cell, *keys])
    per_circuit = _describe(seeds[_GROUP]).assign(
        n_over=_SEED, n_excluded=seeds[_EXCLUDED].sum().to_numpy(dtype=np.int64)
    )
    parts = [per_circuit.reset_index()]
    if _several_circuits(similarity):
        means = pd.DataFrame(
            {_GROUP: seeds[_GROUP].mean(), _EXCLUDED: seeds[_EXCLUDED].all()}
        ).reset_index()
        circuits = _grouped(means, [*(c for c in cell if c != _CIRCUIT), *keys])
        cross = _describe(circuits[_GROUP]).assign(
            n_over=_CIRCUIT, n_excluded=circuits[_EXCLUDED].sum().to_numpy(dtype=np.int64)
        )
        parts.append(cross.reset_index())
    out = pd.concat(parts, ignore_index=True)
    out = out[[*cell, *_KEYS, *study.SUMMARY_COLUMNS]]
    return _integers_like(out, similarity)


def _higher_is_better(metric: str) -> bool:
    return True if metric == FIT_METRIC else study.metric(metric).higher_is_better


def paired_study(similarity: pd.DataFrame, fit: pd.DataFrame) -> pd.DataFrame:
    """The study's paired comparisons (``paired_tests.csv``).

    For each contrast ``(a, b)`` of :data:`hintforce.study.CONTRASTS` whose models both have
    rows, each cell and each row key but the model, the values of ``a`` and ``b`` in the same
    run are paired and compared as in :func:`paired_tests` (a key held by only one of them
    gives a row with ``n`` 0). Only the ``value`` quantity is compared; the fit rows (R² per
    start, see :func:`summarise_study`) are compared like the similarity rows.

    Parameters
    ----------
    similarity, fit : pandas.DataFrame
        As for :func:`summarise_study`.

    Returns
    -------
    pandas.DataFrame
        Columns: the cell's axes (every axis but the seed), the row keys but ``model``,
        ``start``, then ``contrast, n, n_over, mean_difference, wins, ties, wilcoxon_p,
        ttest_p, holm_wilcoxon_p, holm_ttest_p, wilcoxon_min_p``
        (:data:`hintforce.study.PAIRED_COLUMNS`).

        * ``contrast``: ``"a-b"``, e.g. ``"ffh-ff"``; ``mean_difference`` is the mean of
          ``a - b``.
        * A run's pair is left out if either model fails the fit gate in it (or either value
          is NaN).
        * With one ground-truth circuit the pairs are the seeds (``n_over`` = ``"seed"``).
          With several, ``a`` and ``b`` are first averaged over each circuit's paired seeds
          and the pairs are the circuits (``n_over`` = ``"ground_truth_seed"``,
          ``ground_truth_seed`` empty); a circuit without a pair is left out.
        * ``wins``: pairs where ``a`` is better in the direction the metric improves
          (:attr:`hintforce.study.Metric.higher_is_better`: ``a < b`` for a distance; R²
          improves when it rises). ``ties``: ``a == b``.
        * ``wilcoxon_p``, ``ttest_p``, ``wilcoxon_min_p``: as in :func:`paired_tests`.
        * ``holm_wilcoxon_p``, ``holm_ttest_p``: :func:`holm` within each family, the
          contrasts of one cell and row key (one question: "does FFH beat FF and each sham on
          this score, here?"), so adding a metric, a ``k``, a population or an axis value
          changes no other row's adjusted p; each test's p-values are a family of their own,
          and NaN p-values are not in a family and stay NaN.

    Raises
    ------
    ValueError
        As :func:`summarise_study`, or if a model has more than one row for a run and key.
    """
    obs = _observations(similarity, fit)
    axes = _axes(similarity, "similarity")
    obs = obs.loc[obs[_QUANTITY] == _VALUE, [*axes, *_KEYS, _GROUP]]
    pair_on = [*axes, *_PAIR_KEYS]
    _check_unique(obs, [*pair_on, _MODEL], "paired_study")
    several = _several_circuits(similarity)
    every = _cell(similarity)
    cell = [c for c in every if c != _CIRCUIT] if several else list(every)
    rows = []
    present = set(obs[_MODEL])
    for a, b in (contrast for contrast in study.CONTRASTS if present.issuperset(contrast)):
        left = obs.loc[obs[_MODEL] == a, [*pair_on, _GROUP]].rename(columns={_GROUP: _A})
        right = obs.loc[obs[_MODEL] == b, [*pair_on, _GROUP]].rename(columns={_GROUP: _B})
        pairs = left.merge(right, on=pair_on, how="outer")
        unpaired = pairs[[_A, _B]].isna().any(axis=1)
        pairs.loc[unpaired, [_A, _B]] = np.nan
        if several:
            pairs = _grouped(pairs, [*every, *_PAIR_KEYS])[[_A, _B]].mean().reset_index()
        for group, frame in _grouped(pairs, [*cell, *_PAIR_KEYS]):
            row = dict(zip([*cell, *_PAIR_KEYS], group, strict=True))
            row.update(
                contrast=f"{a}-{b}",
                n_over=_CIRCUIT if several else _SEED,
                **_paired_row(
                    frame[_A].to_numpy(),
                    frame[_B].to_numpy(),
                    _higher_is_better(row[_METRIC]),
                ),
            )
            rows.append(row)
    out = _paired_frame(rows, [*every, *_PAIR_KEYS, "contrast", "n_over", *_PAIRED_STATS])
    for column in ("wilcoxon_p", "ttest_p"):
        out[f"holm_{column}"] = _holm_per_family(out, [*every, *_PAIR_KEYS], column)
    return _integers_like(out[[*every, *_PAIR_KEYS, *study.PAIRED_COLUMNS]], similarity)


def _holm_per_family(table: pd.DataFrame, family: list[str], column: str) -> pd.Series:
    """:func:`holm` of ``column`` within each family: the rows sharing the ``family`` columns
    (NaN keys equal), i.e. the contrasts of one cell and score."""
    return table.groupby(family, dropna=False, sort=False)[column].transform(
        lambda p: holm(p.to_numpy())
    )


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


def check_runs(
    similarity: pd.DataFrame,
    axis_values: dict[str, Sequence],
    models: Sequence[str],
    allow_failed: bool,
) -> list[str]:
    """The configured model runs that have no row in the similarity table.

    Parameters
    ----------
    similarity : pandas.DataFrame
        The study's similarity table (the axes of ``axis_values`` and
        ``model`` among its columns).
    axis_values : dict
        Axis name -> its configured values, for the study's axes (:func:`hintforce.study.axes_in`);
        the runs are every combination.
    models : sequence of str
        The models of every run.
    allow_failed : bool
        Whether the study may be summarised without some runs (``sweep.allow_failed_runs``).

    Returns
    -------
    list of str
        One label per missing run, e.g. ``"gt~2020 mf~0.4 seed~3 n~300 nf~0.3 hg~1 ffh"``,
        in configuration order; empty if every run is present.

    Raises
    ------
    ValueError
        If a run is missing and ``allow_failed`` is false; the message names the runs.
    """
    axes = study.axes_in(axis_values)
    expected = pd.DataFrame(
        itertools.product(*(axis_values[a] for a in axes), models),
        columns=[*axes, _MODEL],
    )
    missing = missing_runs(similarity, expected, list(expected.columns))
    labels = [
        " ".join(f"{study.axis(a).key}~{row[a]}" for a in axes) + f" {row[_MODEL]}"
        for _, row in missing.iterrows()
    ]
    if labels and not allow_failed:
        raise ValueError(
            f"{len(missing)} of {len(expected)} configured model runs have no results "
            f"({'; '.join(labels)}); rerun them, or set sweep.allow_failed_runs to summarise "
            "without"
        )
    return labels


# ----------------------------------------------------------------------------------------------
# mechanism measures (dynamics.csv)

_MEASURE = "measure"
_DISTANCE = "distance"
_SOC_VALUE = "soc_value"


def dynamics_distances(dynamics: pd.DataFrame, fit: pd.DataFrame) -> pd.DataFrame:
    """Each run's mechanism measures and their distance to the SOC's.

    Parameters
    ----------
    dynamics : pandas.DataFrame
        ``dynamics.csv``: the axes, ``model``, ``measure``, ``condition`` (empty for a
        measure of the whole run) and ``value``; the SOC's rows have model
        :data:`hintforce.study.CEILING`.
    fit : pandas.DataFrame
        The fit table with ``passes_fit_gate`` (:func:`fit_gate`): a model store failing the
        gate is left out, as in the similarity statistics.

    Returns
    -------
    pandas.DataFrame
        Columns: the axes, ``model, measure, value`` (the mean over conditions),
        ``soc_value`` (the SOC's, same run and measure; NaN for a measure the SOC has no row
        of, e.g. a dynamical distance to it) and ``distance``: ``|value - soc_value|``, or
        ``value`` itself where ``soc_value`` is NaN (the measure is a distance to the SOC).
    """
    axes = list(_axes(dynamics, "dynamics"))
    _check_columns(dynamics, [_MODEL, _MEASURE, _VALUE], "dynamics")
    values = dynamics.assign(**{_VALUE: pd.to_numeric(dynamics[_VALUE]).astype(np.float64)})
    per_run = _grouped(values, [*axes, _MODEL, _MEASURE])[_VALUE].mean().reset_index()
    gate = fit.loc[deciding_rows(fit), [*axes, _MODEL, _GATE]].drop_duplicates()
    flags = per_run.merge(gate, on=[*axes, _MODEL], how="left")[_GATE]
    per_run = per_run[flags.fillna(True).to_numpy(dtype=bool)]  # the SOC has no fit rows
    soc = per_run.loc[per_run[_MODEL] == study.CEILING, [*axes, _MEASURE, _VALUE]]
    out = per_run.merge(soc.rename(columns={_VALUE: _SOC_VALUE}), on=[*axes, _MEASURE], how="left")
    distance = (out[_VALUE] - out[_SOC_VALUE]).abs().where(out[_SOC_VALUE].notna(), out[_VALUE])
    return out.assign(**{_DISTANCE: distance}).reset_index(drop=True)


def summarise_dynamics(distances: pd.DataFrame) -> pd.DataFrame:
    """Per sweep cell, model and measure: :func:`summarise` over seeds of the value and of the
    distance to the SOC (``quantity`` ``value`` or ``distance``)."""
    by = [*_cell(distances), _MODEL, _MEASURE]
    parts = [
        summarise(distances, by, value=column).assign(**{_QUANTITY: column})
        for column in (_VALUE, _DISTANCE)
    ]
    out = pd.concat(parts, ignore_index=True)
    return out[[*by, _QUANTITY, "n", "mean", "sd", "ci_low", "ci_high"]].sort_values(
        [*by, _QUANTITY], kind="stable", ignore_index=True
    )


def paired_dynamics(distances: pd.DataFrame) -> pd.DataFrame:
    """The contrasts of :data:`hintforce.study.CONTRASTS` on each measure's distance to the
    SOC, paired on the seed per sweep cell (:func:`paired_tests`; a win is ``a`` closer to the
    SOC than ``b``). Holm's adjustment runs over the contrasts of one cell and measure (the
    family one question, "is FFH closer to the SOC in this measure?", asks), so adding a
    measure or a cell changes no other row."""
    by = [*_cell(distances), _MEASURE]
    parts = []
    present = set(distances[_MODEL])
    for a, b in (c for c in study.CONTRASTS if present.issuperset(c)):
        tests = paired_tests(distances, a, b, by=by, value=_DISTANCE, higher_is_better=False)
        parts.append(tests.assign(contrast=f"{a}-{b}"))
    columns = [*by, "contrast", *_PAIRED_STATS, "holm_wilcoxon_p", "holm_ttest_p"]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    for column in ("wilcoxon_p", "ttest_p"):
        out[f"holm_{column}"] = _holm_per_family(out, by, column)
    return out[columns].sort_values([*by, "contrast"], kind="stable", ignore_index=True)


# ----------------------------------------------------------------------------------------------
# co-smoothing (co_smoothing.csv): the measurable score against the true similarity

_BPS = "bits_per_spike"
_SCOPE = "scope"
#: The true similarity co-smoothing is judged against (with ``k``): the study's headline
#: score, condition-specific and cross-validated, to the never-recorded neurons.
CO_SMOOTHING_TRUTH = {
    "population": "unobserved",
    "metric": "cca",
    "component": "condition",
    "validation": "cross_validated",
}
#: Scopes of :func:`co_smoothing_validity`: every (seed, model) point of a cell; the models
#: of each run (averaged over the cell's runs).
VALIDITY_SCOPES: tuple[str, ...] = ("runs_and_models", "models_within_run")


def _gated_models(table: pd.DataFrame, fit: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``table`` (axes and ``model``) but those of a model failing the fit gate in its
    run (a row without fit rows, a reference, is kept)."""
    axes = list(_axes(table, "table"))
    gate = fit.loc[deciding_rows(fit), [*axes, _MODEL, _GATE]].drop_duplicates()
    flags = table.merge(gate, on=[*axes, _MODEL], how="left")[_GATE]
    return table[flags.fillna(True).to_numpy(dtype=bool)]


def summarise_co_smoothing(co_smoothing: pd.DataFrame, fit: pd.DataFrame) -> pd.DataFrame:
    """Per sweep cell and model (and the smoothing baseline): :func:`summarise` over seeds of
    the co-smoothing bits per spike, a model failing the fit gate in a run left out of it."""
    by = [*_cell(co_smoothing), _MODEL]
    return summarise(_gated_models(co_smoothing, fit), by, value=_BPS)


def co_smoothing_validity(
    co_smoothing: pd.DataFrame, similarity: pd.DataFrame, fit: pd.DataFrame, **row: object
) -> pd.DataFrame:
    """How well co-smoothing ranks models and runs like the true similarity to never-recorded
    neurons: Spearman rank correlations between the two.

    Parameters
    ----------
    co_smoothing : pandas.DataFrame
        ``co_smoothing.csv``: the axes, ``model``, ``bits_per_spike`` (rows of models not in
        the similarity table, e.g. the smoothing baseline, are ignored).
    similarity : pandas.DataFrame
        The similarity table; ``row`` selects the true score (every row key but ``model``,
        e.g. ``population="unobserved", metric="cca", k=10, component="condition",
        validation="cross_validated"``).
    fit : pandas.DataFrame
        The fit table with ``passes_fit_gate``: a model failing the gate in a run is left out.

    Returns
    -------
    pandas.DataFrame
        Columns: the cell's axes (every axis but the seed), ``scope``, ``n``, ``rho`` and
        ``p``. Per cell, ``runs_and_models``: Spearman's rho (and its two-sided p) over every
        (seed, model) of the cell; ``models_within_run``: the mean over the cell's runs of the
        rho across each run's models (``n`` runs; ``p`` NaN), which removes what differs
        between runs (their circuit sample, their neurons). A last pair of rows pools every
        cell (its axes empty).
    """
    keys = [k for k in study.ROW_KEYS if k != _MODEL]
    if sorted(row) != sorted(keys):
        raise ValueError(f"co_smoothing_validity: row must give {keys}, got {sorted(row)}")
    axes = list(_axes(co_smoothing, "co_smoothing"))
    true = similarity
    for key, value in row.items():
        true = true[true[key] == value]
    true = true[[*axes, _MODEL, _VALUE]]
    points = _gated_models(co_smoothing[[*axes, _MODEL, _BPS]].merge(true, on=[*axes, _MODEL]), fit)
    cell = [a for a in axes if a != _SEED]
    runs = [*cell, _SEED]

    def correlations(frame: pd.DataFrame) -> list[dict]:
        rho, p = _spearman(frame[_BPS], frame[_VALUE])
        within = [_spearman(part[_BPS], part[_VALUE])[0] for _, part in _grouped(frame, runs)]
        within = np.array([r for r in within if np.isfinite(r)])
        return [
            {_SCOPE: VALIDITY_SCOPES[0], "n": len(frame), "rho": rho, "p": p},
            {
                _SCOPE: VALIDITY_SCOPES[1],
                "n": within.size,
                "rho": within.mean() if within.size else np.nan,
                "p": np.nan,
            },
        ]

    rows = []
    for group, frame in _grouped(points, cell):
        rows += [{**dict(zip(cell, group, strict=True)), **r} for r in correlations(frame)]
    rows += [{**dict.fromkeys(cell, np.nan), **r} for r in correlations(points)]
    out = pd.DataFrame(rows, columns=[*cell, _SCOPE, "n", "rho", "p"])
    return _integers_like(out, co_smoothing)


def _spearman(x: pd.Series, y: pd.Series) -> tuple[float, float]:
    """Spearman's rho and its two-sided p; NaN for fewer than 3 points or a constant side."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return np.nan, np.nan
    result = scipy.stats.spearmanr(x, y)
    return float(result.statistic), float(result.pvalue)
