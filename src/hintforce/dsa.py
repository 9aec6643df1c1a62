"""Dynamical similarity of two populations' activity, in the manner of DSA (Ostrow et al. 2023).

Each population's activity ``X`` (C conditions, T time bins, N units) is reduced to a linear
dynamical system, and two systems are compared by how far apart their operators are after the
best orthogonal change of coordinates.

1. **PCA** (:func:`pca_trajectories`): the samples of all conditions and bins, ``X`` reshaped
   to (C T, N), are centred per unit and decomposed, ``X_c = U S V^T``; the top-``k`` component
   trajectories are ``Z = U_k S_k`` reshaped to (C, T, k).
2. **Delay embedding** (:func:`delay_embed`): ``d`` consecutive bins of one condition are stacked,
   ``h_t = [z_t, z_{t+1}, ..., z_{t+d-1}]``, giving (C, T - d + 1, k d). Embeddings never
   straddle two conditions.
3. **DMD of rank r** (:func:`dmd`), HAVOK-style: the embedded samples of all conditions,
   stacked as ``H`` (n_samples, k d), are decomposed without centring, ``H = P Sigma V^T``, and
   projected onto the top ``r`` right singular vectors, ``y_t = V_r^T h_t``. The operator
   ``A`` (r x r) is the least-squares solution of ``y_{t+1} = A y_t`` over every consecutive
   pair within a condition (never across conditions).
4. **Choice of (d, r)** (:func:`embedding_errors`, :func:`choose_embedding`), on the system's own
   one-step prediction only. With the conditions split into ``F = max(2, C // 2)`` folds
   (condition ``c`` held out in fold ``c % F``; pairs of conditions for the study's 8 reach
   directions), the basis ``V_r`` and ``A`` are fitted on the training conditions and predict
   the newest block of each held-out embedding,
   ``z_{t+d} ~ [V_r A V_r^T h_t]_{last k}``. The error of a grid cell is

       e(d, r) = sum (z_{t+d} - prediction)^2 / sum (z_{t+d} - z_{t+d-1})^2,

   summed over folds, held-out conditions, the k components and the target bins
   ``t + d = max(delays), ..., T - 1`` (the same targets for every cell): the error relative to
   the persistence forecast ``z_{t+d} ~ z_{t+d-1}``. On the fine 10 ms grid of smooth activity
   the change over one bin is small next to the variance, so relative to the variance every
   forecast would look perfect; relative to the step, 0 is a perfect forecast and 1 no better
   than predicting no change. The chosen cell is the smallest rank, then the fewest delays,
   whose error is at most ``best + tolerance`` with ``best`` the lowest error on the grid.
   On the study's networks (10 components, the 8 x 80-bin movement window) the rule picks the
   full embedding of two delays, ``r = k d = 20``, for every system: a lower rank drops
   components whose one-bin change it then cannot forecast (errors ~0.02 at r = 20, ~0.8 at
   r = 16), so the comparison is of full-rank delay operators.
5. **Common embedding.** Two systems are compared at one (d, r): the larger of their two
   choices in each coordinate, so both are described at least as well as by their own choice.
   Every grid cell's operator is fitted on all conditions once per population
   (:func:`fit_dynamics`), so one population's fit serves every comparison it enters.
6. **Distance** (:func:`operator_distance`): with ``A_n = A / ||A||_F`` and
   ``B_n = B / ||B||_F``,

       d(A, B) = min_{C in O(r)} arccos <A_n, C B_n C^T>_F,

   in radians, in [0, pi]; 0 exactly when ``B`` is an orthogonal similarity transform of a
   positive multiple of ``A``. The minimum is searched by L-BFGS (L-BFGS-B without bounds,
   vectorised over every start of every pair: :func:`hintforce.mechanism.batched_lbfgs`) on
   the Cayley chart ``C = C_0 (I - S)(I + S)^{-1}`` with ``S`` skew-symmetric (its
   r (r - 1) / 2 entries above the diagonal are the variables).
   ``C_0`` fixes the connected component of O(r): ``det C = det C_0``. The loss
   ``L = 1 - <A_n, C B_n C^T>`` has the analytic gradient (with ``M = (I + S)^{-1}``, so
   ``C = C_0 (2 M - I)``)

       G_C = -(A_n C B_n^T + A_n^T C B_n),   G_S = -2 M^T C_0^T G_C M^T,
       dL/ds_ij = (G_S)_ij - (G_S)_ji   (i < j).

   The chart is re-centred (``C_0 <- C``, ``S <- 0``) every ``recentre_every`` iterations, which
   keeps ``S`` small where the chart is well conditioned (from a random start this converges in
   a few hundred iterations instead of thousands). The search runs on the traceless parts of
   the operators (see :func:`operator_distances`). The starts are, on each component, a
   deterministic one and ``n_starts`` Haar-random ones. The deterministic start aligns the
   eigenvectors of the symmetric parts, ``C = U_A D U_B^T`` (``U`` from ``eigh``, ascending), which
   maximises the symmetric part's contribution for any signs ``D``; the signs are chosen by a
   greedy local search on the antisymmetric part's contribution ``d^T (P o Q) d``,
   ``P = U_A^T A_a U_A``, ``Q = U_B^T B_a U_B``; on the other component one sign more is flipped,
   the one that costs least. The reported angle is ``2 arcsin(||A_n - C B_n C^T||_F / 2)``,
   equal to the arccos above and accurate near 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg

from hintforce import mechanism
from hintforce._validate import check_integer, check_number

__all__ = [
    "DSA_COLUMNS",
    "DSAParams",
    "DMDFit",
    "DSAResult",
    "alignment_loss",
    "cayley",
    "choose_embedding",
    "common_embedding",
    "delay_embed",
    "dmd",
    "dsa",
    "dsa_distance",
    "dsa_table",
    "embedding_errors",
    "fit_dynamics",
    "operator_distance",
    "operator_distances",
    "pca_trajectories",
]

DSA_COLUMNS: tuple[str, ...] = ("source", "target", "distance", "n_delays", "rank")


def _check_grid(name: str, values: object) -> tuple[int, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise ValueError(f"{name} must be a sequence of positive integers, got {values!r}")
    values = tuple(values)
    if not values:
        raise ValueError(f"{name} must not be empty, got {values!r}")
    for v in values:
        check_integer(name, v)
    values = tuple(int(v) for v in values)
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ValueError(f"{name} must be strictly increasing, got {list(values)}")
    return values


@dataclass(frozen=True)
class DSAParams:
    """Settings of the dynamical similarity.

    Parameters
    ----------
    n_components : int
        Principal components ``k`` kept per population (>= 1; fewer when the activity's
        numerical rank is lower). Default 10, the largest ``k`` of the study's other
        similarity metrics, so DSA sees the same latent space.
    delays : sequence of int
        Grid of delay counts ``d`` (strictly increasing, >= 1). Default (1, 2, 3, 4, 6): up to
        60 ms of history on the 10 ms grid, a fraction of the 800 ms movement, keeping at
        least 75 of its 80 bins per condition.
    ranks : sequence of int
        Grid of DMD ranks ``r`` (strictly increasing, >= 1; cells with ``r > k d``, or above
        the numerical rank of the embedded activity, are skipped). Default
        (2, 3, 4, 6, 8, 10, 12, 16, 20): the operator's dimension; the distance's cost grows
        like ``r^3`` per iteration and its variables like ``r^2``.
    tolerance : float
        A cell is good enough when its relative one-step error (see the module docstring) is at
        most the grid's best plus ``tolerance`` (>= 0). Default 0.05: within 5% of the
        one-bin change's energy of the best forecast on the grid, well below the gap between
        a forecast that follows the dynamics and persistence (error 1).
    n_starts : int
        Haar-random starts of the rotation search on each of the two components of O(r), in
        addition to the deterministic start of each (>= 0). Default 1 (four starts per pair).
        The loss has many local minima: on the benchmark's operators (r = 20) four starts of
        400 iterations end within 2e-3 rad (mean 6e-4 rad, ~2% of the distances) of the best
        of 14 starts of 3000 iterations; more starts or iterations narrow that at a cost the
        run's 5 s budget (28 distances next to the mechanism measures) does not leave.
    max_iterations : int
        L-BFGS iterations allowed per start, summed over re-centrings (>= 1). Default 400.
    recentre_every : int
        Iterations between re-centrings of the Cayley chart (>= 1). Default 100: the chart
        stays near the identity, where it is well conditioned, while L-BFGS keeps its
        curvature memory for long stretches.
    gtol : float
        Stopping tolerance on the largest gradient entry of the loss on the traceless parts
        (> 0; see :func:`operator_distances`). Default 1e-8.
    ftol : float
        A start stops when its loss falls by at most ``ftol max(loss, 1)`` in an iteration
        (> 0). Default 1e-10: the loss is at most 2, so that is an absolute change of at most
        2e-10, far below the differences between local minima; 1e-8 stops early enough to
        move distances by up to 5e-3 rad.
    """

    n_components: int = 10
    delays: tuple[int, ...] = (1, 2, 3, 4, 6)
    ranks: tuple[int, ...] = (2, 3, 4, 6, 8, 10, 12, 16, 20)
    tolerance: float = 0.05
    n_starts: int = 1
    max_iterations: int = 400
    recentre_every: int = 100
    gtol: float = 1e-8
    ftol: float = 1e-10

    def __post_init__(self) -> None:
        check_integer("n_components", self.n_components)
        object.__setattr__(self, "delays", _check_grid("delays", self.delays))
        object.__setattr__(self, "ranks", _check_grid("ranks", self.ranks))
        check_number("tolerance", self.tolerance, 0.0, low_open=False)
        check_integer("n_starts", self.n_starts, low=0)
        check_integer("max_iterations", self.max_iterations)
        check_integer("recentre_every", self.recentre_every)
        check_number("gtol", self.gtol, 0.0)
        check_number("ftol", self.ftol, 0.0)


# ----------------------------------------------------------------------------------------------
# PCA, delay embedding, DMD


def _check_activity(X: np.ndarray, name: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3 or min(X.shape) < 1:
        raise ValueError(
            f"{name} must have shape (n_conditions, n_times, n_units), got {np.shape(X)}"
        )
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return X


def pca_trajectories(X: np.ndarray, k: int) -> np.ndarray:
    """Top-``k`` principal component trajectories of a population.

    Parameters
    ----------
    X : ndarray, shape (C, T, N)
        Activity (any unit, e.g. Hz), C conditions, T bins, N units.
    k : int
        Components to keep (>= 1). Capped at the numerical rank of the centred samples
        (singular values above ``S_max max(C T, N) eps``), so a low-dimensional population
        yields fewer components rather than noise.

    Returns
    -------
    ndarray, shape (C, T, k')
        Scores ``U_k S_k`` of the centred (C T, N) sample matrix, ``k' = min(k, rank)``, in
        the activity's unit, by decreasing variance.
    """
    X = _check_activity(X, "X")
    check_integer("k", k)
    c, t, n = X.shape
    flat = X.reshape(c * t, n)
    flat = flat - flat.mean(axis=0)
    U, S, _ = np.linalg.svd(flat, full_matrices=False)
    if S.size == 0 or S[0] == 0.0:
        raise ValueError("X is constant: it has no principal components")
    rank = int(np.count_nonzero(S > S[0] * max(flat.shape) * np.finfo(np.float64).eps))
    k = min(k, rank)
    return (U[:, :k] * S[:k]).reshape(c, t, k)


def delay_embed(Z: np.ndarray, n_delays: int) -> np.ndarray:
    """Hankel (delay) embedding of each condition's trajectory.

    Parameters
    ----------
    Z : ndarray, shape (C, T, k)
    n_delays : int
        Consecutive bins stacked, ``1 <= n_delays <= T``.

    Returns
    -------
    ndarray, shape (C, T - n_delays + 1, k n_delays)
        Row ``t`` of condition ``c`` is ``[Z[c, t], Z[c, t + 1], ..., Z[c, t + n_delays - 1]]``.
    """
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 3:
        raise ValueError(f"Z must have shape (n_conditions, n_times, k), got {Z.shape}")
    check_integer("n_delays", n_delays)
    c, t, k = Z.shape
    if n_delays > t:
        raise ValueError(f"n_delays must be <= n_times={t}, got {n_delays}")
    m = t - n_delays + 1
    windows = np.lib.stride_tricks.sliding_window_view(Z, n_delays, axis=1)  # (C, m, k, d)
    return np.ascontiguousarray(windows.transpose(0, 1, 3, 2)).reshape(c, m, k * n_delays)


def _pairs(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Consecutive pairs within each condition of (C, m, r) samples, stacked: (C (m-1), r) x 2."""
    r = Y.shape[2]
    return Y[:, :-1].reshape(-1, r), Y[:, 1:].reshape(-1, r)


def _right_basis(H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right singular vectors (as columns) and singular values of stacked samples (n, p)."""
    _, S, Vt = np.linalg.svd(H, full_matrices=False)
    return Vt.T, S


def _operators(Y: np.ndarray, ranks: Sequence[int]) -> dict[int, np.ndarray]:
    """Least-squares operators of the leading ``r`` coordinates for every ``r`` in ``ranks``.

    For ``Y`` (C, m, p), ``A_r`` (r, r) minimises ``sum ||y_{t+1}[:r] - A_r y_t[:r]||^2`` over
    pairs within conditions. One QR of the stacked current samples ``Y_now = Q R`` serves every
    rank: the leading r columns are ``Q[:, :r] R[:r, :r]``, so
    ``A_r^T = R[:r, :r]^{-1} (Q^T Y_next)[:r, :r]``.
    """
    now, nxt = _pairs(Y)
    Q, R = np.linalg.qr(now)
    projected = Q.T @ nxt
    return {
        r: scipy.linalg.solve_triangular(R[:r, :r], projected[:r, :r], check_finite=False).T
        for r in ranks
    }


def dmd(H: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Rank-``r`` DMD of delay-embedded trajectories.

    Parameters
    ----------
    H : ndarray, shape (C, m, p)
        Embedded samples (:func:`delay_embed`), ``p = k n_delays``.
    rank : int
        ``1 <= rank <= min(p, C m)``.

    Returns
    -------
    A : ndarray, shape (rank, rank)
        One-step operator, ``y_{t+1} ~ A y_t`` with ``y_t = basis^T h_t`` (dimensionless).
    basis : ndarray, shape (p, rank)
        Top ``rank`` right singular vectors of the stacked (C m, p) samples (orthonormal
        columns).
    """
    H = np.asarray(H, dtype=np.float64)
    if H.ndim != 3 or H.shape[1] < 2:
        raise ValueError(f"H must have shape (n_conditions, n_samples >= 2, p), got {H.shape}")
    check_integer("rank", rank)
    c, m, p = H.shape
    if rank > min(p, c * m):
        raise ValueError(f"rank must be <= min(p, n_samples) = {min(p, c * m)}, got {rank}")
    V, _ = _right_basis(H.reshape(c * m, p))
    basis = V[:, :rank]
    return _operators(H @ basis, [rank])[rank], basis


# ----------------------------------------------------------------------------------------------
# choice of the embedding


def _folds(n_conditions: int) -> tuple[np.ndarray, ...]:
    """Held-out conditions per fold: ``F = max(2, C // 2)`` folds, condition ``c`` in fold
    ``c % F``, so every fold trains on at least one condition (for 8 reach directions each fold
    holds out two opposite ones and its training set covers the circle)."""
    if n_conditions < 2:
        raise ValueError(
            f"cross-validation over conditions needs n_conditions >= 2, got {n_conditions}"
        )
    n_folds = max(2, n_conditions // 2)
    return tuple(np.arange(f, n_conditions, n_folds) for f in range(n_folds))


def embedding_errors(Z: np.ndarray, delays: Sequence[int], ranks: Sequence[int]) -> np.ndarray:
    """Cross-validated relative one-step error of every (n_delays, rank) cell.

    Parameters
    ----------
    Z : ndarray, shape (C, T, k)
        Principal component trajectories, ``C >= 2``.
    delays, ranks : sequence of int
        The grid (see :class:`DSAParams`); ``max(delays) < T``.

    Returns
    -------
    ndarray, shape (len(delays), len(ranks))
        ``e(d, r)`` as defined in the module docstring (dimensionless, >= 0); NaN where
        ``r > k d`` or, in any fold, ``r`` exceeds the numerical rank of the training
        embedding (singular values above ``S_max max(n, k d) eps``).
    """
    Z = np.asarray(Z, dtype=np.float64)
    c, t, k = Z.shape
    d_max = max(delays)
    if d_max >= t:
        raise ValueError(f"delays must stay below n_times={t}, got max {d_max}")
    errors = np.full((len(delays), len(ranks)), np.nan)
    folds = _folds(c)
    # persistence error on the common targets z_tau, tau = d_max .. T-1 of the held-out conditions
    step = Z[:, d_max:] - Z[:, d_max - 1 : -1]
    for i, d in enumerate(delays):
        H = delay_embed(Z, d)  # (C, T-d+1, k d)
        # embedding h_{tau-d} predicts z_tau; tau from d_max: rows tau - d .. T - 1 - d
        first = d_max - d
        sse = np.zeros(len(ranks))
        base = 0.0
        for held in folds:
            train = np.setdiff1d(np.arange(c), held)
            Htr = H[train]
            V, S = _right_basis(Htr.reshape(-1, k * d))
            n_valid = int(np.count_nonzero(S > S[0] * max(Htr.shape) * np.finfo(float).eps))
            Hte = H[held, first : t - d]  # (h, n_targets, k d)
            target = Z[held, d_max:]  # (h, n_targets, k)
            base += float(np.sum(step[held] ** 2))
            valid = [r for r in ranks if r <= min(k * d, n_valid)]
            basis = V[:, : max(valid)] if valid else V[:, :0]
            operators = _operators(Htr @ basis, valid) if valid else {}
            Yte = Hte @ basis
            for j, r in enumerate(ranks):
                if r not in operators:
                    sse[j] = np.nan
                    continue
                pred = (Yte[..., :r] @ operators[r].T) @ basis[-k:, :r].T
                sse[j] += float(np.sum((target - pred) ** 2))
        errors[i] = sse / base if base > 0 else np.nan
    return errors


def choose_embedding(
    errors: np.ndarray, delays: Sequence[int], ranks: Sequence[int], tolerance: float
) -> tuple[int, int]:
    """The smallest rank, then fewest delays, whose error is within ``tolerance`` of the best.

    Parameters
    ----------
    errors : ndarray, shape (len(delays), len(ranks))
        From :func:`embedding_errors` (NaN cells are ignored).
    delays, ranks : sequence of int
    tolerance : float
        Allowed excess over the grid's lowest error (dimensionless, >= 0).

    Returns
    -------
    (n_delays, rank) : tuple of int
    """
    errors = np.asarray(errors, dtype=np.float64)
    if not np.any(np.isfinite(errors)):
        raise ValueError("no valid (n_delays, rank) cell: every error is NaN")
    good = errors <= np.nanmin(errors) + tolerance
    for j, r in enumerate(ranks):
        rows = np.flatnonzero(good[:, j])
        if rows.size:
            return int(delays[rows[0]]), int(r)
    raise AssertionError("unreachable: the best cell is always good")  # pragma: no cover


@dataclass(frozen=True)
class DMDFit:
    """One population's linear dynamics on every cell of the embedding grid.

    Attributes
    ----------
    n_delays, rank : int
        The population's own choice (:func:`choose_embedding`).
    n_components : int
        Principal components used (``n_components`` or the activity's numerical rank).
    delays, ranks : tuple of int
        The grid.
    errors : ndarray, shape (len(delays), len(ranks))
        Cross-validated relative one-step errors (:func:`embedding_errors`).
    operators : mapping (n_delays, rank) -> ndarray (rank, rank)
        DMD operator fitted on all conditions, for every valid cell.
    """

    n_delays: int
    rank: int
    n_components: int
    delays: tuple[int, ...]
    ranks: tuple[int, ...]
    errors: np.ndarray
    operators: Mapping[tuple[int, int], np.ndarray]

    def operator(self, n_delays: int, rank: int) -> np.ndarray:
        """The operator at (n_delays, rank); ValueError if that cell is not on the valid grid."""
        try:
            return self.operators[(int(n_delays), int(rank))]
        except KeyError:
            raise ValueError(
                f"(n_delays, rank) = ({n_delays}, {rank}) is not a valid cell of this fit "
                f"(delays {self.delays}, ranks {self.ranks}, {self.n_components} components)"
            ) from None


def fit_dynamics(X: np.ndarray, params: DSAParams | None = None) -> DMDFit:
    """PCA, embedding choice and every grid cell's DMD operator of one population.

    Parameters
    ----------
    X : ndarray, shape (C, T, N)
        Activity, ``C >= 2`` conditions, ``T > max(params.delays)`` bins.
    params : DSAParams, optional

    Returns
    -------
    DMDFit
    """
    params = DSAParams() if params is None else params
    Z = pca_trajectories(X, params.n_components)
    c, t, k = Z.shape
    errors = embedding_errors(Z, params.delays, params.ranks)
    n_delays, rank = choose_embedding(errors, params.delays, params.ranks, params.tolerance)
    operators = {}
    for i, d in enumerate(params.delays):
        valid = [r for j, r in enumerate(params.ranks) if np.isfinite(errors[i, j])]
        if not valid:
            continue
        H = delay_embed(Z, d)
        V, _ = _right_basis(H.reshape(-1, k * d))
        for r, A in _operators(H @ V[:, : max(valid)], valid).items():
            operators[(d, r)] = A
    return DMDFit(
        n_delays=n_delays,
        rank=rank,
        n_components=k,
        delays=params.delays,
        ranks=params.ranks,
        errors=errors,
        operators=operators,
    )


# ----------------------------------------------------------------------------------------------
# distance between operators


def cayley(S: np.ndarray) -> np.ndarray:
    """Cayley map ``(I - S)(I + S)^{-1} = 2 (I + S)^{-1} - I`` of skew-symmetric ``S``,
    (..., r, r): a rotation (det +1)."""
    S = np.asarray(S, dtype=np.float64)
    eye = np.eye(S.shape[-1])
    return 2.0 * np.linalg.inv(eye + S) - eye


def _skew(s: np.ndarray, r: int, upper: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Skew-symmetric (k, r, r) from the entries above the diagonal, (k, r (r - 1) / 2), at the
    positions ``upper = numpy.triu_indices(r, 1)``."""
    i, j = upper
    S = np.zeros((s.shape[0], r, r))
    S[:, i, j] = s
    S[:, j, i] = -s
    return S


def _alignment(
    s: np.ndarray,
    A: np.ndarray,
    B: np.ndarray,
    C0: np.ndarray,
    upper: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Batched :func:`alignment_loss`: ``s`` (k, m), ``A``, ``B``, ``C0`` (k, r, r)."""
    r = A.shape[-1]
    eye = np.eye(r)
    M = np.linalg.inv(eye + _skew(s, r, upper))
    C = 2.0 * (C0 @ M) - C0
    CB = C @ B
    Ct = C.transpose(0, 2, 1)
    loss = 1.0 - np.sum(A * (CB @ Ct), axis=(1, 2))
    G_C = -(A @ (C @ B.transpose(0, 2, 1)) + A.transpose(0, 2, 1) @ CB)
    Mt = M.transpose(0, 2, 1)
    G_S = -2.0 * (Mt @ (C0.transpose(0, 2, 1) @ G_C) @ Mt)
    i, j = upper
    return loss, G_S[:, i, j] - G_S[:, j, i]


def alignment_loss(
    s: np.ndarray, A: np.ndarray, B: np.ndarray, C0: np.ndarray
) -> tuple[float, np.ndarray]:
    """Loss ``1 - <A, C B C^T>_F`` on the Cayley chart at ``C0`` and its gradient.

    Parameters
    ----------
    s : ndarray, shape (r (r - 1) / 2,)
        Entries of the skew-symmetric ``S`` above the diagonal, row by row
        (``numpy.triu_indices`` order).
    A, B : ndarray, shape (r, r)
        Operators; of unit Frobenius norm for the loss to be ``1 - cos``.
    C0 : ndarray, shape (r, r)
        Orthogonal centre of the chart; ``C = C0 (I - S)(I + S)^{-1}``.

    Returns
    -------
    loss : float
    grad : ndarray, shape (r (r - 1) / 2,)
        dloss/ds (formulas in the module docstring).
    """
    A = np.asarray(A, dtype=np.float64)
    loss, grad = _alignment(
        np.asarray(s, dtype=np.float64)[None],
        A[None],
        np.asarray(B, dtype=np.float64)[None],
        np.asarray(C0, dtype=np.float64)[None],
        np.triu_indices(A.shape[0], 1),
    )
    return float(loss[0]), grad[0]


def _haar(r: int, rng: np.random.Generator) -> np.ndarray:
    """Haar-random orthogonal (r, r): QR of a Gaussian matrix with the signs of R's diagonal
    moved into Q."""
    Q, R = np.linalg.qr(rng.standard_normal((r, r)))
    return Q * np.where(np.diag(R) < 0, -1.0, 1.0)


def _sign_search(K: np.ndarray) -> np.ndarray:
    """Signs d in {-1, 1}^r locally maximising d^T K d (K symmetric, zero diagonal): spectral
    rounding of K's top eigenvector, then single flips while any improves."""
    _, U = np.linalg.eigh(K)
    d = np.where(U[:, -1] < 0, -1.0, 1.0)
    for _ in range(4 * K.shape[0]):
        gain = d * (K @ d)  # flipping i changes d^T K d by -4 gain_i
        i = int(np.argmin(gain))
        if gain[i] >= 0:
            break
        d[i] = -d[i]
    return d


def _deterministic_starts(A: np.ndarray, B: np.ndarray) -> list[np.ndarray]:
    """One start on each component of O(r): symmetric parts' eigenvectors aligned, signs by
    :func:`_sign_search`, and for the other component the one further flip that loses least."""
    _, Ua = np.linalg.eigh(0.5 * (A + A.T))
    _, Ub = np.linalg.eigh(0.5 * (B + B.T))
    K = (Ua.T @ (0.5 * (A - A.T)) @ Ua) * (Ub.T @ (0.5 * (B - B.T)) @ Ub)
    d = _sign_search(K)
    first = (Ua * d) @ Ub.T
    flip = int(np.argmin(d * (K @ d)))
    d[flip] = -d[flip]
    return [first, (Ua * d) @ Ub.T]


def _angles(A: np.ndarray, B: np.ndarray, C: np.ndarray) -> np.ndarray:
    """``2 arcsin(||A - C B C^T||_F / 2)`` for stacks (k, r, r) of unit-norm A, B."""
    diff = A - C @ B @ C.transpose(0, 2, 1)
    return 2.0 * np.arcsin(np.minimum(1.0, np.linalg.norm(diff, axis=(1, 2)) / 2.0))


def _traceless_unit(A: np.ndarray) -> np.ndarray | None:
    """``A - (tr A / r) I`` scaled to unit norm, or None when A is a multiple of I."""
    r = A.shape[0]
    A0 = A - (np.trace(A) / r) * np.eye(r)
    norm = float(np.linalg.norm(A0))
    return None if norm <= 1e-12 * float(np.linalg.norm(A)) else A0 / norm


def _align(A: np.ndarray, B: np.ndarray, C: np.ndarray, params: DSAParams) -> np.ndarray:
    """Minimise the alignment loss of every problem (A[p], B[p]) from C[p], batched: rounds of
    at most ``recentre_every`` L-BFGS iterations, each chart re-centred at its current rotation
    after every round. Returns the final rotations (P, r, r)."""
    r = A.shape[-1]
    upper = np.triu_indices(r, 1)
    C = C.copy()
    live = np.arange(len(C))
    used = 0
    while live.size and used < params.max_iterations:
        chunk = min(params.recentre_every, params.max_iterations - used)
        a, b, c0 = A[live], B[live], C[live]

        def fun(s, rows, a=a, b=b, c0=c0):
            return _alignment(s, a[rows], b[rows], c0[rows], upper)

        result = mechanism.batched_lbfgs(
            fun,
            np.zeros((live.size, r * (r - 1) // 2)),
            chunk,
            ftol=params.ftol,
            f_scale=1.0,
            f_floor=1e-14,
            gtol=params.gtol,
        )
        used += chunk
        C[live] = c0 @ cayley(_skew(result.x, r, upper))
        live = live[~result.converged]
    return C


def operator_distances(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    params: DSAParams | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Angular Procrustes distance over the orthogonal group of every pair of operators.

    ``d(A, B) = min_{C in O(r)} arccos(<A, C B C^T>_F / (||A||_F ||B||_F))`` (module docstring).
    Because ``<A, C B C^T> = tr A tr B / r + <A_0, C B_0 C^T>`` with the traceless parts
    ``A_0 = A - (tr A / r) I``, the best ``C`` depends on those alone: the search runs on them,
    normalised, so its loss is of order 1 even for operators close to a multiple of the identity
    (one-bin operators of smooth activity are), and the angle is then computed from the full
    operators. All pairs' starts (per pair the two deterministic ones and ``2 n_starts``
    Haar-random ones, half on each component) are optimised together by
    :func:`hintforce.mechanism.batched_lbfgs` in rounds of ``recentre_every`` iterations (one
    call evaluates every live start's loss, which is what makes several starts affordable).

    Parameters
    ----------
    pairs : sequence of (A, B)
        Square non-zero operators, ``A`` and ``B`` of one shape (r, r) in each pair (any common
        unit; the distance is scale-free).
    params : DSAParams, optional
        ``n_starts``, ``max_iterations``, ``recentre_every``, ``gtol``, ``ftol``.
    rng : numpy.random.Generator
        Draws the random starts, pair by pair (required when ``params.n_starts > 0``).

    Returns
    -------
    ndarray, shape (len(pairs),)
        Radians, in [0, pi]: for each pair the best over its starts.
    """
    params = DSAParams() if params is None else params
    if params.n_starts and not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator when n_starts > 0, got {rng!r}")
    distances = np.empty(len(pairs))
    problems: dict[int, list] = {}  # rank -> list of (pair, A_unit, B_unit, A0, B0, C0)
    for p, (A, B) in enumerate(pairs):
        A = np.asarray(A, dtype=np.float64)
        B = np.asarray(B, dtype=np.float64)
        if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape != B.shape:
            raise ValueError(f"A and B must be square of one shape, got {A.shape} and {B.shape}")
        na, nb = float(np.linalg.norm(A)), float(np.linalg.norm(B))
        if not (na > 0 and nb > 0 and math.isfinite(na) and math.isfinite(nb)):
            raise ValueError("A and B must be finite and non-zero")
        A, B = A / na, B / nb
        r = A.shape[0]
        A0, B0 = _traceless_unit(A), _traceless_unit(B)
        if r == 1 or A0 is None or B0 is None:  # every C gives the same angle
            distances[p] = _angles(A[None], B[None], np.eye(r)[None])[0]
            continue
        starts = _deterministic_starts(A0, B0)
        reflection = np.diag(np.r_[np.ones(r - 1), -1.0])
        for _ in range(params.n_starts):
            for sign in (1.0, -1.0):
                C0 = _haar(r, rng)
                starts.append(C0 if np.linalg.det(C0) * sign > 0 else C0 @ reflection)
        problems.setdefault(r, []).extend((p, A, B, A0, B0, C0) for C0 in starts)
    for batch in problems.values():
        owner = np.array([item[0] for item in batch])
        A, B, A0, B0, C0 = (np.stack([item[i] for item in batch]) for i in range(1, 6))
        C = _align(A0, B0, C0, params)
        angles = _angles(A, B, C)
        for p in np.unique(owner):
            distances[p] = angles[owner == p].min()
    return distances


def operator_distance(
    A: np.ndarray,
    B: np.ndarray,
    params: DSAParams | None = None,
    rng: np.random.Generator | None = None,
) -> float:
    """Angular Procrustes distance between two operators (:func:`operator_distances`).

    Parameters
    ----------
    A, B : ndarray, shape (r, r)
    params : DSAParams, optional
    rng : numpy.random.Generator
        Random starts (required when ``params.n_starts > 0``).

    Returns
    -------
    float
        Radians, in [0, pi].
    """
    return float(operator_distances([(A, B)], params, rng)[0])


# ----------------------------------------------------------------------------------------------
# end to end


@dataclass(frozen=True)
class DSAResult:
    """A DSA comparison.

    Attributes
    ----------
    distance : float
        Angular distance between the two operators, radians, in [0, pi].
    n_delays, rank : int
        The common embedding both operators were taken at.
    """

    distance: float
    n_delays: int
    rank: int


def common_embedding(fit_x: DMDFit, fit_y: DMDFit) -> tuple[int, int]:
    """The (n_delays, rank) two fits are compared at.

    ``(max(d_x, d_y), max(r_x, r_y))``; when that cell is invalid for either fit (the rank above
    ``k d`` of a population with few components), the rank is kept and the delays raised to the
    smallest grid value valid for both.
    """
    if fit_x.delays != fit_y.delays or fit_x.ranks != fit_y.ranks:
        raise ValueError("the fits must share one (delays, ranks) grid")
    rank = max(fit_x.rank, fit_y.rank)
    least = max(fit_x.n_delays, fit_y.n_delays)
    for d in fit_x.delays:
        if d >= least and (d, rank) in fit_x.operators and (d, rank) in fit_y.operators:
            return d, rank
    raise ValueError(
        f"no common embedding with rank {rank} on the grid: a population has too few "
        f"components ({fit_x.n_components}, {fit_y.n_components})"
    )


def dsa_distance(
    fit_x: DMDFit,
    fit_y: DMDFit,
    params: DSAParams | None = None,
    rng: np.random.Generator | None = None,
) -> DSAResult:
    """DSA distance of two fitted populations at their :func:`common_embedding`.

    Parameters
    ----------
    fit_x, fit_y : DMDFit
        From :func:`fit_dynamics` with the same grid.
    params : DSAParams, optional
    rng : numpy.random.Generator
        Random starts of :func:`operator_distances`.

    Returns
    -------
    DSAResult
    """
    n_delays, rank = common_embedding(fit_x, fit_y)
    distance = operator_distance(
        fit_x.operator(n_delays, rank), fit_y.operator(n_delays, rank), params, rng
    )
    return DSAResult(distance=distance, n_delays=n_delays, rank=rank)


def dsa(
    X: np.ndarray,
    Y: np.ndarray,
    params: DSAParams | None = None,
    rng: np.random.Generator | None = None,
) -> DSAResult:
    """DSA distance between two populations' activity, end to end.

    Parameters
    ----------
    X : ndarray, shape (C, T, N_x)
    Y : ndarray, shape (C, T, N_y)
        Activity of the same conditions and bins (units may differ in number and scale).
    params : DSAParams, optional
    rng : numpy.random.Generator
        Random starts (required when ``params.n_starts > 0``).

    Returns
    -------
    DSAResult
    """
    params = DSAParams() if params is None else params
    X = _check_activity(X, "X")
    Y = _check_activity(Y, "Y")
    if X.shape[:2] != Y.shape[:2]:
        raise ValueError(
            f"X and Y must share (n_conditions, n_times), got {X.shape[:2]} and {Y.shape[:2]}"
        )
    return dsa_distance(fit_dynamics(X, params), fit_dynamics(Y, params), params, rng)


def dsa_table(
    sources: Mapping[str, np.ndarray],
    targets: Mapping[str, np.ndarray],
    params: DSAParams | None = None,
    rng: np.random.Generator | None = None,
) -> pd.DataFrame:
    """DSA distance of every source to every target, each population fitted once.

    Parameters
    ----------
    sources, targets : mapping of name -> ndarray (C, T, N) or DMDFit
        E.g. the models and references (sources) and the SOC populations (targets), all of the
        same conditions and bins; either may be given as a :class:`DMDFit` already (from
        :func:`fit_dynamics` with ``params``' grid), e.g. a reference fitted once for many
        runs.
    params : DSAParams, optional
    rng : numpy.random.Generator
        Random starts of all comparisons (:func:`operator_distances`, which optimises every
        pair's starts together), drawn in the order sources x targets.

    Returns
    -------
    pandas.DataFrame
        Columns ``source, target, distance, n_delays, rank`` (distance in radians), one row
        per (source, target), sources in the given order, then targets.
    """
    params = DSAParams() if params is None else params

    def fitted(value):
        return value if isinstance(value, DMDFit) else fit_dynamics(value, params)

    target_fits = {name: fitted(value) for name, value in targets.items()}
    keys, pairs, cells = [], [], []
    for source, value in sources.items():
        fit_s = fitted(value)
        for target, fit_t in target_fits.items():
            d, r = common_embedding(fit_s, fit_t)
            keys.append((source, target))
            cells.append((d, r))
            pairs.append((fit_s.operator(d, r), fit_t.operator(d, r)))
    distances = operator_distances(pairs, params, rng)
    rows = [(*key, dist, *cell) for key, dist, cell in zip(keys, distances, cells, strict=True)]
    return pd.DataFrame(rows, columns=list(DSA_COLUMNS))
