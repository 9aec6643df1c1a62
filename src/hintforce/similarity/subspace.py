"""Subspace metrics: CCA on PCA latent factors, linear CKA and an angular Procrustes distance.

A population's activity is a matrix of samples x units: the samples are all (condition, time
bin) pairs stacked condition by condition (:func:`stack_conditions`), the columns are neurons or
network units. The metrics compare the top-``k`` principal component *scores* of two populations
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

The public functions compute one value from two matrices; :func:`metrics_in_sample` and
:func:`metrics_folded` are the run engine's fast paths, which score many pairings of one pair of
decompositions at once (:mod:`hintforce.similarity.engine`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CONSTANT_RTOL",
    "PCAScores",
    "as_matrix",
    "canonical_correlations",
    "canonical_variates",
    "linear_cka",
    "metrics_folded",
    "metrics_in_sample",
    "pca_scores",
    "procrustes_angular",
    "right_singular",
    "stack_conditions",
]

logger = logging.getLogger(__name__)

# A unit is "constant" when its standard deviation over samples is below this fraction of the
# largest absolute value in the matrix: float64 rounding of a truly constant column leaves
# deviations ~1e-16 of its value, so 1e-12 separates rounding from any real modulation.
CONSTANT_RTOL = 1e-12


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


def as_matrix(X: np.ndarray, name: str) -> np.ndarray:
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
    X = as_matrix(X, label)
    k = _check_k(k)
    n_samples, n_units = X.shape
    Xc = X - X.mean(axis=0)
    scale = float(np.max(np.abs(X))) if X.size else 0.0
    constant = Xc.std(axis=0) <= CONSTANT_RTOL * scale
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
    X = as_matrix(X, "X")
    Y = as_matrix(Y, "Y")
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


def metrics_in_sample(
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


def right_singular(M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right singular vectors and singular values (descending) of a stack of square matrices,
    from the eigendecomposition of ``M^T M`` (cheaper than an SVD for many small matrices)."""
    squared, V = np.linalg.eigh(M.swapaxes(-1, -2) @ M)
    return V[..., ::-1], np.sqrt(np.clip(squared[..., ::-1], 0.0, None))


def _singular_values(M: np.ndarray) -> np.ndarray:
    """Singular values (descending) of a stack of square matrices."""
    squared = np.linalg.eigvalsh(M.swapaxes(-1, -2) @ M)[..., ::-1]
    return np.sqrt(np.clip(squared, 0.0, None))


def metrics_folded(
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
    V, _ = right_singular(M)
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
    V, sigma = right_singular(S)  # rotation U V^T = S V diag(1 / sigma) V^T
    inverse = np.divide(1.0, sigma, out=np.zeros_like(sigma), where=sigma > 1e-12 * sigma[..., :1])
    rotation = (S @ V * inverse[..., None, :]) @ V.swapaxes(-1, -2)
    trace_x = np.trace(xx, axis1=-2, axis2=-1)
    trace_y = np.trace(yy, axis1=-2, axis2=-1)
    cosine = np.einsum("...ij,...ij->...", rotation, xy) / np.sqrt(trace_x * trace_y)
    procrustes = np.arccos(np.clip(cosine, -1.0, 1.0)).mean(axis=0)
    return cca, cka, procrustes
