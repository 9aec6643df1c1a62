"""Neural predictivity: ridge regression from a model's units, through their top principal
components, to each SOC neuron.

The value is the median over a population's neurons of ``R^2 = 1 - SSE / SST``. The ridge has
an unpenalised intercept; its penalty is chosen per fit, for all of its neurons at once, from a
log-spaced grid (relative to the fit's largest Gram eigenvalue) by the best mean
leave-one-condition-out R^2 inside the fit's conditions. Those leave-one-condition-out errors
are exact and need no refit per penalty (:func:`ridge_loco_errors`, :func:`loco_criterion`).
:func:`predictivity` is the run engine's fast path: every pairing of the conditions at once.
"""

from __future__ import annotations

import warnings

import numpy as np

from hintforce._validate import check_integer
from hintforce.similarity.decompositions import Blocks
from hintforce.similarity.subspace import as_matrix

__all__ = ["choose_penalty", "median", "predictivity", "ridge_loco_errors"]


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


def choose_penalty(
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
    X = as_matrix(X, "X")
    Y = as_matrix(Y, "Y")
    check_integer("n_groups", n_groups, low=2)
    if X.shape[0] != Y.shape[0] or X.shape[0] % n_groups:
        raise ValueError(
            f"X and Y must have the same number of rows, a multiple of n_groups={n_groups}, got "
            f"{X.shape[0]} and {Y.shape[0]}"
        )
    penalties = np.asarray(penalties, dtype=np.float64).ravel()
    if not np.all(penalties > 0):
        raise ValueError(f"penalties must be > 0, got {penalties}")
    eig = Blocks(X, n_groups, "X").eigen(np.arange(n_groups))
    return _loco_sse(eig.scores, eig.lam, Y - Y.mean(axis=0), n_groups, penalties)


def _one_hot(perms: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """(n_pairings, len(sources) * C): 1 at (source condition i, its paired condition)."""
    n_perm, C = perms.shape
    out = np.zeros((n_perm, sources.size, C))
    out[np.arange(n_perm)[:, None], np.arange(sources.size), perms[:, sources]] = 1.0
    return out.reshape(n_perm, sources.size * C)


def predictivity(
    source: Blocks,
    targets: np.ndarray,
    valid: np.ndarray,
    trains: list[np.ndarray],
    tests: list[np.ndarray],
    perms: np.ndarray,
    grid: np.ndarray,
    n_pcs: int,
    in_sample: bool = True,
) -> tuple[np.ndarray | None, np.ndarray]:
    """Ridge R^2 of every target from the source's top PCs, in sample and over the folds.

    ``perms[p, a]`` is the target condition paired with source condition ``a`` (row 0 is the
    identity). Returns two arrays (n_pairings, n_targets), NaN for invalid (constant) targets:
    in sample (None unless ``in_sample``; one fit on all conditions) and over the folds
    ``(trains[f], tests[f])`` (the tested samples' squared errors pooled over folds, against
    their sum of squares about their own mean: about the mean of all samples when the folds
    test every condition once). Every pairing reuses the source's decompositions and the
    penalty chosen for the real pairing; its coefficients are sums of (source condition,
    target condition) block products computed once, and its squared errors follow from r x r
    Gram matrices.
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

    fitted = None
    if in_sample:  # one fit on all conditions; SSE = SST - sum_i (2 d_i - d_i^2) z_i^2 / lam_i
        all_conditions = np.arange(C)
        eig = source.eigen(all_conditions, n_pcs)
        penalty = choose_penalty(eig.scores, eig.lam, Y, C, grid, valid)
        d = eig.lam / (eig.lam + penalty)
        weight = (2 * d - d**2) / eig.lam
        explained = np.einsum("prj,r->pj", paired(eig.scores, all_conditions) ** 2, weight)
        fitted = 1.0 - (sst - explained) / safe_sst
        fitted[:, ~valid] = np.nan

    # over the folds: squared held-out errors pooled over folds
    sse = np.zeros((n_perm, n_t))
    for train, test in zip(trains, tests, strict=True):
        eig = source.eigen(train, n_pcs)
        train_rows, test_rows = source.rows(train), source.rows(test)
        S_train, S_test = eig.scores[train_rows], eig.scores[test_rows]
        Y_train = Y[train_rows]
        penalty = choose_penalty(
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
    tested = np.concatenate(tests)
    if np.array_equal(np.sort(tested), np.arange(C)):
        folded = 1.0 - sse / safe_sst
        folded[:, ~valid] = np.nan
    else:  # the tested samples' sum of squares about their own mean, per pairing
        n_rows = tested.size * T
        sums = cond_sums[perms[:, tested]].sum(axis=1)
        tested_sst = cond_squares[perms[:, tested]].sum(axis=1) - sums**2 / n_rows
        usable = valid & (tested_sst > 0)
        folded = np.full_like(sse, np.nan)
        folded[usable] = 1.0 - sse[usable] / tested_sst[usable]
    return fitted, folded


def median(values: np.ndarray, columns: np.ndarray) -> np.ndarray:
    values = values[:, columns]
    if not np.isnan(values).any():
        return np.median(values, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a population of constant neurons
        return np.nanmedian(values, axis=1)
