"""Similarity of population dynamics: CCA on PCA latent factors, linear CKA, Procrustes.

A population's activity is a matrix of samples x units: the samples are all (condition, time bin)
pairs of the movement window stacked condition by condition (:func:`stack_conditions`), the
columns are neurons or network units. Every metric here is computed on the top-``k`` principal
component *scores* of each population (:func:`pca_scores`), following Sussillo et al. (2015):

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

:func:`compare_run` builds the per-run table of all models against the SOC ground truth,
restricted to all, observed and unobserved neurons, next to the SOC's own ceiling and data
baseline.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "BASELINE",
    "CEILING",
    "METRICS",
    "POPULATIONS",
    "PCAScores",
    "RunSimilarity",
    "canonical_correlations",
    "canonical_variates",
    "compare_run",
    "linear_cka",
    "pca_scores",
    "procrustes_angular",
    "stack_conditions",
]

logger = logging.getLogger(__name__)

#: Populations of SOC neurons every model is compared against, in table order.
POPULATIONS = ("all", "observed", "unobserved")
#: Metrics of the similarity table, in table order.
METRICS = ("cca", "cka", "procrustes")
#: Reference model names of the similarity table.
CEILING = "soc_split"
BASELINE = "soc_observed"

# A unit is "constant" when its standard deviation over samples is below this fraction of the
# largest absolute value in the matrix: float64 rounding of a truly constant column leaves
# deviations ~1e-16 of its value, so 1e-12 separates rounding from any real modulation.
_CONSTANT_RTOL = 1e-12


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


@dataclass(frozen=True)
class RunSimilarity:
    """Similarity of one run's models to the SOC ground truth.

    Attributes
    ----------
    table : pandas.DataFrame
        Tidy, one row per value, columns exactly ``model, population, metric, k, value``.
        ``model`` is each key of ``models`` plus ``"soc_split"`` (ceiling) and
        ``"soc_observed"`` (data baseline); ``population`` in ``all, observed, unobserved``;
        ``metric`` in ``cca`` (mean canonical correlation), ``cka``, ``procrustes`` (radians).
    spectra : pandas.DataFrame
        Canonical-correlation spectra behind every ``cca`` row, long form, columns exactly
        ``model, population, k, index, value``: ``index`` 0..k-1 in descending order of
        correlation (the mean over ``index`` equals the ``cca`` value).
    dropped : dict of str to int
        Constant units dropped before PCA, per matrix label (``"ff"``, ``"soc/unobserved"``,
        ``"soc/all/half0"``, ...); only non-zero counts are listed.
    """

    table: pd.DataFrame
    spectra: pd.DataFrame
    dropped: dict[str, int]


def _split_halves(indices: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    perm = rng.permutation(indices)
    half = perm.size // 2
    return np.sort(perm[:half]), np.sort(perm[half:])


def compare_run(
    soc_rates: np.ndarray,
    models: Mapping[str, np.ndarray],
    observed: np.ndarray,
    ks: Sequence[int],
    rng: np.random.Generator,
) -> RunSimilarity:
    """Compare each model's dynamics with the SOC's, for every population, metric and ``k``.

    Rows of the table:

    * every model in ``models`` (all its units) vs the SOC restricted to ``all``, ``observed``
      and ``unobserved`` neurons;
    * ``soc_split`` (the ceiling), for each population P: P's neurons shuffled by ``rng`` and
      split into two disjoint halves (sizes ``floor(n/2)`` and ``ceil(n/2)``), one half vs the
      other. It is how similar two disjoint samples of the very same circuit look at that
      population's size scale; one split per population is drawn (in the order all, observed,
      unobserved) and shared by every ``k`` and metric;
    * ``soc_observed`` (the data baseline), population ``unobserved``: the observed SOC neurons
      vs the unobserved ones, i.e. what the recordings alone say about the hidden neurons.

    Each population's PCA is computed once, for ``max(ks)`` components; the top-``k`` scores
    are its first ``k`` columns.

    Parameters
    ----------
    soc_rates : ndarray, shape (n_conditions, n_times, n_neurons)
        Ground-truth SOC rates (Hz) over the movement window.
    models : mapping of str to ndarray, shape (n_conditions, n_times, n_units)
        Model activity on the same conditions and time bins (e.g. ``ff``, ``ffh``, ``floor``).
        Names must differ from ``soc_split`` and ``soc_observed``.
    observed : ndarray of int, shape (n_observed,)
        Indices of the observed SOC neurons (unique, in ``[0, n_neurons)``; at least one
        neuron must stay unobserved).
    ks : sequence of int
        Numbers of PCs to compare (e.g. ``(5, 10)``).
    rng : numpy.random.Generator
        Draws the random halves of the ceiling.

    Returns
    -------
    RunSimilarity

    Raises
    ------
    ValueError
        On inconsistent shapes or indices, or if any population (or ceiling half) has fewer
        PCs available than a requested ``k``; the message names ``k``, the population and
        the limit.
    """
    soc = stack_conditions(soc_rates)
    n_neurons = soc.shape[1]
    ks = [_check_k(k) for k in ks]
    if not ks:
        raise ValueError("ks must contain at least one k, got an empty sequence")
    if len(set(ks)) != len(ks):
        raise ValueError(f"ks must not repeat values, got {ks}")
    k_max = max(ks)
    reserved = {CEILING, BASELINE}
    if not models:
        raise ValueError("models must contain at least one model")
    for name in models:
        if name in reserved:
            raise ValueError(f"model name {name!r} is reserved for a reference row")

    observed = np.asarray(observed)
    if observed.ndim != 1 or not np.issubdtype(observed.dtype, np.integer):
        raise ValueError(
            f"observed must be a 1-d integer array, got {observed.dtype} {observed.shape}"
        )
    if np.unique(observed).size != observed.size:
        raise ValueError("observed must not repeat neuron indices")
    if observed.size and (observed.min() < 0 or observed.max() >= n_neurons):
        raise ValueError(
            f"observed indices must lie in [0, {n_neurons}), got {observed.min()}..{observed.max()}"
        )
    if not 0 < observed.size < n_neurons:
        raise ValueError(
            f"observed must hold between 1 and {n_neurons - 1} neurons, got {observed.size}"
        )
    obs_mask = np.zeros(n_neurons, dtype=bool)
    obs_mask[observed] = True
    populations = {
        "all": np.arange(n_neurons),
        "observed": np.flatnonzero(obs_mask),
        "unobserved": np.flatnonzero(~obs_mask),
    }

    model_mats = {}
    for name, rates in models.items():
        mat = stack_conditions(rates)
        if np.shape(rates)[:2] != np.shape(soc_rates)[:2]:
            raise ValueError(
                f"model {name!r} rates have (conditions, times) {np.shape(rates)[:2]}, the SOC "
                f"has {np.shape(soc_rates)[:2]}"
            )
        model_mats[name] = mat

    dropped: dict[str, int] = {}

    def scores(mat: np.ndarray, label: str, population: str) -> np.ndarray:
        try:
            result = pca_scores(mat, k_max, label=label)
        except ValueError as err:
            raise ValueError(
                f"k={k_max} is too large for population {population!r} ({label}): {err}"
            ) from err
        if result.n_dropped:
            dropped[label] = result.n_dropped
        return result.scores

    soc_scores = {p: scores(soc[:, idx], f"soc/{p}", p) for p, idx in populations.items()}
    split_scores = {}
    for p, idx in populations.items():
        halves = _split_halves(idx, rng)
        split_scores[p] = tuple(
            scores(soc[:, h], f"soc/{p}/half{i}", f"{p} (ceiling half)")
            for i, h in enumerate(halves)
        )
    model_scores = {name: scores(mat, name, "all") for name, mat in model_mats.items()}

    pairs: list[tuple[str, str, np.ndarray, np.ndarray]] = []
    for name, Sm in model_scores.items():
        for p in POPULATIONS:
            pairs.append((name, p, Sm, soc_scores[p]))
    for p in POPULATIONS:
        pairs.append((CEILING, p, *split_scores[p]))
    pairs.append((BASELINE, "unobserved", soc_scores["observed"], soc_scores["unobserved"]))

    rows: list[tuple[str, str, str, int, float]] = []
    spectra: list[tuple[str, str, int, int, float]] = []
    for model, population, Sx, Sy in pairs:
        per_metric: dict[str, list[tuple[int, float]]] = {m: [] for m in METRICS}
        for k in ks:
            Sxk, Syk = Sx[:, :k], Sy[:, :k]
            rho = _cca_from_scores(Sxk, Syk)
            spectra.extend((model, population, k, i, float(r)) for i, r in enumerate(rho))
            per_metric["cca"].append((k, float(rho.mean())))
            per_metric["cka"].append((k, _cka_from_scores(Sxk, Syk)))
            per_metric["procrustes"].append((k, _procrustes_from_scores(Sxk, Syk)))
        for metric in METRICS:
            rows.extend((model, population, metric, k, v) for k, v in per_metric[metric])

    table = pd.DataFrame(rows, columns=["model", "population", "metric", "k", "value"])
    spectra_df = pd.DataFrame(spectra, columns=["model", "population", "k", "index", "value"])
    for df in (table, spectra_df):
        df["k"] = df["k"].astype(np.int64)
    spectra_df["index"] = spectra_df["index"].astype(np.int64)
    return RunSimilarity(table=table, spectra=spectra_df, dropped=dropped)
