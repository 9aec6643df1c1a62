"""Stability-optimised circuit (SOC) connectivity (Hennequin, Vogels & Gerstner 2014).

The construction follows Stroud et al. (2018)'s published code. ``W[post, pre]`` holds the weight
from presynaptic neuron ``pre`` (a column) to postsynaptic neuron ``post`` (a row); a neuron is
excitatory or inhibitory by the sign of its column.

1. Initial connectivity: exactly round(p N (N - 1)) off-diagonal connections at random, excitatory
   weights +w0 / sqrt(N) and inhibitory ones -gamma w0 / sqrt(N) with
   w0 = sqrt(2) R / sqrt(p (1 - p) (1 + gamma^2)), so the bulk spectrum has radius ~R.
2. Until the spectral abscissa alpha(W) <= target: with the smoothed shift
   s = max(1.5 alpha, alpha + 0.2) and A = W - s I, solve the Lyapunov equations
   A^T Q + Q A = -2 I and A P + P A^T = -2 I, step the inhibitory columns down the gradient
   G = Q P / tr(Q P) of the smoothed spectral abscissa and project back onto the constraints
   (inhibitory weights <= 0, E/I balance, inhibitory density, no self-loops). The step is the
   heavy-ball update v <- beta v - eta G[:, I]; W[:, I] += v (Polyak 1964) with momentum beta;
   beta = 0 is the published plain gradient step W[:, I] -= eta G[:, I]. The projection acts on
   W after every step; the velocity of every weight the projection set to zero is reset, so
   pruned weights do not regrow from stale momentum. From the default initial network the
   plain step needs ~1,850 iterations and beta = 0.9 under ~200, to a circuit with the same
   density and balance and close transient amplification and non-normality (tests/test_soc.py
   compares them).

Each iteration obtains the eigenvalues and both Gramians from one real Schur decomposition
W = Z T Z^T: with T_s = T - s I, the Lyapunov equations become T_s^T Q~ + Q~ T_s = -2 I and
T_s P~ + P~ T_s^T = -2 I (the right-hand side is invariant under the orthogonal change of
basis), which LAPACK ``trsyl`` solves directly on the quasi-triangular T_s; Q = Z Q~ Z^T and
P = Z P~ Z^T.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.linalg.lapack import dtrsyl

from hintforce._validate import check_integer, check_number, is_number

__all__ = [
    "SOC",
    "SOCParams",
    "build_soc",
    "excitatory_mask",
    "initial_connectivity",
    "initial_weight_scale",
    "optimise_inhibition",
    "smoothed_shift",
    "spectral_abscissa",
    "spectrum_and_gramians",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SOCParams:
    """Parameters of the SOC construction.

    Parameters
    ----------
    n_neurons : int
        Network size N (>= 2).
    excitatory_fraction : float
        Fraction of neurons that are excitatory; the first round(fraction N) neurons are
        excitatory, the rest inhibitory. Both populations must be non-empty.
    connection_prob : float
        Connection probability p in (0, 1) of the initial random network.
    radius : float
        Spectral radius R of the initial random network.
    gamma : float
        Inhibition/excitation ratio: inhibitory weights are on average gamma times stronger.
    learning_rate : float
        Gradient step eta on the inhibitory weights.
    momentum : float
        Heavy-ball coefficient beta in [0, 1) of the inhibitory update
        ``v <- beta v - eta G[:, I]``; 0 gives the published plain gradient step. The default
        0.9 is the textbook value for heavy-ball momentum; it was chosen for speed on the
        construction's own target (iterations to the abscissa target), not on any result.
    target_abscissa : float
        Optimisation stops once the spectral abscissa is <= this value. Must be below the
        initial network's abscissa (checked in :func:`optimise_inhibition`).
    inhibitory_density : float
        Maximum fraction of non-zero entries among the N x N_I entries of the inhibitory
        columns, in (0, 1]: after every step only the floor(density N N_I) most negative
        inhibitory weights are kept.
    max_iterations : int
        Gradient steps allowed before giving up with a RuntimeError.
    log_every : int
        Log the iteration and abscissa every ``log_every`` iterations.
    """

    n_neurons: int = 200
    excitatory_fraction: float = 0.5
    connection_prob: float = 0.1
    radius: float = 10.0
    gamma: float = 3.0
    learning_rate: float = 10.0
    momentum: float = 0.9
    target_abscissa: float = 0.15
    inhibitory_density: float = 0.4
    max_iterations: int = 20000
    log_every: int = 100

    def __post_init__(self) -> None:
        check_integer("n_neurons", self.n_neurons)
        if self.n_neurons < 2:
            raise ValueError(f"n_neurons must be >= 2, got {self.n_neurons!r}")
        check_number("excitatory_fraction", self.excitatory_fraction, 0, 1)
        n_exc = round(self.excitatory_fraction * self.n_neurons)
        if not 1 <= n_exc <= self.n_neurons - 1:
            raise ValueError(
                f"excitatory_fraction must leave at least one excitatory and one inhibitory "
                f"neuron among n_neurons={self.n_neurons}, got {self.excitatory_fraction!r}"
            )
        check_number("connection_prob", self.connection_prob, 0, 1)
        check_number("radius", self.radius, 0)
        check_number("gamma", self.gamma, 0)
        check_number("learning_rate", self.learning_rate, 0)
        check_number("momentum", self.momentum, 0, 1, low_open=False)
        if not is_number(self.target_abscissa) or not math.isfinite(self.target_abscissa):
            raise ValueError(
                f"target_abscissa must be a finite number below the initial spectral abscissa, "
                f"got {self.target_abscissa!r}"
            )
        check_number("inhibitory_density", self.inhibitory_density, 0, 1, high_open=False)
        check_integer("max_iterations", self.max_iterations)
        check_integer("log_every", self.log_every)


@dataclass(frozen=True)
class SOC:
    """A stability-optimised circuit.

    Attributes
    ----------
    W : ndarray, shape (N, N)
        Connectivity, ``W[post, pre]``; excitatory columns >= 0, inhibitory columns <= 0.
    excitatory : ndarray of bool, shape (N,)
        True for excitatory neurons.
    abscissa_trace : ndarray, shape (n_iterations + 1,)
        Spectral abscissa of W before the first and after every gradient step.
    """

    W: np.ndarray
    excitatory: np.ndarray
    abscissa_trace: np.ndarray


def excitatory_mask(params: SOCParams) -> np.ndarray:
    """Boolean mask, shape (N,): the first round(excitatory_fraction N) neurons are excitatory."""
    mask = np.zeros(params.n_neurons, dtype=bool)
    mask[: round(params.excitatory_fraction * params.n_neurons)] = True
    return mask


def initial_weight_scale(params: SOCParams) -> float:
    """w0 = sqrt(2) R / sqrt(p (1 - p) (1 + gamma^2))."""
    p = params.connection_prob
    return math.sqrt(2.0) * params.radius / math.sqrt(p * (1.0 - p) * (1.0 + params.gamma**2))


def initial_connectivity(
    params: SOCParams, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random sparse E/I network with spectral radius ~R.

    Parameters
    ----------
    params : SOCParams
    rng : numpy.random.Generator
        Chooses which round(p N (N - 1)) of the N (N - 1) off-diagonal entries are connected.

    Returns
    -------
    W : ndarray, shape (N, N)
        ``W[post, pre]``: +w0/sqrt(N) for connections from excitatory neurons,
        -gamma w0/sqrt(N) from inhibitory ones, 0 elsewhere and on the diagonal.
    excitatory : ndarray of bool, shape (N,)
    """
    n = params.n_neurons
    excitatory = excitatory_mask(params)
    n_connections = round(params.connection_prob * n * (n - 1))
    flat = rng.choice(n * (n - 1), size=n_connections, replace=False)
    post, offset = np.divmod(flat, n - 1)
    pre = offset + (offset >= post)  # skip the diagonal entry of each row
    w0 = initial_weight_scale(params) / math.sqrt(n)
    column_weight = np.where(excitatory, w0, -params.gamma * w0)
    W = np.zeros((n, n), dtype=np.float64)
    W[post, pre] = column_weight[pre]
    return W, excitatory


def smoothed_shift(abscissa: float) -> float:
    """Shift s = max(1.5 alpha, alpha + 0.2) of the smoothed spectral abscissa."""
    return max(1.5 * abscissa, abscissa + 0.2)


def _real_schur(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Real Schur form W = Z T Z^T (T quasi-upper-triangular, LAPACK standardised 2x2 blocks)."""
    T, Z = scipy.linalg.schur(W, output="real", check_finite=False)
    return T, Z


def _schur_eigenvalues(T: np.ndarray) -> np.ndarray:
    """Eigenvalues of a quasi-triangular T from its 1x1 and 2x2 diagonal blocks, shape (N,)."""
    eig = np.diagonal(T).astype(np.complex128)
    sub = np.diagonal(T, offset=-1)
    starts = np.flatnonzero(sub != 0.0)  # row i of a 2x2 block spanning rows i, i+1
    if starts.size:
        a = T[starts, starts]
        b = T[starts, starts + 1]
        c = T[starts + 1, starts]
        d = T[starts + 1, starts + 1]
        mean = 0.5 * (a + d)
        root = np.sqrt((0.5 * (a - d)) ** 2 + b * c + 0j)
        eig[starts] = mean + root
        eig[starts + 1] = mean - root
    return eig


def _schur_abscissa(T: np.ndarray) -> float:
    """Largest real part of the eigenvalues of a quasi-triangular T.

    The real part of a 2x2 block's complex pair is half its trace, so averaging the block's two
    diagonal entries gives it exactly (LAPACK standardises the diagonals to be equal anyway).
    """
    real = np.array(np.diagonal(T))
    starts = np.flatnonzero(np.diagonal(T, offset=-1) != 0.0)
    if starts.size:
        half_trace = 0.5 * (real[starts] + real[starts + 1])
        real[starts] = half_trace
        real[starts + 1] = half_trace
    return float(real.max())


# Diagonal blocks up to this size go to dtrsyl whole; larger ones are split in two (see
# _lyapunov_schur). dtrsyl works element by element with level-1 BLAS, so moving the coupling
# terms into matrix products and exploiting the symmetry of the solution halves its cost at N=200.
_LYAPUNOV_BLOCK = 32


def _trsyl(a: np.ndarray, b: np.ndarray, rhs: np.ndarray, trana: str, tranb: str) -> np.ndarray:
    """Solve op(a) X + X op(b) = rhs for quasi-triangular ``a``, ``b`` with LAPACK dtrsyl."""
    x, scale, info = dtrsyl(a, b, rhs, trana=trana, tranb=tranb, isgn=1)
    if info < 0:
        raise ValueError(f"dtrsyl: argument {-info} had an illegal value")
    if info == 1:
        raise np.linalg.LinAlgError(
            "dtrsyl: the shifted matrix has (nearly) opposite eigenvalues; the Lyapunov "
            "equation is singular (is the shift above the spectral abscissa?)"
        )
    if scale != 1.0:  # dtrsyl solved for scale * X to avoid overflow
        x /= scale
    return x


def _block_split(T: np.ndarray) -> int:
    """Split index near the middle of quasi-triangular T that does not cut a 2x2 block."""
    k = T.shape[0] // 2
    return k + 1 if T[k, k - 1] != 0.0 else k


def _lyapunov_schur(T: np.ndarray, rhs: np.ndarray, observability: bool) -> np.ndarray:
    """Solve a Lyapunov equation for quasi-upper-triangular T by recursive blocking.

    observability=True solves T^T X + X T = rhs, False solves T X + X T^T = rhs (``rhs``
    symmetric). With T = [[T11, T12], [0, T22]] and the symmetric solution
    X = [[X11, X12], [X12^T, X22]]:

    * observability: T11^T X11 + X11 T11 = R11; T11^T X12 + X12 T22 = R12 - X11 T12;
      T22^T X22 + X22 T22 = R22 - T12^T X12 - X12^T T12.
    * controllability: T22 X22 + X22 T22^T = R22; T11 X12 + X12 T22^T = R12 - T12 X22;
      T11 X11 + X11 T11^T = R11 - T12 X12^T - X12 T12^T.

    The diagonal blocks recurse; the off-diagonal Sylvester equations and blocks of at most
    _LYAPUNOV_BLOCK rows go to dtrsyl.
    """
    n = T.shape[0]
    trans = ("T", "N") if observability else ("N", "T")
    if n <= _LYAPUNOV_BLOCK:
        return _trsyl(T, T, rhs, *trans)
    k = _block_split(T)
    T11, T12, T22 = T[:k, :k], T[:k, k:], T[k:, k:]
    X = np.empty((n, n))
    if observability:
        X11 = _lyapunov_schur(T11, rhs[:k, :k], observability)
        X12 = _trsyl(T11, T22, rhs[:k, k:] - X11 @ T12, *trans)
        coupling = T12.T @ X12
        X22 = _lyapunov_schur(T22, rhs[k:, k:] - coupling - coupling.T, observability)
    else:
        X22 = _lyapunov_schur(T22, rhs[k:, k:], observability)
        X12 = _trsyl(T11, T22, rhs[:k, k:] - T12 @ X22, *trans)
        coupling = X12 @ T12.T
        X11 = _lyapunov_schur(T11, rhs[:k, :k] - coupling - coupling.T, observability)
    X[:k, :k] = X11
    X[:k, k:] = X12
    X[k:, :k] = X12.T
    X[k:, k:] = X22
    return X


def _schur_gramians(T_shifted: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gramians in Schur coordinates for the quasi-triangular stable matrix T_s.

    Returns Q~ solving T_s^T Q~ + Q~ T_s = rhs and P~ solving T_s P~ + P~ T_s^T = rhs.
    """
    q_t = _lyapunov_schur(T_shifted, rhs, observability=True)
    p_t = _lyapunov_schur(T_shifted, rhs, observability=False)
    return q_t, p_t


def spectrum_and_gramians(W: np.ndarray, shift: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eigenvalues of W and both Gramians of A = W - shift I from one real Schur decomposition.

    Parameters
    ----------
    W : ndarray, shape (N, N)
    shift : float
        Must exceed the spectral abscissa of W so that A is stable.

    Returns
    -------
    eigenvalues : ndarray of complex, shape (N,)
        Eigenvalues of W.
    Q : ndarray, shape (N, N)
        Observability Gramian, A^T Q + Q A = -2 I.
    P : ndarray, shape (N, N)
        Controllability Gramian, A P + P A^T = -2 I.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square matrix, got shape {W.shape}")
    T, Z = _real_schur(W)
    eigenvalues = _schur_eigenvalues(T)
    abscissa = float(eigenvalues.real.max())
    if not shift > abscissa:
        raise ValueError(
            f"shift must exceed the spectral abscissa of W ({abscissa}), got {shift!r}"
        )
    n = W.shape[0]
    T[np.diag_indices(n)] -= shift
    q_t, p_t = _schur_gramians(T, -2.0 * np.eye(n))
    Q = Z @ q_t @ Z.T
    P = Z @ p_t @ Z.T
    return eigenvalues, Q, P


def spectral_abscissa(W: np.ndarray) -> float:
    """Largest real part of the eigenvalues of a square matrix W (from its real Schur form)."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square matrix, got shape {W.shape}")
    T, _ = _real_schur(W)
    return _schur_abscissa(T)


def _project_inhibition(
    W: np.ndarray,
    exc: np.ndarray,
    inh: np.ndarray,
    gamma: float,
    n_keep: int,
) -> None:
    """Project W in place onto the SOC constraints after a gradient step.

    Positive inhibitory weights -> 0; rescale the I->E block (W[E][:, I]) to mean
    -gamma mean(E->E) and the I->I block to -gamma mean(E->I); keep the ``n_keep`` most negative
    inhibitory weights (zero the rest); zero the diagonal.
    """
    w_inh = W[:, inh]  # copy, shape (N, N_I)
    np.minimum(w_inh, 0.0, out=w_inh)
    for post in (exc, inh):
        mean_e = W[np.ix_(post, exc)].mean()
        mean_i = w_inh[post].mean()
        if mean_i == 0.0:
            raise FloatingPointError(
                "all inhibitory weights onto one population vanished; cannot restore the E/I "
                "balance (try a smaller learning_rate)"
            )
        w_inh[post] *= -gamma * mean_e / mean_i
    if n_keep < w_inh.size:
        # Flat C-order indices of all but the n_keep most negative entries. (W[:, inh] need not
        # be C-contiguous, so index it with np.put rather than through a reshaped view.)
        drop = np.argpartition(w_inh.ravel(), n_keep)[n_keep:]
        np.put(w_inh, drop, 0.0)
    W[:, inh] = w_inh
    np.fill_diagonal(W, 0.0)


def optimise_inhibition(W: np.ndarray, excitatory: np.ndarray, params: SOCParams) -> SOC:
    """Optimise the inhibitory weights until the spectral abscissa is <= target_abscissa.

    Parameters
    ----------
    W : ndarray, shape (N, N)
        Initial connectivity ``W[post, pre]`` (not modified).
    excitatory : ndarray of bool, shape (N,)
        True for excitatory neurons (columns kept fixed).
    params : SOCParams
        Uses gamma, learning_rate, momentum, target_abscissa, inhibitory_density,
        max_iterations, log_every.

    Returns
    -------
    SOC

    Raises
    ------
    ValueError
        If target_abscissa is not below the initial spectral abscissa.
    RuntimeError
        If the target is not reached within max_iterations.
    """
    W = np.array(W, dtype=np.float64, order="C", copy=True)
    excitatory = np.asarray(excitatory)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"W must be a square matrix, got shape {W.shape}")
    n = W.shape[0]
    if excitatory.dtype != bool or excitatory.shape != (n,):
        raise ValueError(
            f"excitatory must be a boolean array of shape ({n},), got dtype {excitatory.dtype} "
            f"and shape {excitatory.shape}"
        )
    exc = np.flatnonzero(excitatory)
    inh = np.flatnonzero(~excitatory)
    if exc.size == 0 or inh.size == 0:
        raise ValueError("excitatory must mark at least one excitatory and one inhibitory neuron")

    n_keep = math.floor(params.inhibitory_density * n * inh.size + 1e-9)
    rhs = -2.0 * np.eye(n)
    work = np.empty((n, inh.size))  # preallocated products for the gradient's columns
    gradient = np.empty((n, inh.size))
    velocity = np.zeros((n, inh.size))
    eta = params.learning_rate

    T, Z = _real_schur(W)
    abscissa = _schur_abscissa(T)
    if not params.target_abscissa < abscissa:
        raise ValueError(
            f"target_abscissa must be below the initial spectral abscissa ({abscissa}), "
            f"got {params.target_abscissa!r}"
        )
    trace = [abscissa]
    logger.info("SOC optimisation: N=%d, initial spectral abscissa %.4f", n, abscissa)
    iteration = 0
    while abscissa > params.target_abscissa:
        if iteration >= params.max_iterations:
            raise RuntimeError(
                f"spectral abscissa {abscissa:.4f} still above target_abscissa "
                f"{params.target_abscissa} after max_iterations={params.max_iterations}"
            )
        iteration += 1
        T[np.diag_indices(n)] -= smoothed_shift(abscissa)
        q_t, p_t = _schur_gramians(T, rhs)
        # Q P = Z Q~ P~ Z^T and tr(Q P) = tr(Q~ P~). Only the inhibitory columns of the
        # gradient are needed: (Q P)[:, I] = Z (Q~ (P~ Z[I]^T)).
        norm = np.einsum("ij,ji->", q_t, p_t)
        np.matmul(p_t, Z[inh].T, out=gradient)
        np.matmul(q_t, gradient, out=work)
        np.matmul(Z, work, out=gradient)
        velocity *= params.momentum
        velocity -= (eta / norm) * gradient
        W[:, inh] += velocity
        _project_inhibition(W, exc, inh, params.gamma, n_keep)
        # Weights the projection removed (pruned or clipped to 0) restart from rest: a stale
        # velocity would regrow them and bias the next balance rescale.
        velocity[W[:, inh] == 0.0] = 0.0

        T, Z = _real_schur(W)
        abscissa = _schur_abscissa(T)
        trace.append(abscissa)
        if iteration % params.log_every == 0:
            logger.info("SOC iteration %d: spectral abscissa %.4f", iteration, abscissa)
    logger.info(
        "SOC optimisation done after %d iterations: spectral abscissa %.4f", iteration, abscissa
    )
    return SOC(W=W, excitatory=excitatory.copy(), abscissa_trace=np.asarray(trace))


def build_soc(params: SOCParams, rng: np.random.Generator) -> SOC:
    """Initial random E/I network followed by inhibitory stability optimisation."""
    W, excitatory = initial_connectivity(params, rng)
    return optimise_inhibition(W, excitatory, params)
