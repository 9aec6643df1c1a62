"""One run's similarity table: every model and reference row against every SOC population,
metric, ``k``, component and validation, each value next to its permutation null.

:func:`compare_run` is the entry point; its docstring states what every row means. The engine
(:class:`_Run`) scores one :class:`~hintforce.similarity.validation.Scheme` of a run: the
in-sample and cross-validated scores on the training directions, and, when the task holds
directions out, the held-out-direction scores in a second pass.

A metric without a fast path enters through :mod:`hintforce.similarity.interface` (fit and
score, with the generic relabel-and-rescore null), scored for every row next to these.

Cost. Nothing is refitted per permutation: the decompositions of a model do not depend on the
pairing of its conditions with the SOC's, the SOC's fold decompositions are cached per set of
conditions and shared by every model, and every pairing's cross-products are sums of
per-(condition, condition) blocks computed once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hintforce._validate import check_integer, check_number
from hintforce.similarity.decompositions import Blocks, Eigen
from hintforce.similarity.interface import GenericMetric, relabel_scores
from hintforce.similarity.nulls import draw_pairings, summarise_null
from hintforce.similarity.predictivity import median, predictivity
from hintforce.similarity.subspace import (
    CONSTANT_RTOL,
    metrics_folded,
    metrics_in_sample,
    stack_conditions,
)
from hintforce.similarity.validation import (
    Scheme,
    check_conditions,
    condition_component,
    condition_folds,
    k_limits,
)
from hintforce.study import (
    BASELINE,
    CEILING,
    COMPONENTS,
    HELD_OUT,
    METRICS,
    POPULATIONS,
    REFERENCES,
    RELIABILITY,
    ROW_KEYS,
    SPECTRUM_KEYS,
    TRIAL_SPLIT,
    VALIDATIONS,
)

__all__ = ["SPECTRUM_COLUMNS", "TABLE_COLUMNS", "RunSimilarity", "SimilarityParams", "compare_run"]

logger = logging.getLogger(__name__)

# Names from the study's registry (unpacked so that a new population, metric, component or
# validation fails here until its science is added below).
_ALL, _OBSERVED, _UNOBSERVED, _HELD_OUT = POPULATIONS
if _HELD_OUT != HELD_OUT:
    raise ImportError(f"study.POPULATIONS must end with {HELD_OUT!r}, got {POPULATIONS}")
_CCA, _CKA, _PROCRUSTES, _PREDICTIVITY = (m.name for m in METRICS)
_HIGHER_IS_BETTER = {m.name: m.higher_is_better for m in METRICS}
_FULL, _CONDITION = COMPONENTS
_IN_SAMPLE, _CROSS_VALIDATED, _HELD_OUT_DIRECTIONS = VALIDATIONS

#: Columns of :attr:`RunSimilarity.table` and :attr:`RunSimilarity.spectra`.
TABLE_COLUMNS: tuple[str, ...] = (*ROW_KEYS, "value", "null_mean", "null_p", "above_null")
SPECTRUM_COLUMNS: tuple[str, ...] = (*SPECTRUM_KEYS, "index", "value")


@dataclass(frozen=True)
class SimilarityParams:
    """Settings of :func:`compare_run`.

    Parameters
    ----------
    ks : sequence of int
        Numbers of principal components compared by CCA, CKA and Procrustes, each >= 1, no
        repeats (kept in the given order). Neural predictivity does not depend on ``k``: it is
        reported once, at ``k = max(ks)``.
    n_permutations : int
        Condition-label permutations of each model for the permutation null (>= 1). The
        smallest attainable ``null_p`` is ``1 / (n_permutations + 1)``. Default 19, the
        smallest count that can reach ``null_p = 0.05``, chosen for the cost budget: one run's
        similarity job (5 models, 3 reference rows, 4 populations, ks (5, 10), nulls included)
        must take at most 5 s on one BLAS thread at the study's default size, and on the
        development machine (``benchmarks/bench_similarity.py``) it takes about 3.3 s with 19
        permutations, 3.8 s with 29 and 4.2 s with 39 (each permutation adds ~45 ms; most of
        the cost is shared by all of them), on a 2-core machine whose load from other jobs
        adds up to ~30%: 19 keeps that margin. Raise it where the budget allows.
    n_predictor_pcs : int
        Predictivity regresses each neuron on the model's top ``n_predictor_pcs`` principal
        components of the fit's training samples (all of them when the model has fewer;
        >= 1): ridge on all units restricted to the subspace of their largest variance, a
        cheaper and still exact fit (principal-component ridge, as neural-predictivity
        benchmarks reduce model features before regressing). Default 30: three times the
        largest default ``k``, and the cost of the job grows with it (about 1.3 s more at 50,
        so the default budget allows 19 permutations at 30 PCs, not at 50); directions
        beyond them carry little variance in smooth network activity and ridge would shrink
        them strongly anyway. Caveat: a neuron read out of low-variance directions of a
        model is under-predicted.
    n_penalties : int
        Size of the ridge penalty grid (>= 1).
    penalty_min, penalty_max : float
        The grid: ``n_penalties`` log-spaced values from ``penalty_min`` to ``penalty_max``
        times the largest eigenvalue of the training matrix's Gram matrix (its largest squared
        singular value after centring), so the grid follows the scale of each fit. Defaults
        1e-4 (close to least squares in every direction with more than 1e-4 of the top variance)
        to 1e2 (every prediction shrunk to about 1% or less: close to predicting the training
        mean), seven values one decade apart. ``0 < penalty_min <= penalty_max``, equal when
        ``n_penalties`` is 1.

    Raises
    ------
    ValueError
        Naming the parameter, on a value outside its range.
    """

    ks: tuple[int, ...] = (5, 10)
    n_permutations: int = 19
    n_predictor_pcs: int = 30
    n_penalties: int = 7
    penalty_min: float = 1e-4
    penalty_max: float = 1e2

    def __post_init__(self) -> None:
        ks = self.ks
        if isinstance(ks, str | bytes) or not isinstance(ks, Sequence | np.ndarray):
            raise ValueError(f"ks must be a sequence of positive integers, got {ks!r}")
        ks = tuple(ks)
        if not ks:
            raise ValueError("ks must contain at least one k, got an empty sequence")
        for k in ks:
            check_integer("ks", k)
        ks = tuple(int(k) for k in ks)
        if len(set(ks)) != len(ks):
            raise ValueError(f"ks must not repeat values, got {list(ks)}")
        object.__setattr__(self, "ks", ks)
        check_integer("n_permutations", self.n_permutations)
        check_integer("n_predictor_pcs", self.n_predictor_pcs)
        check_integer("n_penalties", self.n_penalties)
        check_number("penalty_min", self.penalty_min, 0.0)
        check_number("penalty_max", self.penalty_max, self.penalty_min, low_open=False)
        if self.n_penalties == 1 and self.penalty_max != self.penalty_min:
            raise ValueError(
                f"penalty_max must equal penalty_min when n_penalties is 1, got "
                f"{self.penalty_min!r} and {self.penalty_max!r}"
            )

    @property
    def penalty_grid(self) -> np.ndarray:
        """The penalties relative to the largest Gram eigenvalue, ascending."""
        return np.geomspace(self.penalty_min, self.penalty_max, self.n_penalties)


@dataclass(frozen=True)
class RunSimilarity:
    """Similarity of one run's models to the SOC ground truth.

    Attributes
    ----------
    table : pandas.DataFrame
        Tidy, one row per value, columns exactly :data:`TABLE_COLUMNS` =
        ``model, population, metric, k, component, validation, value, null_mean, null_p,
        above_null``. ``model``: each model (in the order given), then the reference rows
        ``soc``, ``soc_observed``, ``soc_split_half``; ``population`` in ``all, observed,
        unobserved, held_out``; ``metric`` in ``cca`` (mean canonical correlation), ``cka``,
        ``procrustes`` (radians), ``predictivity`` (median R^2); ``k`` the number of PCs (for
        ``predictivity``, which does not depend on it, ``max(ks)``: one row per component and
        validation); ``component`` in ``full, condition``; ``validation`` in ``in_sample,
        cross_validated``. Rows are ordered by these keys, each in the order of
        :mod:`hintforce.study` (``k`` in the order of ``ks``). ``null_mean`` is the mean of the
        row's permutation null, ``null_p = (1 + #{null at least as good as value}) /
        (1 + n_permutations)`` ("as good": ``>=`` where higher is better, ``<=`` for the
        Procrustes distance) and ``above_null`` the value's margin over the null mean in the
        metric's direction (positive = better than chance).
    spectra : pandas.DataFrame
        In-sample canonical-correlation spectra behind every in-sample ``cca`` row, long form,
        columns exactly :data:`SPECTRUM_COLUMNS` = ``model, population, k, component, index,
        value``: ``index`` 0..k-1 in descending order of correlation (their mean is the ``cca``
        value).
    dropped : dict of str to int
        Constant units dropped per matrix label (``"ff"``, ``"ff/condition"``,
        ``"soc/unobserved"``, ``"soc/all/half0"``, ...); only non-zero counts are listed. A
        dropped SOC neuron has no predictivity either (its R^2 is undefined): it is left out of
        its population's median.
    """

    table: pd.DataFrame
    spectra: pd.DataFrame
    dropped: dict[str, int]


def _split_halves(indices: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    perm = rng.permutation(indices)
    half = perm.size // 2
    return np.sort(perm[:half]), np.sort(perm[half:])


def _index_set(values: np.ndarray, n_neurons: int, name: str) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"{name} must be a 1-d integer array, got {values.dtype} {values.shape}")
    if np.unique(values).size != values.size:
        raise ValueError(f"{name} must not repeat neuron indices")
    if values.size and (values.min() < 0 or values.max() >= n_neurons):
        raise ValueError(
            f"{name} indices must lie in [0, {n_neurons}), got {values.min()}..{values.max()}"
        )
    return np.sort(values.astype(np.int64))


@dataclass(frozen=True)
class _Matrix:
    """A source (scored as a model) or target (an SOC population): its label and either its
    SOC columns or the model's name."""

    label: str
    columns: np.ndarray | None = None
    model: str | None = None


class _Run:
    """The sources, targets and pairings of one run under one :class:`Scheme`, and the values
    they produce (one array per row: the value and its nulls)."""

    def __init__(
        self,
        soc_rates: np.ndarray,
        model_rates: dict[str, np.ndarray],
        populations: dict[str, np.ndarray],
        halves: dict[str, tuple[np.ndarray, np.ndarray]],
        params: SimilarityParams,
        scheme: Scheme,
        generic: Mapping[str, GenericMetric],
        recorded: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        self.soc_rates = soc_rates
        self.generic = generic
        self.model_rates = model_rates
        self.C, self.T = soc_rates.shape[:2]
        self.scheme = scheme
        self.perms = scheme.pairings
        self.params = params
        self.k_max = max(params.ks)
        self.trains = scheme.trains
        self.tests = scheme.tests
        self.sources = {name: _Matrix(name, model=name) for name in model_rates}
        self.sources[CEILING] = _Matrix(f"soc/{_ALL}", populations[_ALL])
        recorded = recorded or {}
        self.sources[BASELINE] = _Matrix(
            f"soc/{_OBSERVED}", recorded.get(BASELINE, populations[_OBSERVED])
        )
        self.targets = {p: _Matrix(f"soc/{p}", idx) for p, idx in populations.items()}
        # (row model, population, source, target)
        self.pairs: list[tuple[str, str, str, str]] = []
        for name in model_rates:
            self.pairs += [(name, p, name, p) for p in POPULATIONS]
        self.pairs += [(CEILING, p, CEILING, p) for p in POPULATIONS]
        self.pairs += [(BASELINE, p, BASELINE, p) for p in (_UNOBSERVED, _HELD_OUT)]
        for p, (first, second) in halves.items():
            key = f"{RELIABILITY}/{p}"
            self.sources[key] = _Matrix(f"soc/{p}/half0", first)
            self.targets[key] = _Matrix(f"soc/{p}/half1", second)
            self.pairs.append((RELIABILITY, p, key, key))
        if TRIAL_SPLIT in recorded:
            first, second = recorded[TRIAL_SPLIT]
            self.sources[TRIAL_SPLIT] = _Matrix(f"recording/{_OBSERVED}/half0", first)
            self.targets[TRIAL_SPLIT] = _Matrix(f"recording/{_OBSERVED}/half1", second)
            self.pairs.append((TRIAL_SPLIT, _OBSERVED, TRIAL_SPLIT, TRIAL_SPLIT))
        self.dropped: dict[str, int] = {}
        self.values: dict[tuple, np.ndarray] = {}  # row keys -> value and its nulls
        self.spectra: list[tuple] = []
        self.model_scales = {m: float(np.max(np.abs(r))) for m, r in model_rates.items()}
        self.soc_scale = float(np.max(np.abs(soc_rates[:, :, populations[_ALL]])))

    def _samples(self, rates: np.ndarray, component: str) -> np.ndarray:
        if component == _FULL:
            return stack_conditions(rates)
        return stack_conditions(condition_component(rates, self.scheme.reference))

    def score(self, component: str) -> None:
        """Fill ``values`` and ``spectra`` for one component."""
        soc = self._samples(self.soc_rates, component)
        models = {m: self._samples(r, component) for m, r in self.model_rates.items()}
        soc_constant = soc.std(axis=0) <= CONSTANT_RTOL * self.soc_scale
        suffix = "" if component == _FULL else f"/{component}"
        cache: dict[tuple, Blocks] = {}

        def blocks_of(matrix: _Matrix) -> Blocks:
            if matrix.model is not None:
                X = models[matrix.model]
                constant = X.std(axis=0) <= CONSTANT_RTOL * self.model_scales[matrix.model]
                key: tuple = (matrix.model,)
            else:
                X, constant = soc[:, matrix.columns], soc_constant[matrix.columns]
                key = tuple(matrix.columns)
            if key not in cache:
                cache[key] = self._blocks(X, constant, matrix.label + suffix)
            return cache[key]

        sources = {s: blocks_of(m) for s, m in self.sources.items()}
        targets = {t: blocks_of(m) for t, m in self.targets.items()}
        r2 = {
            s: self._source_predictivity(s, blocks, soc, soc_constant)
            for s, blocks in sources.items()
        }
        by_blocks: dict[int, tuple] = {}  # targets with the same neurons share their work
        for blocks in targets.values():
            if id(blocks) not in by_blocks:
                by_blocks[id(blocks)] = self._paired_target(blocks)
        paired = {t: by_blocks[id(blocks)] for t, blocks in targets.items()}
        folded_validation = self.scheme.fold_validation
        for model, population, s, t in self.pairs:
            key = (model, population)
            self._pca_metrics(key, component, sources[s], paired[t])
            union, in_sample, folded = r2[s]
            columns = np.searchsorted(union, self.targets[t].columns)
            k = self.k_max
            if in_sample is not None:
                self.values[(*key, _PREDICTIVITY, k, component, _IN_SAMPLE)] = median(
                    in_sample, columns
                )
            self.values[(*key, _PREDICTIVITY, k, component, folded_validation)] = median(
                folded, columns
            )
            self._generic_metrics(key, component, sources[s], targets[t])

    def _generic_metrics(
        self, key: tuple[str, str], component: str, source: Blocks, target: Blocks
    ) -> None:
        """Every metric without a fast path of one row, by :func:`relabel_scores`."""
        if not self.generic:
            return
        X = source.X.reshape(self.C, self.T, -1)
        Y = target.X.reshape(self.C, self.T, -1)
        validations = [(self.scheme.fold_validation, self.scheme.folds)]
        if self.scheme.in_sample:
            every = np.arange(self.C)
            validations.append((_IN_SAMPLE, ((every, every),)))
        for name, generic in self.generic.items():
            for k in self.params.ks:
                metric = generic.make(k)
                for validation, folds in validations:
                    scores = relabel_scores(metric, X, Y, folds, self.perms)
                    self.values[(*key, name, k, component, validation)] = scores

    def _blocks(self, X: np.ndarray, constant: np.ndarray, label: str) -> Blocks:
        """The condition blocks of ``X`` without its constant columns (counted in ``dropped``
        and logged); refuses a matrix with fewer than k non-constant units."""
        n_kept = int(constant.size - constant.sum())
        if n_kept < constant.size:
            self.dropped[label] = constant.size - n_kept
            logger.warning(
                "%s: dropped %d constant unit(s) of %d",
                label,
                constant.size - n_kept,
                constant.size,
            )
        if n_kept < self.k_max:
            raise ValueError(
                f"k={self.k_max} is too large for {label}: limit {n_kept} non-constant units"
            )
        return Blocks(X[:, ~constant], self.C, label)

    def _source_predictivity(
        self, source: str, blocks: Blocks, soc: np.ndarray, soc_constant: np.ndarray
    ) -> tuple:
        """R² of every SOC neuron any pairing of ``source`` targets, from ``source``.

        Returns the neurons (sorted) and their in-sample (None unless the scheme scores in
        sample) and folded R² with the null pairings (see :func:`predictivity`).
        """
        n_top = max(self.params.n_predictor_pcs, self.k_max)
        if self.scheme.in_sample:
            self._check_rank(blocks, np.arange(self.C), n_top)
        for train in self.trains:
            self._check_rank(blocks, train, n_top)
        columns = [self.targets[t].columns for (_, _, src, t) in self.pairs if src == source]
        union = np.unique(np.concatenate(columns))
        return (
            union,
            *predictivity(
                blocks,
                soc[:, union],
                ~soc_constant[union],
                self.trains,
                self.tests,
                self.perms,
                self.params.penalty_grid,
                self.params.n_predictor_pcs,
                in_sample=self.scheme.in_sample,
            ),
        )

    def _check_rank(self, blocks: Blocks, conditions: np.ndarray, top: int | None) -> Eigen:
        eig = blocks.eigen(conditions, top)
        if eig.lam.size < self.k_max:
            raise ValueError(
                f"k={self.k_max} exceeds the numerical rank of {blocks.label} on conditions "
                f"{sorted(int(c) for c in conditions)}: limit {eig.lam.size}"
            )
        return eig

    def _paired_target(self, blocks: Blocks) -> tuple:
        """A target's top PC scores, rows paired with the source's by every pairing.

        In sample (None unless the scheme scores in sample): ``(scores (n, n_perm * K), lam
        (K,))``. Per fold: the training rows' scores ``(n_train, n_perm * K)``, the tested ones
        centred on the tested samples ``(n_test, n_perm * K)``, their variances ``lam (n_perm,
        K)`` and the tested cross-products ``(n_perm, K, K)``. Pairing ``p`` gives the source's
        training conditions the target conditions ``perms[p, train]``, on which the target's
        PCA is fitted (cached per set of conditions).
        """
        C, T, K, perms = self.C, self.T, self.k_max, self.perms
        n_perm = perms.shape[0]
        in_sample = None
        if self.scheme.in_sample:
            eig = self._check_rank(blocks, np.arange(C), K)
            scores = eig.scores.reshape(C, T, K)[perms.T]  # (C, n_perm, T, K)
            in_sample = (scores.transpose(0, 2, 1, 3).reshape(C * T, n_perm * K), eig.lam)
        folds = []
        for train, test in zip(self.trains, self.tests, strict=True):
            scores = np.empty((C, T, n_perm, K))
            lam = np.empty((n_perm, K))
            for p in range(n_perm):
                eig = self._check_rank(blocks, perms[p, train], K)
                scores[:, :, p] = eig.scores.reshape(C, T, K)[perms[p]]
                lam[p] = eig.lam
            y_train = scores[train].reshape(train.size * T, n_perm * K)
            y_test = scores[test].reshape(test.size * T, n_perm, K)
            y_test = y_test - y_test.mean(axis=0)
            test_yy = np.einsum("ipk,ipl->pkl", y_test, y_test)
            folds.append((y_train, y_test.reshape(test.size * T, n_perm * K), lam, test_yy))
        return in_sample, folds

    def _pca_metrics(
        self, key: tuple[str, str], component: str, source: Blocks, target: tuple
    ) -> None:
        """CCA, CKA and Procrustes of one row, in sample and over the scheme's folds."""
        C, K, ks = self.C, self.k_max, self.params.ks
        n_perm = self.perms.shape[0]
        in_sample, folds = target
        if in_sample is not None:
            paired, lam_y = in_sample
            eig = source.eigen(np.arange(C), K)
            cross = (eig.scores.T @ paired).reshape(K, n_perm, K).transpose(1, 0, 2)
            for k in ks:
                cca, rho, cka, procrustes = metrics_in_sample(cross, eig.lam, lam_y, k)
                self.values[(*key, _CCA, k, component, _IN_SAMPLE)] = cca
                self.values[(*key, _CKA, k, component, _IN_SAMPLE)] = cka
                self.values[(*key, _PROCRUSTES, k, component, _IN_SAMPLE)] = procrustes
                self.spectra += [(*key, k, component, i, float(v)) for i, v in enumerate(rho[0])]
        n_folds = len(folds)
        cross = np.empty((n_folds, n_perm, K, K))
        test_xy = np.empty((n_folds, n_perm, K, K))
        test_yy = np.empty((n_folds, n_perm, K, K))
        test_xx = np.empty((n_folds, K, K))
        lam_x = np.empty((n_folds, K))
        lam_y = np.empty((n_folds, n_perm, K))
        for f, (train, test) in enumerate(zip(self.trains, self.tests, strict=True)):
            eig = source.eigen(train, K)
            y_train, y_test, lam_y[f], test_yy[f] = folds[f]
            x_train = eig.scores[source.rows(train)]
            x_test = eig.scores[source.rows(test)]
            x_test = x_test - x_test.mean(axis=0)
            cross[f] = (x_train.T @ y_train).reshape(K, n_perm, K).transpose(1, 0, 2)
            test_xy[f] = (x_test.T @ y_test).reshape(K, n_perm, K).transpose(1, 0, 2)
            test_xx[f] = x_test.T @ x_test
            lam_x[f] = eig.lam
        validation = self.scheme.fold_validation
        for k in ks:
            cca, cka, procrustes = metrics_folded(cross, lam_x, lam_y, test_xx, test_yy, test_xy, k)
            self.values[(*key, _CCA, k, component, validation)] = cca
            self.values[(*key, _CKA, k, component, validation)] = cka
            self.values[(*key, _PROCRUSTES, k, component, validation)] = procrustes


def _orders(
    models: Sequence[str], ks: Sequence[int], generic: Sequence[str] = ()
) -> tuple[dict, ...]:
    """Each row key's order in the table: the registry's (models in the order given, metrics
    without a fast path after the registry's)."""
    return (
        {name: i for i, name in enumerate([*models, *REFERENCES])},
        {p: i for i, p in enumerate(POPULATIONS)},
        {name: i for i, name in enumerate([*(m.name for m in METRICS), *generic])},
        {k: i for i, k in enumerate(ks)},
        {c: i for i, c in enumerate(COMPONENTS)},
        {v: i for i, v in enumerate(VALIDATIONS)},
    )


def _table(
    values: dict[tuple, np.ndarray], orders: tuple[dict, ...], higher_is_better: dict[str, bool]
) -> pd.DataFrame:
    keys = sorted(values, key=lambda key: [o[x] for o, x in zip(orders, key, strict=True)])
    rows = [(*key, *summarise_null(values[key], higher_is_better[key[2]])) for key in keys]
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    table["k"] = table["k"].astype(np.int64)
    return table


def _spectra_table(spectra: list[tuple], orders: tuple[dict, ...]) -> pd.DataFrame:
    model, population, _, k, component, _ = orders
    rows = sorted(
        spectra,
        key=lambda r: (model[r[0]], population[r[1]], k[r[2]], component[r[3]], r[4]),
    )
    table = pd.DataFrame(rows, columns=list(SPECTRUM_COLUMNS))
    table["k"] = table["k"].astype(np.int64)
    table["index"] = table["index"].astype(np.int64)
    return table


def compare_run(
    soc_rates: np.ndarray,
    models: Mapping[str, np.ndarray],
    observed: np.ndarray,
    held_out: np.ndarray,
    params: SimilarityParams,
    rng: np.random.Generator,
    *,
    held_out_directions: np.ndarray | None = None,
    metrics: Mapping[str, GenericMetric] | None = None,
    recording: tuple[np.ndarray, np.ndarray] | None = None,
) -> RunSimilarity:
    """Compare each model's dynamics with the SOC's: every population, metric, ``k``,
    component and validation, each value with its permutation null.

    Rows of the table (columns in :class:`RunSimilarity`):

    * every model in ``models`` (all its units) vs the SOC restricted to each population:
      ``all`` neurons, the ``observed``, the ``unobserved`` (the complement of ``observed``)
      and the fixed ``held_out`` set;
    * ``soc`` (the true ceiling): the SOC itself, all neurons, scored as a model against each
      population exactly as the models are;
    * ``soc_observed`` (the data baseline): the observed SOC neurons scored as a model against
      ``unobserved`` and ``held_out`` only: what the recordings alone say about hidden neurons;
    * ``soc_split_half`` (split-half subsampling reliability, *not* a ceiling): for each
      population, its neurons shuffled by ``rng`` and split into two halves (sizes
      ``floor(n/2)`` and ``ceil(n/2)``), the first scored as a model against the second
      (its ``population`` column names the population that was split). It says how alike two
      disjoint samples of one circuit look at half the population's size; a model can exceed
      it. One split per population (drawn in the order of :data:`hintforce.study.POPULATIONS`)
      serves every metric, ``k``, component and validation.

    With a spike ``recording`` the data baseline is the recorded PSTHs of the observed neurons
    (what an experimenter has of them), and one more row is scored:

    * ``soc_trial_split`` (the trial-split ceiling an experimenter can compute): the PSTHs of
      the first half of the trials of the observed neurons scored as a model against those of
      the second half, population ``observed``.

    **PCA metrics.** Each matrix is centred (on the training samples for cross-validated
    fits) after dropping its constant units. *In sample*, the top ``k`` PC scores of each
    matrix on all samples are compared as in :func:`canonical_correlations`,
    :func:`linear_cka` and :func:`procrustes_angular`. *Cross-validated*, per fold of
    :func:`condition_folds`: the PCA loadings of the model and of the SOC population are
    fitted on the training samples; the CCA directions on the training scores; the Pearson
    correlation of each canonical pair on the held-out projections is averaged over the ``k``
    pairs. CV CKA is the CKA of the held-out PC projections (centred on the held-out samples).
    CV Procrustes fits the rotation on the normalised training scores and reports the angle
    ``arccos`` (cosine clipped to [-1, 1]) between the normalised held-out scores (centred on
    the held-out samples) after that rotation. Fold values are averaged over folds.

    **Predictivity.** Ridge regression, with an unpenalised intercept, from the model's top
    ``params.n_predictor_pcs`` principal components (fitted, like every PCA here, on the
    training samples; all components when the model has fewer) to each neuron. One
    regression onto all the neurons a row needs (every SOC neuron for a model and ``soc``; the
    unobserved and held-out ones for ``soc_observed``; the other half for ``soc_split_half``)
    serves every population. The penalty is chosen per fit (in sample: one; cross-validated:
    one per fold) and *for all of its neurons at once* from the fixed log-spaced grid of
    :class:`SimilarityParams`, relative to the fit's largest Gram eigenvalue: the one with
    the best mean leave-one-condition-out R^2 inside the fit's conditions. Those errors are
    exact and need no refit per penalty: from the one eigendecomposition of the fit's
    training matrix (its PCs, which are not refitted without the left-out condition), leaving
    a condition out subtracts that condition's sums from the ridge's Gram and cross-products,
    and one small eigendecomposition of the remaining Gram per condition gives every
    penalty's coefficients. This equals the hat-matrix shortcut ``(I - H_gg)^{-1} r_g`` of
    :func:`ridge_loco_errors` and brute-force refitting (tested). Cross-validated R^2 per
    neuron is ``1 - SSE / SST`` of the held-out predictions pooled over folds (``SST`` about
    the neuron's mean over all samples); in sample, the same ridge fitted and scored on all
    conditions. The value is the median over the population's neurons (constant neurons,
    whose R^2 is undefined, left out).

    **Held-out directions.** With ``held_out_directions`` (indices of conditions no model was
    trained on), the ``in_sample`` and ``cross_validated`` rows above are scored on the other
    (training) conditions only, exactly as if the held-out ones did not exist, and every row
    gets a third validation, ``held_out_directions``: every PCA, CCA direction, Procrustes
    rotation and ridge map is fitted on the training conditions (for the condition component,
    the training conditions' mean is removed from all conditions) and scored on the held-out
    ones, as one fold of the cross-validated scores is (predictivity's R^2 about the held-out
    samples' own mean). Its permutation null permutes the held-out conditions only (the fits
    stay those of the value).

    **Permutation null.** ``n_permutations`` permutations of the conditions are drawn from
    ``rng`` after the split halves, the same for every row. Permutation ``pi`` pairs the
    model's condition ``c`` with the SOC's condition ``pi[c]`` (the model's condition labels
    permuted); the null value is the row's score for that pairing, computed as the value is
    (the value is the identity pairing), without retraining: a model's decompositions do not
    depend on the pairing (in sample the pairing permutes rows; the condition component
    commutes with it), nor do the ridge penalties (each fit keeps the penalty chosen for the
    real pairing: re-choosing it would cost a leave-one-condition-out pass per permutation;
    a penalty chosen for another pairing typically fits a permuted one less well, so the
    predictivity null may be slightly low). Cross-validated, the pair (model
    condition ``c``, SOC condition ``pi[c]``) is held out in the fold of the *model*
    condition ``c``: each fold's model-side fits are those of the value, and the SOC side
    depends only on the set of SOC conditions paired with the training conditions (its PCA
    cached per set and shared by every model). For the identity this is the fold scheme
    above; for a permutation it is the same scheme with the SOC's condition labels permuted
    instead of the model's, an equally valid permutation test that costs a few SOC-sized
    decompositions instead of one model-sized decomposition per model, component and set.
    Every pairing's cross-products are sums of per-(model condition, SOC condition) block
    products computed once; the ridge's held-out errors follow from PC-sized Gram matrices.

    Parameters
    ----------
    soc_rates : ndarray, shape (n_conditions, n_times, n_neurons)
        Ground-truth SOC rates (Hz) over the movement window; ``n_conditions >= 4``.
    models : mapping of str to ndarray, shape (n_conditions, n_times, n_units)
        Model activity on the same conditions and time bins. Names must differ from the
        reference rows (:data:`hintforce.study.REFERENCES`).
    observed : ndarray of int
        Indices of the observed SOC neurons (unique, in ``[0, n_neurons)``; at least one
        neuron must stay unobserved).
    held_out : ndarray of int
        Indices of the fixed held-out set: non-empty, unique, disjoint from ``observed`` (it
        may equal the unobserved set).
    params : SimilarityParams
    rng : numpy.random.Generator
        Draws the split halves, then the permutations (then, with held-out directions, the
        permutations of the held-out conditions).
    held_out_directions : ndarray of int, optional
        Conditions no model was trained on (unique indices, at least one; at least 4
        conditions must remain). Default: none.
    metrics : mapping of str to GenericMetric, optional
        Metrics without a fast path (:mod:`hintforce.similarity.interface`), scored for every
        row, population, ``k``, component and validation as the others are, each fit and
        score on the samples the fast paths see (constant units dropped), with the generic
        null (:func:`~hintforce.similarity.interface.relabel_scores`: the same pairings,
        refitted per pairing and fold). Their rows follow the registry's metrics'; the names
        must differ from those. Default: none.
    recording : tuple of ndarray, optional
        ``(psth, halves)``: the recorded PSTHs of the ``observed`` neurons (columns in the
        order of ``observed``), shape (n_conditions, n_times, n_observed), and those of the two
        trial halves, shape (2, n_conditions, n_times, n_observed). Default: none (the
        recording is the exact rates: the baseline is the SOC's observed neurons).

    Returns
    -------
    RunSimilarity

    Raises
    ------
    ValueError
        On inconsistent shapes or indices, fewer than 4 conditions, or when a population,
        split half, model or training fold has fewer than ``max(ks)`` principal components
        (the message names ``k``, what limits it and the limit).
    """
    soc_rates = _check_soc(soc_rates, params)
    n_conditions, n_times, n_neurons = soc_rates.shape
    model_rates = _check_models(models, n_conditions, n_times)
    generic = _check_generic(metrics)
    tested = _held_out_set(held_out_directions, n_conditions)
    training = np.setdiff1d(np.arange(n_conditions), tested)
    if tested.size and training.size < 4:
        raise ValueError(
            f"held_out_directions leaves {training.size} of {n_conditions} conditions for "
            "training; cross-validation over them needs at least 4"
        )
    check_conditions(training.size)
    populations = _populations(observed, held_out, n_neurons)
    recorded = None
    if recording is not None:
        soc_rates, recorded = _with_recording(soc_rates, recording, observed)
    n_units = min(r.shape[2] for r in model_rates.values())
    k = max(params.ks)
    for what, limit in k_limits(
        n_neurons,
        populations[_OBSERVED].size,
        populations[_HELD_OUT].size,
        n_units,
        training.size,
        n_times,
    ).items():
        if k > limit:
            raise ValueError(f"k={k} is too large for {what}: limit {limit}")

    halves = {p: _split_halves(idx, rng) for p, idx in populations.items()}
    folds = tuple(
        (np.setdiff1d(np.arange(training.size), test), test)
        for test in condition_folds(training.size)
    )
    trained = Scheme(
        True, folds, _CROSS_VALIDATED, draw_pairings(training.size, params.n_permutations, rng)
    )
    passes = [(trained, soc_rates[training], {m: r[training] for m, r in model_rates.items()})]
    if tested.size:
        held = Scheme(
            False,
            ((training, tested),),
            _HELD_OUT_DIRECTIONS,
            draw_pairings(n_conditions, params.n_permutations, rng, movable=tested),
            reference=training,
        )
        passes.append((held, soc_rates, model_rates))
    values, spectra, dropped = _score_passes(passes, populations, halves, params, generic, recorded)
    orders = _orders(list(model_rates), params.ks, list(generic))
    direction = _HIGHER_IS_BETTER | {n: m.higher_is_better for n, m in generic.items()}
    return RunSimilarity(
        table=_table(values, orders, direction),
        spectra=_spectra_table(spectra, orders),
        dropped=dropped,
    )


def _check_soc(soc_rates: np.ndarray, params: SimilarityParams) -> np.ndarray:
    """The SOC's rates as float64 of shape (conditions, times, neurons), all finite."""
    soc_rates = np.asarray(soc_rates, dtype=np.float64)
    if soc_rates.ndim != 3:
        raise ValueError(
            f"soc_rates must have shape (n_conditions, n_times, n_neurons), got {soc_rates.shape}"
        )
    if not np.all(np.isfinite(soc_rates)):
        raise ValueError("soc_rates contains NaN or infinite values")
    if not isinstance(params, SimilarityParams):
        raise ValueError(f"params must be a SimilarityParams, got {type(params).__name__}")
    return soc_rates


def _check_generic(metrics: Mapping[str, GenericMetric] | None) -> dict[str, GenericMetric]:
    """The metrics without a fast path, under names the registry's metrics do not use."""
    generic = dict(metrics or {})
    for name, entry in generic.items():
        if name in _HIGHER_IS_BETTER or not isinstance(entry, GenericMetric):
            raise ValueError(
                f"metrics must map new names (not {sorted(_HIGHER_IS_BETTER)}) to GenericMetric, "
                f"got {name!r}: {entry!r}"
            )
    return generic


def _score_passes(passes, populations, halves, params, generic, recorded):
    """Every row's value and null, the spectra and the dropped units of each pass (the
    training directions' and, with held-out directions, theirs)."""
    values: dict[tuple, np.ndarray] = {}
    spectra: list[tuple] = []
    dropped: dict[str, int] = {}
    for scheme, soc, rates in passes:
        run = _Run(soc, rates, populations, halves, params, scheme, generic, recorded)
        for component in COMPONENTS:
            run.score(component)
        # A drawn pairing that is the identity scores the value itself; its batched products
        # round differently, so copy the value rather than let rounding decide the tie.
        identity = np.all(scheme.pairings == scheme.pairings[0], axis=1)
        identity[0] = False
        if identity.any():
            for scores in run.values.values():
                scores[identity] = scores[0]
        values |= run.values
        spectra += run.spectra
        dropped |= run.dropped
    return values, spectra, dropped


def _with_recording(
    soc_rates: np.ndarray, recording: tuple[np.ndarray, np.ndarray], observed: np.ndarray
) -> tuple[np.ndarray, dict]:
    """The SOC's rates with the recorded PSTHs and trial halves as further columns (so every
    row is scored by the same code), and those columns per reference row."""
    psth, halves = (np.asarray(a, dtype=np.float64) for a in recording)
    shape = (*soc_rates.shape[:2], len(observed))
    if psth.shape != shape or halves.shape != (2, *shape):
        raise ValueError(
            f"recording must hold PSTHs of shape {shape} and halves of shape {(2, *shape)}, "
            f"got {psth.shape} and {halves.shape}"
        )
    if not (np.all(np.isfinite(psth)) and np.all(np.isfinite(halves))):
        raise ValueError("recording contains NaN or infinite values")
    n, k = soc_rates.shape[2], shape[2]
    columns = [n + np.arange(i * k, (i + 1) * k) for i in range(3)]
    rates = np.concatenate([soc_rates, psth, halves[0], halves[1]], axis=2)
    return rates, {BASELINE: columns[0], TRIAL_SPLIT: (columns[1], columns[2])}


def _check_models(
    models: Mapping[str, np.ndarray], n_conditions: int, n_times: int
) -> dict[str, np.ndarray]:
    """The models' rates as float64, checked against the SOC's conditions and time bins."""
    if not models:
        raise ValueError("models must contain at least one model")
    model_rates = {}
    for name, rates in models.items():
        if name in REFERENCES:
            raise ValueError(f"model name {name!r} is reserved for a reference row")
        rates = np.asarray(rates, dtype=np.float64)
        if rates.ndim != 3 or rates.shape[:2] != (n_conditions, n_times):
            raise ValueError(
                f"model {name!r} rates must have (conditions, times) {(n_conditions, n_times)} "
                f"like the SOC, got shape {rates.shape}"
            )
        if not np.all(np.isfinite(rates)):
            raise ValueError(f"model {name!r} rates contain NaN or infinite values")
        model_rates[name] = rates
    return model_rates


def _held_out_set(held_out_directions: np.ndarray | None, n_conditions: int) -> np.ndarray:
    """The held-out conditions as sorted indices (empty for none)."""
    if held_out_directions is None:
        return np.zeros(0, dtype=np.int64)
    tested = _index_set(held_out_directions, n_conditions, "held_out_directions")
    if tested.size == 0:
        raise ValueError("held_out_directions must hold at least one condition, or be None")
    return tested


def _populations(
    observed: np.ndarray, held_out: np.ndarray, n_neurons: int
) -> dict[str, np.ndarray]:
    """The SOC populations every row is scored against, checked."""
    observed = _index_set(observed, n_neurons, "observed")
    if not 0 < observed.size < n_neurons:
        raise ValueError(
            f"observed must hold between 1 and {n_neurons - 1} neurons, got {observed.size}"
        )
    held_out = _index_set(held_out, n_neurons, "held_out")
    if held_out.size == 0:
        raise ValueError("held_out must hold at least one neuron")
    if np.intersect1d(held_out, observed).size:
        raise ValueError("held_out must be disjoint from observed")
    return {
        _ALL: np.arange(n_neurons),
        _OBSERVED: observed,
        _UNOBSERVED: np.setdiff1d(np.arange(n_neurons), observed),
        _HELD_OUT: held_out,
    }
