"""Similarity of population dynamics: CCA on PCA latent factors, linear CKA, Procrustes and
neural predictivity, in sample and cross-validated, each next to its permutation null.

A population's activity is a matrix of samples x units: the samples are all (condition, time bin)
pairs of the movement window stacked condition by condition (:func:`stack_conditions`), the
columns are neurons or network units.

Metrics
-------
The first three compare the top-``k`` principal component *scores* of two populations
(:func:`pca_scores`), following Sussillo et al. (2015):

* **CCA** (:func:`canonical_correlations`): orthonormalise each ``(n_samples, k)`` score matrix
  by QR, ``Q_x`` and ``Q_y``; the canonical correlations are the singular values of
  ``Q_x^T Q_y`` (the cosines of the principal angles between the two k-dimensional latent
  subspaces), sorted descending and clipped to [0, 1]. The reported value is their mean. This is
  the closed-form solution, not scikit-learn's iterative CCA.
* **Linear CKA** (:func:`linear_cka`): with ``X_c``, ``Y_c`` the column-centred score matrices,
  ``CKA = ||Y_c^T X_c||_F^2 / (||X_c^T X_c||_F ||Y_c^T Y_c||_F)``, in [0, 1]. Unlike CCA it is
  weighted by the variance of each PC (it is invariant only to orthogonal transforms and
  isotropic scaling).
* **Angular Procrustes distance** (:func:`procrustes_angular`): ``X_n = X_c / ||X_c||_F`` and
  ``Y_n = Y_c / ||Y_c||_F``; ``d = arccos(||X_n^T Y_n||_*)`` (``||.||_*`` the nuclear norm, i.e.
  the largest ``<X_n, Y_n R>`` over orthogonal ``R``), in radians, in [0, pi/2]: 0 when one
  matrix is a rotated (and scaled) copy of the other, pi/2 when they are orthogonal.

The fourth maps units to neurons:

* **Neural predictivity**: ridge regression (with an intercept) from a model's units, through
  their top principal components, to each SOC neuron; the value is the median over a
  population's neurons of ``R^2 = 1 - SSE / SST`` (``SST`` about the neuron's mean over all
  samples). The penalty is chosen per fit by exact leave-one-condition-out (see
  :func:`compare_run`, :func:`ridge_loco_errors`).

Components, validation and nulls (:func:`compare_run`)
------------------------------------------------------
* **Component** ``full`` is the activity itself; ``condition`` is its condition-specific part:
  each unit's mean over conditions, per time bin, removed from model and SOC alike (Kaufman et
  al. 2016; :func:`condition_component`). The mean is taken over all conditions, also for
  cross-validated scores (it is the same for every permutation of the conditions). Its price:
  the held-out conditions' condition-specific parts sum to minus the training conditions', so
  cross-validated ``condition`` scores of unrelated activity keep a small positive bias
  (about +0.05 to +0.15 in CV CCA for random walks with 8 conditions), which the null shares:
  read them against ``null_mean``.
* **Validation** ``in_sample`` fits and scores on all samples. ``cross_validated`` fits every
  PCA, CCA weight, rotation and regression on training conditions only and scores the held-out
  ones: with ``C`` conditions there are ``C // 2`` folds and condition ``c`` is held out in fold
  ``c % (C // 2)`` (:func:`condition_folds`; for 8 reach directions each training set covers
  the circle). In-sample scores of a high-dimensional model are permissive: unrelated activity
  shares timing with the SOC and scores well above 0 in sample, near 0 cross-validated.
* **Permutation null**: every value comes with the same score of the model with its condition
  labels permuted (``n_permutations`` permutations, one set per run shared by every row), so a
  model that only shares the condition-independent timing scores at its null.

Cost. Nothing is refitted per permutation: the decompositions of a model do not depend on
the pairing of its conditions with the SOC's, the SOC's cross-validated decompositions are
cached per set of conditions and shared by every model, and every pairing's cross-products are
sums of per-(condition, condition) blocks computed once (see :func:`compare_run`).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg

from hintforce._validate import check_integer, check_number
from hintforce.study import (
    BASELINE,
    CEILING,
    COMPONENTS,
    HELD_OUT,
    METRICS,
    N_UNITS,
    POPULATIONS,
    REFERENCES,
    RELIABILITY,
    ROW_KEYS,
    SPECTRUM_KEYS,
    VALIDATIONS,
)

__all__ = [
    "BASELINE",
    "CEILING",
    "POPULATIONS",
    "RELIABILITY",
    "TABLE_COLUMNS",
    "SPECTRUM_COLUMNS",
    "PCAScores",
    "RunSimilarity",
    "SimilarityParams",
    "canonical_correlations",
    "canonical_variates",
    "compare_run",
    "condition_component",
    "condition_folds",
    "linear_cka",
    "max_k",
    "pca_scores",
    "procrustes_angular",
    "ridge_loco_errors",
    "stack_conditions",
]

logger = logging.getLogger(__name__)

# Names from the study's registry (unpacked so that a new population, metric, component or
# validation fails here until its science is added below).
_ALL, _OBSERVED, _UNOBSERVED, _HELD_OUT = POPULATIONS
if _HELD_OUT != HELD_OUT:
    raise ImportError(f"study.POPULATIONS must end with {HELD_OUT!r}, got {POPULATIONS}")
_CCA, _CKA, _PROCRUSTES, _PREDICTIVITY = (m.name for m in METRICS)
_HIGHER_IS_BETTER = {m.name: m.higher_is_better for m in METRICS}
_FULL, _CONDITION = COMPONENTS
_IN_SAMPLE, _CROSS_VALIDATED = VALIDATIONS

#: Columns of :attr:`RunSimilarity.table` and :attr:`RunSimilarity.spectra`.
TABLE_COLUMNS: tuple[str, ...] = (*ROW_KEYS, "value", "null_mean", "null_p", "above_null")
SPECTRUM_COLUMNS: tuple[str, ...] = (*SPECTRUM_KEYS, "index", "value")

# A unit is "constant" when its standard deviation over samples is below this fraction of the
# largest absolute value in the matrix: float64 rounding of a truly constant column leaves
# deviations ~1e-16 of its value, so 1e-12 separates rounding from any real modulation.
_CONSTANT_RTOL = 1e-12
# Eigenvalues of a Gram matrix are computed to ~1e-16 of the largest; directions whose variance
# is below this fraction of the largest count as numerically absent (singular values below
# 1e-6 of the largest).
_GRAM_RTOL = 1e-12


def stack_conditions(rates: np.ndarray) -> np.ndarray:
    """Stack conditions and time bins into samples.

    Parameters
    ----------
    rates : ndarray, shape (n_conditions, n_times, n_units)
        Activity of each unit (Hz, or network units) per condition and time bin.

    Returns
    -------
    ndarray, shape (n_conditions * n_times, n_units), float64
        Row ``c * n_times + t`` holds condition ``c`` at time bin ``t``.
    """
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 3:
        raise ValueError(
            f"rates must have shape (n_conditions, n_times, n_units), got shape {rates.shape}"
        )
    n_conditions, n_times, n_units = rates.shape
    return rates.reshape(n_conditions * n_times, n_units)


@dataclass(frozen=True)
class PCAScores:
    """Top principal component scores of one population.

    Attributes
    ----------
    scores : ndarray, shape (n_samples, k)
        ``U_k S_k`` of the column-centred matrix (columns have zero mean), ordered by
        decreasing variance. Sign convention: in each component's loading vector the entry of
        largest absolute value is positive (first such entry on exact ties).
    singular_values : ndarray, shape (k,)
        Singular values ``S_k`` of the centred matrix (``S_k**2 / (n_samples - 1)`` are the
        PC variances).
    n_dropped : int
        Number of constant (zero-variance) units removed before PCA.
    kept : ndarray of int, shape (n_kept,)
        Column indices of the units that entered the PCA.
    """

    scores: np.ndarray
    singular_values: np.ndarray
    n_dropped: int
    kept: np.ndarray


def _as_matrix(X: np.ndarray, name: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-d (n_samples, n_units) matrix, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return X


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    return int(k)


def pca_scores(X: np.ndarray, k: int, *, label: str = "X") -> PCAScores:
    """Top-``k`` principal component scores of a samples x units matrix.

    Columns are centred; constant units (zero variance: silent or saturated) are dropped first
    and counted in ``n_dropped`` (with a ``logging`` warning), so they never turn into NaN.
    The scores come from a thin SVD of the centred matrix, ``X_c = U S V^T``: scores
    ``= U[:, :k] S[:k]``. Because PCs are nested, the first ``j`` columns of the top-``k``
    scores are the top-``j`` scores.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_units)
        Activity, one row per (condition, time bin) sample.
    k : int
        Number of PCs to keep, ``1 <= k <= limit`` with ``limit`` the numerical rank of the
        centred matrix of non-constant units (at most ``min(n_samples - 1, n_kept_units)``).
    label : str, optional
        Name of the matrix used in error and log messages.

    Returns
    -------
    PCAScores

    Raises
    ------
    ValueError
        If ``X`` is not a finite 2-d matrix, or ``k`` exceeds the limit (the message names
        ``k``, the limit and why).
    """
    X = _as_matrix(X, label)
    k = _check_k(k)
    n_samples, n_units = X.shape
    Xc = X - X.mean(axis=0)
    scale = float(np.max(np.abs(X))) if X.size else 0.0
    constant = Xc.std(axis=0) <= _CONSTANT_RTOL * scale
    n_dropped = int(np.count_nonzero(constant))
    kept = np.flatnonzero(~constant)
    if n_dropped:
        logger.warning(
            "%s: dropped %d constant unit(s) of %d before PCA", label, n_dropped, n_units
        )
        Xc = Xc[:, kept]
    limit = min(n_samples - 1, kept.size)
    if k > limit:
        raise ValueError(
            f"k={k} exceeds the number of PCs available for {label}: limit {limit} "
            f"(= min(n_samples - 1, non-constant units) with n_samples={n_samples}, "
            f"{kept.size} non-constant of {n_units} units)"
        )
    U, S, Vt = np.linalg.svd(Xc, full_matrices=False)
    rank = int(np.count_nonzero(S > S[0] * max(Xc.shape) * np.finfo(np.float64).eps))
    if k > rank:
        raise ValueError(
            f"k={k} exceeds the numerical rank of {label}: limit {rank} "
            f"({kept.size} non-constant units, n_samples={n_samples})"
        )
    U, S, Vt = U[:, :k], S[:k], Vt[:k]
    pivot = np.argmax(np.abs(Vt), axis=1)
    signs = np.sign(Vt[np.arange(k), pivot])
    scores = U * (S * signs)
    return PCAScores(scores=scores, singular_values=S.copy(), n_dropped=n_dropped, kept=kept)


def _cca_from_scores(
    Sx: np.ndarray, Sy: np.ndarray, variates: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canonical correlations of two score matrices (n_samples, k): sorted, in [0, 1].

    With ``variates``, also the canonical variates ``Q_x U`` and ``Q_y V`` (columns in the
    order of the correlations) from the SVD ``Q_x^T Q_y = U diag(rho) V^T``.
    """
    Qx = np.linalg.qr(Sx)[0]
    Qy = np.linalg.qr(Sy)[0]
    if not variates:
        return np.clip(np.linalg.svd(Qx.T @ Qy, compute_uv=False), 0.0, 1.0)
    U, rho, Vt = np.linalg.svd(Qx.T @ Qy)
    return Qx @ U, Qy @ Vt.T, np.clip(rho, 0.0, 1.0)


def _cka_from_scores(Sx: np.ndarray, Sy: np.ndarray) -> float:
    """Linear CKA of two score matrices (re-centred for safety)."""
    Xc = Sx - Sx.mean(axis=0)
    Yc = Sy - Sy.mean(axis=0)
    num = np.linalg.norm(Yc.T @ Xc, "fro") ** 2
    den = np.linalg.norm(Xc.T @ Xc, "fro") * np.linalg.norm(Yc.T @ Yc, "fro")
    return float(np.clip(num / den, 0.0, 1.0))


def _procrustes_from_scores(Sx: np.ndarray, Sy: np.ndarray) -> float:
    """Angular Procrustes distance (radians) of two score matrices."""
    Xc = Sx - Sx.mean(axis=0)
    Yc = Sy - Sy.mean(axis=0)
    Xn = Xc / np.linalg.norm(Xc, "fro")
    Yn = Yc / np.linalg.norm(Yc, "fro")
    nuclear = np.linalg.svd(Xn.T @ Yn, compute_uv=False).sum()
    return float(np.arccos(np.clip(nuclear, 0.0, 1.0)))


def _paired_scores(X: np.ndarray, Y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    X = _as_matrix(X, "X")
    Y = _as_matrix(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"X and Y must have the same number of samples (rows), got {X.shape[0]} and "
            f"{Y.shape[0]}"
        )
    return pca_scores(X, k, label="X").scores, pca_scores(Y, k, label="Y").scores


def canonical_correlations(X: np.ndarray, Y: np.ndarray, k: int) -> np.ndarray:
    """Canonical correlations between the top-``k`` PCA latent factors of two populations.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_units_x)
    Y : ndarray, shape (n_samples, n_units_y)
        Activity of the two populations on the same samples (rows).
    k : int
        Number of PCs kept in each population (see :func:`pca_scores` for the limit).

    Returns
    -------
    ndarray, shape (k,)
        Singular values of ``Q_x^T Q_y`` (``Q`` from the QR of each score matrix), sorted
        descending, in [0, 1]. Their mean is the reported similarity.
    """
    Sx, Sy = _paired_scores(X, Y, k)
    return _cca_from_scores(Sx, Sy)


def canonical_variates(
    X: np.ndarray, Y: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canonical variates of the top-``k`` PCA latent factors of two populations.

    Arguments as in :func:`canonical_correlations`.

    Returns
    -------
    Xv, Yv : ndarray, shape (n_samples, k)
        Orthonormal columns: the two populations' latent factors rotated onto their canonical
        directions, column ``j`` of ``Xv`` and of ``Yv`` correlating by ``rho[j]``
        (``Xv[:, j] @ Yv[:, j] == rho[j]``); samples in the row order of ``X`` and ``Y``.
    rho : ndarray, shape (k,)
        The canonical correlations, descending (as :func:`canonical_correlations`).
    """
    Sx, Sy = _paired_scores(X, Y, k)
    return _cca_from_scores(Sx, Sy, variates=True)


def linear_cka(X: np.ndarray, Y: np.ndarray, k: int) -> float:
    """Linear CKA between the top-``k`` PCA score matrices of two populations.

    ``||Y_c^T X_c||_F^2 / (||X_c^T X_c||_F ||Y_c^T Y_c||_F)`` on the centred ``(n_samples, k)``
    scores; dimensionless, in [0, 1], 1 when ``Y`` is an orthogonal transform plus isotropic
    scaling (and offset) of ``X``. Arguments as in :func:`canonical_correlations`.
    """
    Sx, Sy = _paired_scores(X, Y, k)
    return _cka_from_scores(Sx, Sy)


def procrustes_angular(X: np.ndarray, Y: np.ndarray, k: int) -> float:
    """Angular Procrustes distance between the top-``k`` PCA score matrices, in radians.

    ``arccos(||X_n^T Y_n||_*)`` with ``X_n``, ``Y_n`` the centred scores divided by their
    Frobenius norms; in [0, pi/2], 0 for a rotated (and scaled, offset) copy. Arguments as in
    :func:`canonical_correlations`.
    """
    Sx, Sy = _paired_scores(X, Y, k)
    return _procrustes_from_scores(Sx, Sy)


# ---------------------------------------------------------------------------------------------
# Parameters, components, folds and limits


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


def condition_component(rates: np.ndarray) -> np.ndarray:
    """Condition-specific part of activity: each unit's mean over conditions removed.

    Parameters
    ----------
    rates : ndarray, shape (n_conditions, n_times, n_units)

    Returns
    -------
    ndarray, same shape, float64
        ``rates[c, t] - mean_c' rates[c', t]`` (Kaufman et al. 2016). Invariant to, and
        commuting with, any permutation of the conditions.
    """
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 3:
        raise ValueError(
            f"rates must have shape (n_conditions, n_times, n_units), got shape {rates.shape}"
        )
    return rates - rates.mean(axis=0, keepdims=True)


def _check_conditions(n_conditions: int) -> None:
    check_integer("n_conditions", n_conditions)
    if n_conditions < 4:
        raise ValueError(
            f"cross-validation over conditions needs n_conditions >= 4 (n_conditions // 2 >= 2 "
            f"folds, each training set with >= 2 conditions for the leave-one-condition-out "
            f"penalty choice), got {n_conditions}"
        )


def condition_folds(n_conditions: int) -> tuple[np.ndarray, ...]:
    """Held-out conditions of each cross-validation fold.

    With ``C`` conditions there are ``C // 2`` folds and condition ``c`` is held out in fold
    ``c % (C // 2)``: for 8 reach directions, folds {0, 4}, {1, 5}, {2, 6}, {3, 7}, so every
    training set covers the circle of directions. Requires ``C >= 4``.

    Returns
    -------
    tuple of ndarray of int
        One ascending array of held-out conditions per fold.
    """
    _check_conditions(n_conditions)
    n_folds = n_conditions // 2
    return tuple(np.arange(f, n_conditions, n_folds) for f in range(n_folds))


def _k_limits(
    n_neurons: int,
    n_observed: int,
    n_held_out: int,
    n_units: int,
    n_conditions: int,
    n_times: int,
) -> dict[str, int]:
    """Upper bound on ``k`` from each structural constraint, with a description of each."""
    for name, value in (
        ("n_neurons", n_neurons),
        ("n_observed", n_observed),
        ("n_held_out", n_held_out),
        (N_UNITS, n_units),
        ("n_times", n_times),
    ):
        check_integer(name, value)
    _check_conditions(n_conditions)
    if n_observed >= n_neurons:
        raise ValueError(
            f"n_observed must leave at least one of n_neurons={n_neurons} neurons unobserved, "
            f"got {n_observed}"
        )
    if n_held_out > n_neurons - n_observed:
        raise ValueError(
            f"n_held_out must not exceed the {n_neurons - n_observed} unobserved neurons, got "
            f"{n_held_out}"
        )
    sizes = {
        _ALL: n_neurons,
        _OBSERVED: n_observed,
        _UNOBSERVED: n_neurons - n_observed,
        _HELD_OUT: n_held_out,
    }
    limits = {
        f"population {p!r} (split half of {size // 2} neurons)": size // 2
        for p, size in sizes.items()
    }
    limits[f"the model units ({n_units})"] = n_units
    n_train = n_conditions - max(f.size for f in condition_folds(n_conditions))
    limits[
        f"a cross-validation training fold ({n_train} conditions x {n_times} time bins, "
        f"minus 1 for centring)"
    ] = n_train * n_times - 1
    return limits


def max_k(
    n_neurons: int,
    n_observed: int,
    n_held_out: int,
    n_units: int,
    n_conditions: int,
    n_times: int,
) -> int:
    """Largest ``k`` every population, every split half and every CV training fold supports.

    The binding constraints are the smaller half of each population (``size // 2`` neurons,
    the split-half reliability row), the model units, and the samples of the smallest
    cross-validation training set (``(C - largest fold) * n_times - 1`` after centring; it
    also bounds the ``condition`` component, whose in-sample rank is ``(C - 1) * n_times``).
    The data can have a lower numerical rank; :func:`compare_run` then raises.

    Parameters
    ----------
    n_neurons : int
        SOC neurons.
    n_observed : int
        Observed SOC neurons, ``1 <= n_observed < n_neurons``.
    n_held_out : int
        Neurons of the fixed held-out set, at most the unobserved.
    n_units : int
        Units of each model.
    n_conditions, n_times : int
        Conditions (>= 4) and time bins.

    Returns
    -------
    int
        The limit (0 when some population has a single neuron, so no split half exists).
    """
    return min(
        _k_limits(n_neurons, n_observed, n_held_out, n_units, n_conditions, n_times).values()
    )


# ---------------------------------------------------------------------------------------------
# Decompositions and ridge regression


@dataclass(frozen=True)
class _Eigen:
    """PCA of a matrix's rows of some conditions (the training rows), applied to all rows.

    ``scores`` are ``(X - mean) V`` for every row of ``X``, with ``mean`` the training rows'
    mean and ``V`` the eigenvectors of their centred Gram matrix, in order of decreasing
    eigenvalue ``lam`` (so the training rows' scores are centred and orthogonal, with squared
    norms ``lam``). Only eigenvalues above ``_GRAM_RTOL`` of the largest are kept.
    """

    lam: np.ndarray
    scores: np.ndarray

    def top(self, n: int) -> _Eigen:
        return _Eigen(self.lam[:n], self.scores[:, :n])


class _Blocks:
    """A samples x units matrix cut into condition blocks, with cached per-condition sums and
    Grams (the Gram matrix of any set of conditions is a sum) and cached decompositions."""

    def __init__(self, X: np.ndarray, n_conditions: int, label: str) -> None:
        self.X = X - X.mean(axis=0)  # a global shift changes nothing below, helps rounding
        self.n, self.u = X.shape
        self.C = n_conditions
        self.T = self.n // n_conditions
        self.label = label
        self._blocks = self.X.reshape(self.C, self.T, self.u)
        self._sums = self._blocks.sum(axis=1)
        self._grams: np.ndarray | None = None
        self._total: np.ndarray | None = None
        self._cache: dict[tuple[int, ...], tuple[int | None, _Eigen]] = {}

    def rows(self, conditions: np.ndarray) -> np.ndarray:
        """Row indices of the conditions' samples, condition by condition."""
        return (np.asarray(conditions)[:, None] * self.T + np.arange(self.T)).ravel()

    def eigen(self, conditions: np.ndarray, top: int | None = None) -> _Eigen:
        """Decomposition on the given conditions: all components, or at least the top ``top``
        (cached per set of conditions)."""
        key = tuple(sorted(int(c) for c in conditions))
        cached = self._cache.get(key)
        if cached is not None and (cached[0] is None or (top is not None and cached[0] >= top)):
            eig = cached[1]
        else:
            eig = self._eigen(np.array(key), top)
            self._cache[key] = (top, eig)
        return eig if top is None else eig.top(top)

    def _eigen(self, conditions: np.ndarray, top: int | None) -> _Eigen:
        n_train = conditions.size * self.T
        mean = self._sums[conditions].sum(axis=0) / n_train
        if self.u <= n_train:
            if self._grams is None:
                self._grams = np.matmul(self._blocks.transpose(0, 2, 1), self._blocks)
                self._total = self._grams.sum(axis=0)
            if 2 * conditions.size > self.C:  # fewer matrices to subtract than to add
                rest = np.setdiff1d(np.arange(self.C), conditions)
                gram = self._total - self._grams[rest].sum(axis=0)
            else:
                gram = self._grams[conditions].sum(axis=0)
            gram -= n_train * np.outer(mean, mean)
            lam, vectors = _top_eigh(gram, top)
        else:  # more units than samples: eigenvectors of the samples' Gram (kernel) matrix
            centred = self.X[self.rows(conditions)] - mean
            lam, vectors = _top_eigh(centred @ centred.T, top)
            vectors = centred.T @ (vectors / np.sqrt(lam))
        return _Eigen(lam=lam, scores=self.X @ vectors - mean @ vectors)


def _top_eigh(gram: np.ndarray, top: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of a symmetric PSD matrix, decreasing, above ``_GRAM_RTOL`` of the largest;
    the top ``top`` only when given (a partial decomposition only pays off for a few
    components of a large matrix)."""
    size = gram.shape[0]
    if top is not None and size >= max(100, 8 * top):
        lam, vectors = scipy.linalg.eigh(gram, subset_by_index=[size - top, size - 1])
    else:
        lam, vectors = np.linalg.eigh(gram)
    lam, vectors = lam[::-1], vectors[:, ::-1]
    largest = float(lam[0])
    keep = lam > _GRAM_RTOL * largest if largest > 0 else np.zeros(lam.size, dtype=bool)
    if top is not None:
        keep[top:] = False
    return lam[keep], np.ascontiguousarray(vectors[:, keep])


def _loco_sse(
    scores: np.ndarray,
    lam: np.ndarray,
    Yc: np.ndarray,
    n_groups: int,
    penalties: np.ndarray,
) -> np.ndarray:
    """Leave-one-group-out squared errors of ridge regression, for every penalty.

    ``scores`` (n, r) are the centred predictors in their eigenbasis (``scores.T @ scores =
    diag(lam)``), ``Yc`` (n, n_targets) the centred targets, the rows ``n_groups`` contiguous
    groups of equal size. With an unpenalised intercept the hat matrix is
    ``H = 11^T / n + S diag(1 / (lam + penalty)) S^T``; the residual of group ``g`` when it is
    left out of the fit is exactly ``(I - H_gg)^{-1} r_g`` with ``r`` the in-sample residual,
    so every penalty costs one pass over the rows and no refit.

    Returns
    -------
    ndarray, shape (n_penalties, n_targets)
        Sums of squared leave-one-group-out residuals.
    """
    n, r = scores.shape
    size = n // n_groups
    coefficients = scores.T @ Yc
    groups = scores.reshape(n_groups, size, r).transpose(0, 2, 1)
    identity = np.eye(size)
    out = np.empty((penalties.size, Yc.shape[1]))
    for i, penalty in enumerate(penalties):
        shrunk = scores / (lam + penalty)
        residual = (Yc - shrunk @ coefficients).reshape(n_groups, size, -1)
        hat = np.matmul(shrunk.reshape(n_groups, size, r), groups) + 1.0 / n
        loo = np.linalg.solve(identity - hat, residual)
        out[i] = np.einsum("gtj,gtj->j", loo, loo)
    return out


def _loco_criterion(
    scores: np.ndarray,
    lam: np.ndarray,
    Yc: np.ndarray,
    n_groups: int,
    penalties: np.ndarray,
    weights: np.ndarray,
) -> np.ndarray:
    """``sum_j weights_j * LOCO-SSE_j`` for every penalty (the weighted sum over targets of
    :func:`_loco_sse`), by refitting without each group in closed form.

    Leaving group ``g`` out, the ridge on the r features has Gram ``G_-g`` and cross-product
    ``c_-g`` (centred on the remaining rows: the intercept is refitted too), both obtained by
    subtracting the group's own sums from the totals. One eigendecomposition
    ``G_-g = W diag(nu) W^T`` per group gives the coefficients of every penalty,
    ``W diag(1 / (nu + penalty)) W^T c_-g``, so the weighted squared error of the left-out rows
    is ``||Y~||^2 - 2 delta . a + delta^T Phi delta`` with ``delta = 1 / (nu + penalty)`` and
    ``a``, ``Phi`` computed once per group: each penalty costs O(r^2), whatever the numbers of
    samples and targets. Equal to the hat-matrix form (:func:`_loco_sse`) to rounding.
    """
    n, r = scores.shape
    size = n // n_groups
    n_rest = n - size
    Yw = Yc * np.sqrt(weights)
    totals = scores.T @ Yw  # the features and targets are centred: their sums are zero
    F = scores.reshape(n_groups, size, r)
    Yg = Yw.reshape(n_groups, size, -1)
    f_mean = -F.sum(axis=1) / n_rest  # (G, r) means of the remaining rows
    y_mean = -Yg.sum(axis=1) / n_rest
    Ft = F.transpose(0, 2, 1)
    gram = np.diag(lam) - Ft @ F - n_rest * f_mean[:, :, None] * f_mean[:, None, :]
    cross = totals - Ft @ Yg - n_rest * f_mean[:, :, None] * y_mean[:, None, :]
    nu, W = np.linalg.eigh(gram)
    Wt = W.transpose(0, 2, 1)
    C_hat = Wt @ cross  # (G, r, N)
    A = (F - f_mean[:, None, :]) @ W  # left-out features about the remaining mean, rotated
    Y_left = Yg - y_mean[:, None, :]
    a = np.einsum("gij,gij->gi", A.transpose(0, 2, 1) @ Y_left, C_hat)
    Phi = (A.transpose(0, 2, 1) @ A) * (C_hat @ C_hat.transpose(0, 2, 1))
    delta = 1.0 / (nu[:, None, :] + penalties[None, :, None])  # (G, n_penalties, r)
    loo = (
        np.einsum("gtj,gtj->g", Y_left, Y_left)[:, None]
        - 2 * np.einsum("gli,gi->gl", delta, a)
        + np.einsum("gli,gik,glk->gl", delta, Phi, delta)
    )
    return loo.sum(axis=0)


def _choose_penalty(
    scores: np.ndarray,
    lam: np.ndarray,
    Yc: np.ndarray,
    n_groups: int,
    grid: np.ndarray,
    valid: np.ndarray,
) -> float:
    """The grid penalty (relative to ``lam[0]``) with the best mean leave-one-group-out R^2
    over the valid targets: one penalty for all targets at once."""
    penalties = grid * lam[0]
    sst = np.einsum("ij,ij->j", Yc, Yc)
    usable = valid & (sst > 0)
    if not usable.any():
        return float(penalties[-1])
    weights = np.zeros(sst.size)
    weights[usable] = 1.0 / sst[usable]
    criterion = _loco_criterion(scores, lam, Yc, n_groups, penalties, weights)
    return float(penalties[int(np.argmin(criterion))])


def ridge_loco_errors(
    X: np.ndarray, Y: np.ndarray, n_groups: int, penalties: np.ndarray
) -> np.ndarray:
    """Leave-one-group-out squared errors of ridge regression with an intercept, exactly.

    The leave-one-group-out residuals come from the hat-matrix blocks of one eigendecomposition
    of the centred ``X`` (see :func:`compare_run`), the shortcut that chooses every penalty.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_units)
        Predictors; rows in ``n_groups`` contiguous groups of equal size (e.g. conditions).
    Y : ndarray, shape (n_samples, n_targets)
    n_groups : int
        Number of groups (>= 2), dividing ``n_samples``.
    penalties : array_like
        Absolute ridge penalties (> 0) on the coefficients of the units (not the intercept).

    Returns
    -------
    ndarray, shape (n_penalties, n_targets)
        For each penalty and target, the sum over groups of the squared residuals of the
        group's samples predicted by the ridge fitted (with its own intercept) on the other
        groups.
    """
    X = _as_matrix(X, "X")
    Y = _as_matrix(Y, "Y")
    check_integer("n_groups", n_groups, low=2)
    if X.shape[0] != Y.shape[0] or X.shape[0] % n_groups:
        raise ValueError(
            f"X and Y must have the same number of rows, a multiple of n_groups={n_groups}, got "
            f"{X.shape[0]} and {Y.shape[0]}"
        )
    penalties = np.asarray(penalties, dtype=np.float64).ravel()
    if not np.all(penalties > 0):
        raise ValueError(f"penalties must be > 0, got {penalties}")
    eig = _Blocks(X, n_groups, "X").eigen(np.arange(n_groups))
    return _loco_sse(eig.scores, eig.lam, Y - Y.mean(axis=0), n_groups, penalties)


# ---------------------------------------------------------------------------------------------
# One run


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


def _metrics_in_sample(
    cross: np.ndarray, lam_x: np.ndarray, lam_y: np.ndarray, k: int
) -> tuple[np.ndarray, ...]:
    """In-sample CCA (means and spectra), CKA and Procrustes, one per pairing.

    ``cross`` (n_pairings, K, K) holds ``X^T Y`` of the centred PC scores of the two
    populations (``X^T X = diag(lam_x)``, ``Y^T Y = diag(lam_y)``), the rows of ``Y`` paired
    with those of ``X`` by each pairing of the conditions.
    """
    S = cross[:, :k, :k]
    lx, ly = lam_x[:k], lam_y[:k]
    rho = np.clip(_singular_values(S / np.sqrt(lx)[:, None] / np.sqrt(ly)), 0.0, 1.0)
    cka = np.einsum("pij,pij->p", S, S) / (np.linalg.norm(lx) * np.linalg.norm(ly))
    nuclear = _singular_values(S).sum(axis=1) / np.sqrt(lx.sum() * ly.sum())
    procrustes = np.arccos(np.clip(nuclear, 0.0, 1.0))
    return rho.mean(axis=1), rho, np.clip(cka, 0.0, 1.0), procrustes


def _right_singular(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right singular vectors and singular values (descending) of a stack of square matrices,
    from the eigendecomposition of ``M^T M`` (cheaper than an SVD for many small matrices)."""
    squared, V = np.linalg.eigh(M.swapaxes(-1, -2) @ M)
    return V[..., ::-1], np.sqrt(np.clip(squared[..., ::-1], 0.0, None))


def _singular_values(M: np.ndarray) -> np.ndarray:
    """Singular values (descending) of a stack of square matrices."""
    squared = np.linalg.eigvalsh(M.swapaxes(-1, -2) @ M)[..., ::-1]
    return np.sqrt(np.clip(squared, 0.0, None))


def _metrics_cross_validated(
    cross: np.ndarray,
    lam_x: np.ndarray,
    lam_y: np.ndarray,
    test_xx: np.ndarray,
    test_yy: np.ndarray,
    test_xy: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cross-validated CCA, CKA and Procrustes, averaged over folds, one per pairing.

    Per fold ``f`` and pairing ``p``: ``cross[f, p]`` is ``X^T Y`` of the training PC scores
    (``lam_x[f]``, ``lam_y[f, p]`` their squared norms), ``test_xx[f]``, ``test_yy[f, p]``,
    ``test_xy[f, p]`` the cross-products of the held-out PC projections, centred on the
    held-out samples.
    """
    S = cross[..., :k, :k]
    lx = lam_x[:, None, :k]
    ly = lam_y[..., :k]
    xx = test_xx[:, None, :k, :k]
    yy = test_yy[..., :k, :k]
    xy = test_xy[..., :k, :k]
    # CCA directions of the training scores (whitened cross-covariance M = U diag(rho) V^T),
    # applied held out; a held-out correlation ignores the scale of M V = U diag(rho)
    M = S / np.sqrt(lx)[..., :, None] / np.sqrt(ly)[..., None, :]
    V, _ = _right_singular(M)
    wx = (M @ V) / np.sqrt(lx)[..., :, None]
    wy = V / np.sqrt(ly)[..., :, None]
    cov = np.einsum("...ij,...ik,...kj->...j", wx, xy, wy)
    var_x = np.einsum("...ij,...ik,...kj->...j", wx, xx, wx)
    var_y = np.einsum("...ij,...ik,...kj->...j", wy, yy, wy)
    denom = np.sqrt(var_x * var_y)
    corr = np.divide(cov, denom, out=np.zeros_like(cov), where=denom > 0)
    cca = corr.mean(axis=-1).mean(axis=0)
    # CKA of the held-out projections
    norm_x = np.sqrt(np.einsum("...ij,...ij->...", xx, xx))
    norm_y = np.sqrt(np.einsum("...ij,...ij->...", yy, yy))
    cka = np.clip(np.einsum("...ij,...ij->...", xy, xy) / (norm_x * norm_y), 0.0, 1.0)
    cka = cka.mean(axis=0)
    # Procrustes: rotation of the normalised training scores, angle on the held-out ones
    V, sigma = _right_singular(S)  # rotation U V^T = S V diag(1 / sigma) V^T
    inverse = np.divide(1.0, sigma, out=np.zeros_like(sigma), where=sigma > 1e-12 * sigma[..., :1])
    rotation = (S @ V * inverse[..., None, :]) @ V.swapaxes(-1, -2)
    trace_x = np.trace(xx, axis1=-2, axis2=-1)
    trace_y = np.trace(yy, axis1=-2, axis2=-1)
    cosine = np.einsum("...ij,...ij->...", rotation, xy) / np.sqrt(trace_x * trace_y)
    procrustes = np.arccos(np.clip(cosine, -1.0, 1.0)).mean(axis=0)
    return cca, cka, procrustes


def _one_hot(perms: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """(n_pairings, len(sources) * C): 1 at (source condition i, its paired condition)."""
    n_perm, C = perms.shape
    out = np.zeros((n_perm, sources.size, C))
    out[np.arange(n_perm)[:, None], np.arange(sources.size), perms[:, sources]] = 1.0
    return out.reshape(n_perm, sources.size * C)


def _predictivity(
    source: _Blocks,
    targets: np.ndarray,
    valid: np.ndarray,
    trains: list[np.ndarray],
    tests: list[np.ndarray],
    perms: np.ndarray,
    grid: np.ndarray,
    n_pcs: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge R^2 of every target from the source's top PCs, in sample and cross-validated.

    ``perms[p, a]`` is the target condition paired with source condition ``a`` (row 0 is the
    identity). Returns two arrays (n_pairings, n_targets), NaN for invalid (constant) targets.
    Every pairing reuses the source's decompositions and the penalty chosen for the real
    pairing; its coefficients are sums of (source condition, target condition) block
    products computed once, and its squared errors follow from r x r Gram matrices.
    """
    C, T = source.C, source.T
    n_perm = perms.shape[0]
    Y = targets - targets.mean(axis=0)
    sst = np.einsum("ij,ij->j", Y, Y)
    safe_sst = np.where(sst > 0, sst, 1.0)
    n_t = Y.shape[1]
    Yb = Y.reshape(C, T, n_t)
    Y_cols = Yb.transpose(1, 0, 2).reshape(T, C * n_t)  # [t, (condition, target)]
    cond_sums = Yb.sum(axis=1)
    cond_squares = np.einsum("ctj,ctj->cj", Yb, Yb)

    def paired(S: np.ndarray, conditions: np.ndarray) -> np.ndarray:
        """``sum_a S[a]^T Y[perms[p, a]]`` for every pairing ``p``: (n_perm, r, n_t)."""
        A, r = conditions.size, S.shape[1]
        blocks = S.reshape(A, T, r).transpose(0, 2, 1).reshape(A * r, T) @ Y_cols
        blocks = blocks.reshape(A, r, C, n_t).transpose(0, 2, 1, 3).reshape(A * C, r * n_t)
        return (_one_hot(perms, conditions) @ blocks).reshape(n_perm, r, n_t)

    # in sample: one fit on all conditions; SSE = SST - sum_i (2 d_i - d_i^2) z_i^2 / lam_i
    all_conditions = np.arange(C)
    eig = source.eigen(all_conditions, n_pcs)
    penalty = _choose_penalty(eig.scores, eig.lam, Y, C, grid, valid)
    d = eig.lam / (eig.lam + penalty)
    weight = (2 * d - d**2) / eig.lam
    explained = np.einsum("prj,r->pj", paired(eig.scores, all_conditions) ** 2, weight)
    in_sample = 1.0 - (sst - explained) / safe_sst

    # cross-validated: squared held-out errors pooled over folds
    sse = np.zeros((n_perm, n_t))
    for train, test in zip(trains, tests, strict=True):
        eig = source.eigen(train, n_pcs)
        train_rows, test_rows = source.rows(train), source.rows(test)
        S_train, S_test = eig.scores[train_rows], eig.scores[test_rows]
        Y_train = Y[train_rows]
        penalty = _choose_penalty(
            S_train, eig.lam, Y_train - Y_train.mean(axis=0), train.size, grid, valid
        )
        beta = paired(S_train, train) / (eig.lam + penalty)[:, None]  # (n_perm, r, n_t)
        # held-out targets about the training mean: a = Y'_test - mean(Y'_train)
        mean = cond_sums[perms[:, train]].sum(axis=1) / train_rows.size
        total = cond_sums[perms[:, test]].sum(axis=1)
        a_squared = (
            cond_squares[perms[:, test]].sum(axis=1) - 2 * mean * total + test_rows.size * mean**2
        )
        a_cross = paired(S_test, test) - S_test.sum(axis=0)[:, None] * mean[:, None, :]
        predicted_squared = np.einsum("prj,prj->pj", beta, np.matmul(S_test.T @ S_test, beta))
        sse += a_squared - 2 * np.einsum("prj,prj->pj", a_cross, beta) + predicted_squared
    cross_validated = 1.0 - sse / safe_sst
    in_sample[:, ~valid] = np.nan
    cross_validated[:, ~valid] = np.nan
    return in_sample, cross_validated


def _median(values: np.ndarray, columns: np.ndarray) -> np.ndarray:
    values = values[:, columns]
    if not np.isnan(values).any():
        return np.median(values, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a population of constant neurons
        return np.nanmedian(values, axis=1)


class _Run:
    """The sources, targets and pairings of one run, and the table they produce."""

    def __init__(
        self,
        soc_rates: np.ndarray,
        model_rates: dict[str, np.ndarray],
        populations: dict[str, np.ndarray],
        halves: dict[str, tuple[np.ndarray, np.ndarray]],
        perms: np.ndarray,
        params: SimilarityParams,
    ) -> None:
        self.soc_rates = soc_rates
        self.model_rates = model_rates
        self.C, self.T = soc_rates.shape[:2]
        self.perms = perms
        self.params = params
        self.k_max = max(params.ks)
        self.tests = list(condition_folds(self.C))
        self.trains = [np.setdiff1d(np.arange(self.C), test) for test in self.tests]
        self.sources = {name: _Matrix(name, model=name) for name in model_rates}
        self.sources[CEILING] = _Matrix(f"soc/{_ALL}", populations[_ALL])
        self.sources[BASELINE] = _Matrix(f"soc/{_OBSERVED}", populations[_OBSERVED])
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
        self.dropped: dict[str, int] = {}
        self.values: dict[tuple, np.ndarray] = {}  # row keys -> value and its nulls
        self.spectra: list[tuple] = []
        self.model_scales = {m: float(np.max(np.abs(r))) for m, r in model_rates.items()}
        self.soc_scale = float(np.max(np.abs(soc_rates)))

    def score(self, component: str) -> None:
        """Fill ``values`` and ``spectra`` for one component."""
        transform = {_FULL: stack_conditions, _CONDITION: _condition_samples}[component]
        soc = transform(self.soc_rates)
        models = {m: transform(r) for m, r in self.model_rates.items()}
        soc_constant = soc.std(axis=0) <= _CONSTANT_RTOL * self.soc_scale
        suffix = "" if component == _FULL else f"/{component}"
        cache: dict[tuple, _Blocks] = {}

        def blocks_of(matrix: _Matrix) -> _Blocks:
            if matrix.model is not None:
                X = models[matrix.model]
                constant = X.std(axis=0) <= _CONSTANT_RTOL * self.model_scales[matrix.model]
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
        for model, population, s, t in self.pairs:
            key = (model, population)
            self._pca_metrics(key, component, sources[s], paired[t])
            union, in_sample, cross_validated = r2[s]
            columns = np.searchsorted(union, self.targets[t].columns)
            k = self.k_max
            self.values[(*key, _PREDICTIVITY, k, component, _IN_SAMPLE)] = _median(
                in_sample, columns
            )
            self.values[(*key, _PREDICTIVITY, k, component, _CROSS_VALIDATED)] = _median(
                cross_validated, columns
            )

    def _blocks(self, X: np.ndarray, constant: np.ndarray, label: str) -> _Blocks:
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
        return _Blocks(X[:, ~constant], self.C, label)

    def _source_predictivity(
        self, source: str, blocks: _Blocks, soc: np.ndarray, soc_constant: np.ndarray
    ) -> tuple:
        """Held-out R² of every SOC neuron any pairing of ``source`` targets, from ``source``.

        Returns the neurons (sorted) and their in-sample and cross-validated R² with the null
        pairings (see :func:`_predictivity`).
        """
        n_top = max(self.params.n_predictor_pcs, self.k_max)
        self._check_rank(blocks, np.arange(self.C), n_top)
        for train in self.trains:
            self._check_rank(blocks, train, n_top)
        columns = [self.targets[t].columns for (_, _, src, t) in self.pairs if src == source]
        union = np.unique(np.concatenate(columns))
        return (
            union,
            *_predictivity(
                blocks,
                soc[:, union],
                ~soc_constant[union],
                self.trains,
                self.tests,
                self.perms,
                self.params.penalty_grid,
                self.params.n_predictor_pcs,
            ),
        )

    def _check_rank(self, blocks: _Blocks, conditions: np.ndarray, top: int | None) -> _Eigen:
        eig = blocks.eigen(conditions, top)
        if eig.lam.size < self.k_max:
            raise ValueError(
                f"k={self.k_max} exceeds the numerical rank of {blocks.label} on conditions "
                f"{sorted(int(c) for c in conditions)}: limit {eig.lam.size}"
            )
        return eig

    def _paired_target(self, blocks: _Blocks) -> tuple:
        """A target's top PC scores, rows paired with the source's by every pairing.

        In sample: ``(scores (n, n_perm * K), lam (K,))``. Cross-validated, per fold: the
        training rows' scores ``(n_train, n_perm * K)``, the held-out ones centred on the
        held-out samples ``(n_test, n_perm * K)``, their variances ``lam (n_perm, K)`` and the
        held-out cross-products ``(n_perm, K, K)``. Pairing ``p`` gives the source's training
        conditions the target conditions ``perms[p, train]``, on which the target's PCA is
        fitted (cached per set of conditions).
        """
        C, T, K, perms = self.C, self.T, self.k_max, self.perms
        n_perm = perms.shape[0]
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
        self, key: tuple[str, str], component: str, source: _Blocks, target: tuple
    ) -> None:
        """CCA, CKA and Procrustes of one row, in sample and cross-validated."""
        C, K, ks = self.C, self.k_max, self.params.ks
        n_perm = self.perms.shape[0]
        (paired, lam_y), folds = target
        eig = source.eigen(np.arange(C), K)
        cross = (eig.scores.T @ paired).reshape(K, n_perm, K).transpose(1, 0, 2)
        for k in ks:
            cca, rho, cka, procrustes = _metrics_in_sample(cross, eig.lam, lam_y, k)
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
        for k in ks:
            cca, cka, procrustes = _metrics_cross_validated(
                cross, lam_x, lam_y, test_xx, test_yy, test_xy, k
            )
            self.values[(*key, _CCA, k, component, _CROSS_VALIDATED)] = cca
            self.values[(*key, _CKA, k, component, _CROSS_VALIDATED)] = cka
            self.values[(*key, _PROCRUSTES, k, component, _CROSS_VALIDATED)] = procrustes

    def table(self) -> pd.DataFrame:
        orders = self._orders()
        keys = sorted(self.values, key=lambda key: [o[x] for o, x in zip(orders, key, strict=True)])
        rows = []
        for key in keys:
            scores = self.values[key]
            value, null = float(scores[0]), scores[1:]
            if np.isnan(value):
                rows.append((*key, value, math.nan, math.nan, math.nan))
                continue
            higher = _HIGHER_IS_BETTER[key[2]]
            null_mean = float(np.mean(null))
            as_good = np.count_nonzero(null >= value if higher else null <= value)
            null_p = (1 + as_good) / (1 + null.size)
            above = value - null_mean if higher else null_mean - value
            rows.append((*key, value, null_mean, null_p, above))
        table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
        table["k"] = table["k"].astype(np.int64)
        return table

    def spectra_table(self) -> pd.DataFrame:
        model, population, _, k, component, _ = self._orders()
        rows = sorted(
            self.spectra,
            key=lambda r: (model[r[0]], population[r[1]], k[r[2]], component[r[3]], r[4]),
        )
        spectra = pd.DataFrame(rows, columns=list(SPECTRUM_COLUMNS))
        spectra["k"] = spectra["k"].astype(np.int64)
        spectra["index"] = spectra["index"].astype(np.int64)
        return spectra

    def _orders(self) -> tuple[dict, ...]:
        return (
            {name: i for i, name in enumerate([*self.model_rates, *REFERENCES])},
            {p: i for i, p in enumerate(POPULATIONS)},
            {m.name: i for i, m in enumerate(METRICS)},
            {k: i for i, k in enumerate(self.params.ks)},
            {c: i for i, c in enumerate(COMPONENTS)},
            {v: i for i, v in enumerate(VALIDATIONS)},
        )


def _condition_samples(rates: np.ndarray) -> np.ndarray:
    return stack_conditions(condition_component(rates))


def compare_run(
    soc_rates: np.ndarray,
    models: Mapping[str, np.ndarray],
    observed: np.ndarray,
    held_out: np.ndarray,
    params: SimilarityParams,
    rng: np.random.Generator,
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
        Draws the split halves, then the permutations.

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
    soc_rates = np.asarray(soc_rates, dtype=np.float64)
    if soc_rates.ndim != 3:
        raise ValueError(
            f"soc_rates must have shape (n_conditions, n_times, n_neurons), got {soc_rates.shape}"
        )
    if not np.all(np.isfinite(soc_rates)):
        raise ValueError("soc_rates contains NaN or infinite values")
    n_conditions, n_times, n_neurons = soc_rates.shape
    _check_conditions(n_conditions)
    if not isinstance(params, SimilarityParams):
        raise ValueError(f"params must be a SimilarityParams, got {type(params).__name__}")
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
    populations = {
        _ALL: np.arange(n_neurons),
        _OBSERVED: observed,
        _UNOBSERVED: np.setdiff1d(np.arange(n_neurons), observed),
        _HELD_OUT: held_out,
    }
    n_units = min(r.shape[2] for r in model_rates.values())
    k = max(params.ks)
    for what, limit in _k_limits(
        n_neurons, observed.size, held_out.size, n_units, n_conditions, n_times
    ).items():
        if k > limit:
            raise ValueError(f"k={k} is too large for {what}: limit {limit}")

    halves = {p: _split_halves(idx, rng) for p, idx in populations.items()}
    perms = np.vstack(
        [np.arange(n_conditions)]
        + [rng.permutation(n_conditions) for _ in range(params.n_permutations)]
    )
    run = _Run(soc_rates, model_rates, populations, halves, perms, params)
    for component in COMPONENTS:
        run.score(component)
    return RunSimilarity(table=run.table(), spectra=run.spectra_table(), dropped=run.dropped)
