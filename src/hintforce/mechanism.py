"""Mechanism measures of a rate network: local linear dynamics, transient amplification, fixed
points (Sussillo & Barak 2013) and the return to rest.

Both networks of the study are rate networks of one form, with state ``x`` (N,) and time
constant ``tau``,

    tau dx/dt = F(x) = -x + W f(g ⊙ x),

* the trained RNN: ``W = J``, ``f = tanh``, ``g = 1``, ``x`` dimensionless, rates ``tanh(x)``;
* the SOC ground truth: ``f = phi`` (:func:`hintforce.gain.phi`, baseline ``r0``, maximum
  ``rmax``), one positive gain vector ``g_c`` per reach condition, ``x`` the deviation from the
  ``r0`` baseline in Hz, rate deviations ``phi(g_c ⊙ x)``.

Either rests at ``x = 0`` (rates 0, or every SOC neuron at baseline). The Jacobian of the flow,
in s^-1 (``tau`` in seconds), is

    A(x) = (-I + W diag(g ⊙ f'(g ⊙ x))) / tau.

Measures
--------
* **Local linear dynamics** of a Jacobian ``A`` (:func:`local_dynamics`): the spectral abscissa
  ``max Re lambda_i`` (s^-1); the number of slow modes, eigenvalues with
  ``Re lambda > -1 / slow_s`` (time constant above ``slow_s``, growing modes included, a
  complex pair counting two); Henrici's departure from normality, normalised,
  ``sqrt(max(0, ||A||_F^2 - sum |lambda_i|^2)) / ||A||_F`` in [0, 1]. All three come from one
  real Schur form ``A = Z T Z^T``: there ``||A||_F^2 - sum |lambda_i|^2`` is the squared norm of
  ``T``'s entries above its 1x1 / 2x2 diagonal blocks plus ``(a - d)^2 + (b + c)^2`` for each
  2x2 block ``[[a, b], [c, d]]`` (whose eigenvalues have ``|lambda|^2 = ad - bc``), a sum of
  squares, free of the cancellation of the definition's difference.
* **Transient amplification** of a Jacobian (:func:`amplification`): the peak over
  ``t in (0, t_max]`` of ``sigma(t) = ||expm(A t)||_2``, the gain of the most amplified
  perturbation, and the time of the peak. With ``omega`` the largest eigenvalue of
  ``(A + A^T) / 2`` (the numerical abscissa), ``sigma(t) <= exp(omega t)``: when ``omega <= 0``
  no perturbation grows and the peak is 1, reached as ``t -> 0`` (time 0). Otherwise ``sigma``
  is evaluated on a geometric grid of ``points_per_octave`` times per halving of ``t``, from
  ``t_max 2^-octaves`` to ``t_max``; the first octave's ``expm`` are computed directly, each
  later grid point by squaring the one an octave earlier. On the grid, ``sigma_max`` comes from
  a warm-started block power iteration (subspace iteration on ``E^T E`` with four vectors, to a
  relative change below 1e-6; full SVD if it has not converged in 40 iterations), which also
  gives the top left singular vector ``u`` and hence the exact derivative
  ``d log sigma / dt = u^T A u``. The grid's best point and its neighbour bracket the peak, where
  the derivative changes sign; Brent's root finding on the derivative locates it to a relative
  1e-7 in ``t``, each evaluation ``expm(A t) = expm(A t_a) expm(A (t - t_a))`` from the
  bracket's left end ``t_a`` with ``sigma`` and ``u`` exact (top eigenpair of ``E E^T``). The
  peak value, quadratic in the error of ``t``, is then exact to ~1e-12 relative. If the growth
  has not stopped by ``t_max`` the peak is ``sigma(t_max)`` (exact) at ``t_max`` (an unstable
  ``A``). Cost at N = 300: one ``eigvalsh``, two ``expm``, ~20 matrix products and, for a
  stable peak, ~8 more ``expm``.
* **Fixed points** with the input off (:func:`fixed_points`): minima of
  ``q(x) = 1/2 ||F(x) / s||^2`` (``s`` the state scale: 1 for the RNN, ``r0`` for the SOC, so
  ``q`` is dimensionless), with gradient ``grad q = A_F(x)^T F(x) / s^2``,
  ``A_F = -I + W diag(g ⊙ f'(g ⊙ x))`` the Jacobian of ``F``. Starts: the rest state
  ``x = 0``, a fixed point of either network by construction (``tanh(0) = phi(0) = 0``), so it
  is always counted, with the stability of the rest Jacobian; and ``n_starts`` of the given
  trajectory states drawn at random, each plus Gaussian noise of sd ``start_noise`` times the
  states' per-unit sd. Every start is minimised by L-BFGS (memory 10, Armijo backtracking,
  vectorised over the starts) for at most ``max_iterations`` iterations, and every minimum with
  ``q < slow_q`` is then polished by damped Newton steps on ``F = 0``
  (``dx = -A_F^{-1} F``, halved until ``q`` falls): at a true zero of ``F`` this converges
  quadratically to ``q ~ 1e-25`` or below, far beneath ``fixed_q``, while at a slow point (a
  non-zero minimum of ``q``) ``q`` stays at its minimum. An L-BFGS start stops once
  ``q < fixed_q`` (a fixed point by definition, which the polish only sharpens), when its
  relative decrease per iteration falls below 1e-10 (a minimum: a slow point or a fixed point),
  or at the cap. So the classes below are decided by the landscape, not by the minimiser's
  tolerances, except for starts still descending at the cap. Minima are ``fixed`` when
  ``q < fixed_q`` (1e-10), ``slow`` when ``fixed_q <= q < slow_q`` (1e-4), discarded otherwise
  (their number is reported: in a chaotic network many starts are still descending at the
  iteration cap, and the counts are then lower bounds); points closer than
  ``merge_distance sqrt(N)`` in units of ``x / s`` are one (the one of lowest ``q`` is kept). A
  fixed point is stable when the spectral abscissa of its Jacobian is below 0.
* **Return to rest** (:func:`return_to_rest`): per condition, the RMS over units and bins of the
  rate deviations from rest (0) over the final window, divided by their RMS over the movement.

:func:`measure` computes all of them for one network from the states along its own trajectory.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg
from scipy.linalg.lapack import dgees
from scipy.optimize import brentq

from hintforce._validate import check_integer, check_number
from hintforce.gain import phi, phi_derivative

__all__ = [
    "MEASURES",
    "MEASURE_COLUMNS",
    "MEASURE_NAMES",
    "Amplification",
    "BatchResult",
    "FixedPoints",
    "LocalDynamics",
    "MechanismParams",
    "Measure",
    "Trajectory",
    "RateSystem",
    "amplification",
    "batched_lbfgs",
    "fixed_points",
    "local_dynamics",
    "measure",
    "measure_networks",
    "q_and_gradient",
    "return_to_rest",
]

NONLINEARITIES: tuple[str, ...] = ("tanh", "phi")


# ----------------------------------------------------------------------------------------------
# measures and parameters


@dataclass(frozen=True)
class Measure:
    """One mechanism measure.

    Attributes
    ----------
    name : str
    unit : str
        Unit of the value ("1" for dimensionless ratios, "count" for counts).
    label : str
        Axis label in figures.
    higher_is_better : bool or None
        Direction of improvement where the task defines one; None where a model should match
        the SOC's value rather than push it one way.
    """

    name: str
    unit: str
    label: str
    higher_is_better: bool | None


MEASURES: tuple[Measure, ...] = (
    Measure("return_to_rest", "1", "final / movement RMS rate deviation", False),
    Measure("abscissa_end", "1/s", "spectral abscissa at movement end (1/s)", None),
    Measure("slow_modes_end", "count", "slow modes at movement end", None),
    Measure("henrici_end", "1", "departure from normality at movement end", None),
    Measure("abscissa_rest", "1/s", "spectral abscissa at rest (1/s)", None),
    Measure("slow_modes_rest", "count", "slow modes at rest", None),
    Measure("henrici_rest", "1", "departure from normality at rest", None),
    Measure("amplification_peak", "1", "peak transient amplification at rest", None),
    Measure("amplification_time_s", "s", "time of peak amplification (s)", None),
    Measure("fixed_points", "count", "fixed points", None),
    Measure("stable_fixed_points", "count", "stable fixed points", None),
    Measure("slow_points", "count", "slow points", None),
    Measure("discarded_starts", "count", "fixed-point starts ending at q >= slow_q", None),
)
MEASURE_NAMES: tuple[str, ...] = tuple(m.name for m in MEASURES)
MEASURE_COLUMNS: tuple[str, ...] = ("measure", "condition", "value")


@dataclass(frozen=True)
class MechanismParams:
    """Parameters of the mechanism measures.

    Parameters
    ----------
    slow_s : float
        A mode is slow when its time constant exceeds this, s (> 0). Default 1: five SOC
        time constants (200 ms), twenty RNN ones (50 ms), longer than the 800 ms movement, so a
        slow mode outlasts the behaviour it could serve.
    t_max_s : float
        Horizon of the amplification peak, s (> 0). Default 2, the free run's length.
    octaves, points_per_octave : int
        The amplification grid spans ``t_max 2^-octaves`` to ``t_max`` with
        ``points_per_octave`` points per halving (>= 1 each). Defaults 10 and 1: from ~2 ms
        (below every time constant of either network, so the earliest peak is bracketed) in
        steps of 2; the grid only brackets the peak, which the root finding then locates
        exactly (on the default study's SOC and models a grid twice as fine gives the same
        peaks and times to 10 digits, at 25% more cost).
    n_starts : int
        Starts of the fixed-point search per system drawn from its trajectories (>= 1), besides
        the rest state. Default 20, below the 50 of a generous search (Sussillo & Barak 2013
        use tens to hundreds), for the cost of one run: its five RNNs of 300 units get all
        their measures next to DSA in one benchmark (``benchmarks/bench_mechanism.py``), where
        the batched search takes ~1.1 s of CPU with 20 starts and 200 iterations, less than the
        local dynamics' Schur forms. Starts drawn from the trajectory states find the
        attractors the trajectories visit; one they visit rarely may be missed, and in a
        chaotic network most starts are still descending at the iteration cap, so the counts
        are lower bounds.
    start_noise : float
        Sd of the Gaussian noise added to each start, relative to the trajectory states'
        per-unit sd (>= 0). Default 0.1: starts leave the trajectory's manifold, so the search
        is not confined to it, but stay within the visited region.
    fixed_q, slow_q : float
        ``q < fixed_q`` is a fixed point, ``fixed_q <= q < slow_q`` a slow point
        (``0 < fixed_q < slow_q``). Defaults 1e-10 and 1e-4: ``q = 1/2 ||F/s||^2``, so 1e-4 is
        a speed ``||dx/dt|| = sqrt(2e-4) s / tau``, one state scale in ~70 time constants
        (14 s for the SOC, 3.5 s for the RNN), slower than anything in the trial; 1e-10 a
        thousand times slower still.
    merge_distance : float
        Points closer than ``merge_distance sqrt(N)`` (in units of ``x / s``, i.e. an RMS per
        unit of ``merge_distance``) are one (> 0). Default 1e-3.
    max_iterations : int
        L-BFGS iterations per start (>= 1). Default 200: a start in a fixed point's basin
        reaches ``q < fixed_q`` in ~100 (the SOC's) and the Newton polish finishes it; in a
        chaotic network many starts are still descending at the cap and end above ``slow_q``
        (counted in ``discarded_starts``), so there the counts are lower bounds.
    newton_iterations : int
        Damped Newton steps of the polish (>= 0). Default 8: quadratic convergence needs 3-5
        from ``q ~ 1e-4``.
    rest_window_ms : float
        The return to rest is measured over the last ``rest_window_ms`` of the free run, ms
        (> 0). Default 500.
    bin_ms : float
        Spacing of the states' time grid, ms (> 0). Default 10.
    """

    slow_s: float = 1.0
    t_max_s: float = 2.0
    octaves: int = 10
    points_per_octave: int = 1
    n_starts: int = 20
    start_noise: float = 0.1
    fixed_q: float = 1e-10
    slow_q: float = 1e-4
    merge_distance: float = 1e-3
    max_iterations: int = 200
    newton_iterations: int = 8
    rest_window_ms: float = 500.0
    bin_ms: float = 10.0

    def __post_init__(self) -> None:
        check_number("slow_s", self.slow_s, 0.0)
        check_number("t_max_s", self.t_max_s, 0.0)
        check_integer("octaves", self.octaves)
        check_integer("points_per_octave", self.points_per_octave)
        check_integer("n_starts", self.n_starts)
        check_number("start_noise", self.start_noise, 0.0, low_open=False)
        check_number("fixed_q", self.fixed_q, 0.0)
        check_number("slow_q", self.slow_q, self.fixed_q)
        check_number("merge_distance", self.merge_distance, 0.0)
        check_integer("max_iterations", self.max_iterations)
        check_integer("newton_iterations", self.newton_iterations, low=0)
        check_number("rest_window_ms", self.rest_window_ms, 0.0)
        check_number("bin_ms", self.bin_ms, 0.0)

    @property
    def rest_window_bins(self) -> int:
        """Number of grid steps in the final window (at least 1)."""
        return max(1, round(self.rest_window_ms / self.bin_ms))


# ----------------------------------------------------------------------------------------------
# the network


def _nonlinearity(u: np.ndarray, kind: str, r0: float, rmax: float) -> np.ndarray:
    return np.tanh(u) if kind == "tanh" else phi(u, r0, rmax)


def _derivative(u: np.ndarray, kind: str, r0: float, rmax: float) -> np.ndarray:
    return 1.0 - np.tanh(u) ** 2 if kind == "tanh" else phi_derivative(u, r0, rmax)


def _frozen(a: np.ndarray) -> np.ndarray:
    """A read-only float64 array: ``a`` itself when it already is one, else a copy."""
    a = np.asarray(a, dtype=np.float64)
    if a.flags.writeable:
        a = a.copy()
        a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class RateSystem:
    """A rate network ``tau dx/dt = -x + W f(g ⊙ x)`` (module docstring).

    Attributes
    ----------
    W : ndarray, shape (N, N)
        Connectivity, ``W[post, pre]``.
    gains : ndarray, shape (N,)
        Positive gains ``g``.
    tau_ms : float
        Time constant, ms (> 0).
    nonlinearity : str
        ``"tanh"`` (the RNN) or ``"phi"`` (the SOC).
    r0_hz, rmax_hz : float
        Baseline and maximum rate of ``phi``, Hz (``0 < r0 < rmax``); unused by ``tanh``.
    """

    W: np.ndarray
    gains: np.ndarray
    tau_ms: float
    nonlinearity: str = "tanh"
    r0_hz: float = 20.0
    rmax_hz: float = 100.0

    def __post_init__(self) -> None:
        W = _frozen(self.W)
        if W.ndim != 2 or W.shape[0] != W.shape[1] or W.shape[0] < 1:
            raise ValueError(f"W must be a square matrix, got shape {W.shape}")
        if not np.all(np.isfinite(W)):
            raise ValueError("W must be finite")
        gains = _frozen(self.gains)
        if gains.shape != (W.shape[0],):
            raise ValueError(f"gains must have shape ({W.shape[0]},), got {gains.shape}")
        if not np.all(np.isfinite(gains)) or np.any(gains <= 0):
            raise ValueError("gains must be finite and positive")
        check_number("tau_ms", self.tau_ms, 0.0)
        if self.nonlinearity not in NONLINEARITIES:
            raise ValueError(
                f"nonlinearity must be one of {NONLINEARITIES}, got {self.nonlinearity!r}"
            )
        check_number("r0_hz", self.r0_hz, 0.0)
        check_number("rmax_hz", self.rmax_hz, self.r0_hz)
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "gains", gains)

    @classmethod
    def rnn(cls, J: np.ndarray, tau_ms: float = 50.0) -> RateSystem:
        """The trained RNN ``tau dx/dt = -x + J tanh(x)``: ``J`` (N, N), unit gains."""
        J = np.asarray(J, dtype=np.float64)
        n = J.shape[0] if J.ndim == 2 else 0
        return cls(J, np.ones(n), tau_ms, "tanh")

    @classmethod
    def soc(
        cls,
        W: np.ndarray,
        gains: np.ndarray,
        tau_ms: float = 200.0,
        r0_hz: float = 20.0,
        rmax_hz: float = 100.0,
    ) -> tuple[RateSystem, ...]:
        """The SOC of every condition: ``W`` (N, N), ``gains`` (C, N) positive; one system per
        condition, ``tau_ms`` in ms, ``r0_hz``, ``rmax_hz`` in Hz."""
        gains = np.asarray(gains, dtype=np.float64)
        if gains.ndim != 2:
            raise ValueError(f"gains must have shape (n_conditions, N), got {gains.shape}")
        W = _frozen(W)  # one read-only copy shared by every condition
        return tuple(cls(W, g, tau_ms, "phi", r0_hz, rmax_hz) for g in gains)

    @property
    def n_units(self) -> int:
        return self.W.shape[0]

    @property
    def state_scale(self) -> float:
        """Scale ``s`` of the state: 1 for the RNN, ``r0_hz`` (Hz) for the SOC."""
        return 1.0 if self.nonlinearity == "tanh" else float(self.r0_hz)

    def rates(self, x: np.ndarray) -> np.ndarray:
        """Rate deviations from rest ``f(g ⊙ x)``, shape of ``x`` (..., N); Hz for the SOC."""
        u = self.gains * np.asarray(x, dtype=np.float64)
        return _nonlinearity(u, self.nonlinearity, self.r0_hz, self.rmax_hz)

    def slopes(self, x: np.ndarray) -> np.ndarray:
        """``d f(g ⊙ x) / dx = g ⊙ f'(g ⊙ x)``, shape of ``x`` (..., N)."""
        u = self.gains * np.asarray(x, dtype=np.float64)
        return self.gains * _derivative(u, self.nonlinearity, self.r0_hz, self.rmax_hz)

    def flow(self, x: np.ndarray) -> np.ndarray:
        """``F(x) = tau dx/dt = -x + W f(g ⊙ x)``, state units, shape of ``x`` (..., N)."""
        x = np.asarray(x, dtype=np.float64)
        return -x + self.rates(x) @ self.W.T

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """``A(x) = (-I + W diag(g ⊙ f'(g ⊙ x))) / tau`` in s^-1, (..., N, N) for ``x`` (..., N)."""
        slopes = self.slopes(x)
        A = self.W * slopes[..., None, :]
        A[..., np.arange(self.n_units), np.arange(self.n_units)] -= 1.0
        return A / (1e-3 * self.tau_ms)


# ----------------------------------------------------------------------------------------------
# local linear dynamics


@dataclass(frozen=True)
class LocalDynamics:
    """Local linear dynamics of a Jacobian.

    Attributes
    ----------
    abscissa : float
        Largest real part of the eigenvalues, s^-1.
    slow_modes : int
        Eigenvalues with real part above ``-1 / slow_s`` (complex pairs count two).
    henrici : float
        Normalised departure from normality, in [0, 1].
    """

    abscissa: float
    slow_modes: int
    henrici: float


def _check_square(A: np.ndarray, name: str = "A") -> np.ndarray:
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] < 1:
        raise ValueError(f"{name} must be a square matrix, got shape {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name} must be finite")
    return A


def _schur(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Real Schur form T (without Schur vectors) and the eigenvalues' real parts."""
    n = A.shape[0]
    T, _, wr, _, _, _, info = dgees(lambda *_: None, A, compute_v=0, lwork=max(1, 34 * n))
    if info != 0:
        raise np.linalg.LinAlgError(f"dgees failed (info={info})")
    return T, wr


def _departure_squared(T: np.ndarray) -> float:
    """``||T||_F^2 - sum |lambda|^2`` of a quasi-triangular T, as a sum of squares."""
    upper = np.triu(T, 1)
    blocks = np.flatnonzero(np.diagonal(T, offset=-1) != 0.0)  # 2x2 blocks at rows i, i+1
    upper[blocks, blocks + 1] = 0.0  # b of each block: counted below
    total = float(np.sum(upper**2))
    if blocks.size:
        a, d = T[blocks, blocks], T[blocks + 1, blocks + 1]
        b, c = T[blocks, blocks + 1], T[blocks + 1, blocks]
        total += float(np.sum((a - d) ** 2 + (b + c) ** 2))
    return total


def local_dynamics(A: np.ndarray, slow_s: float = 1.0) -> LocalDynamics:
    """Spectral abscissa, slow-mode count and Henrici index of a Jacobian.

    Parameters
    ----------
    A : ndarray, shape (N, N)
        Jacobian, s^-1.
    slow_s : float
        Time constant above which a mode is slow, s.

    Returns
    -------
    LocalDynamics
    """
    A = _check_square(A)
    check_number("slow_s", slow_s, 0.0)
    T, wr = _schur(A)
    norm2 = float(np.sum(A * A))
    henrici = math.sqrt(max(0.0, _departure_squared(T)) / norm2) if norm2 > 0 else 0.0
    return LocalDynamics(
        abscissa=float(wr.max()),
        slow_modes=int(np.count_nonzero(wr > -1.0 / slow_s)),
        henrici=min(1.0, henrici),
    )


# ----------------------------------------------------------------------------------------------
# transient amplification


@dataclass(frozen=True)
class Amplification:
    """Peak transient amplification of a Jacobian.

    Attributes
    ----------
    peak : float
        ``max_{0 < t <= t_max} ||expm(A t)||_2`` (>= 1; 1 when nothing grows, in the limit
        ``t -> 0``), dimensionless.
    time_s : float
        Time of the peak, s (0 when the peak is the limit at ``t -> 0``).
    """

    peak: float
    time_s: float


_BLOCK = 4
_GRID_RTOL = 1e-6
_GRID_MAX = 40


def _grid_singular(E: np.ndarray, V: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Largest singular value of E, to a relative 1e-6, by warm-started subspace iteration.

    ``V`` (N, b) is the warm start (the previous grid point's right block); returns
    ``(sigma, u, V_new)`` with ``u`` (N,) the top left singular vector. Falls back to a full
    SVD after 40 iterations.
    """
    sigma = -1.0
    for _ in range(_GRID_MAX):
        Uq, _ = np.linalg.qr(E @ V)
        V, R = np.linalg.qr(E.T @ Uq)  # Uq^T E = R^T V^T
        Ur, s, _ = np.linalg.svd(R.T)
        converged = abs(s[0] - sigma) <= _GRID_RTOL * s[0]
        sigma = float(s[0])
        if converged:
            return sigma, Uq @ Ur[:, 0], V
    U, s, Vt = np.linalg.svd(E)
    return float(s[0]), U[:, 0], Vt[: V.shape[1]].T


def _exact_singular(E: np.ndarray) -> tuple[float, np.ndarray]:
    """Largest singular value of E and its left singular vector: the top eigenpair of
    ``E E^T`` (LAPACK ``syevr`` for that pair only; relative accuracy ~1e-15 in sigma^2)."""
    n = E.shape[0]
    w, U = scipy.linalg.eigh(E @ E.T, subset_by_index=[n - 1, n - 1], check_finite=False)
    return math.sqrt(max(float(w[0]), 0.0)), U[:, 0]


def amplification(
    A: np.ndarray, t_max_s: float = 2.0, octaves: int = 10, points_per_octave: int = 1
) -> Amplification:
    """Peak of ``||expm(A t)||_2`` over ``t in (0, t_max]`` and its time.

    Method and tolerance in the module docstring.

    Parameters
    ----------
    A : ndarray, shape (N, N)
        Jacobian, s^-1.
    t_max_s : float
        Horizon, s.
    octaves, points_per_octave : int
        Grid that brackets the peak (see :class:`MechanismParams`).

    Returns
    -------
    Amplification
    """
    A = _check_square(A)
    check_number("t_max_s", t_max_s, 0.0)
    check_integer("octaves", octaves)
    check_integer("points_per_octave", points_per_octave)
    n = A.shape[0]
    omega = float(np.linalg.eigvalsh(0.5 * (A + A.T))[-1])
    if omega <= 0.0:
        return Amplification(peak=1.0, time_s=0.0)
    m = points_per_octave
    times = t_max_s * 2.0 ** (-np.arange(octaves * m, -1, -1) / m)
    props, sigmas, slopes = [], [], []
    V = np.linalg.qr(np.eye(n, min(_BLOCK, n)) + 1e-3)[0]
    for j, t in enumerate(times):
        E = scipy.linalg.expm(A * t) if j < m else props[j - m] @ props[j - m]
        if not np.all(np.isfinite(E)):
            return Amplification(peak=math.inf, time_s=float(t))
        sigma, u, V = _grid_singular(E, V)
        props.append(E)
        sigmas.append(sigma)
        slopes.append(float(u @ A @ u))
    best = int(np.argmax(sigmas))
    if best == len(times) - 1 and slopes[best] >= 0.0:  # still growing at t_max
        return Amplification(peak=_exact_singular(props[-1])[0], time_s=float(times[-1]))
    # bracket [left, right] with d log sigma / dt > 0 at left and < 0 at right
    left, right = (best, best + 1) if slopes[best] > 0.0 else (best - 1, best)
    if left < 0:  # the peak lies before the grid: from t -> 0, where the slope is omega > 0
        base, t_left = np.eye(n), 0.0
    else:
        base, t_left = props[left], float(times[left])
    peak = {"sigma": -1.0, "t": 0.0}

    def slope(t: float) -> float:
        E = base @ scipy.linalg.expm(A * (t - t_left)) if t > t_left else base
        sigma, u = _exact_singular(E)
        if sigma > peak["sigma"]:
            peak["sigma"], peak["t"] = sigma, t
        return float(u @ A @ u)

    g_left = omega if left < 0 else slope(t_left)
    g_right = slope(float(times[right]))
    if g_left > 0.0 > g_right:
        brentq(slope, t_left, float(times[right]), xtol=1e-15, rtol=1e-7)
    return Amplification(peak=peak["sigma"], time_s=peak["t"])


# ----------------------------------------------------------------------------------------------
# fixed points


@dataclass(frozen=True)
class FixedPoints:
    """Fixed and slow points of one system with the input off.

    Attributes
    ----------
    states : ndarray, shape (K, N)
        Distinct points, state units (x), fixed points first, each group by increasing ``q``.
    q : ndarray, shape (K,)
        ``q`` at each point (dimensionless).
    fixed : ndarray of bool, shape (K,)
        True for fixed points (``q < fixed_q``), False for slow points.
    abscissa : ndarray, shape (K,)
        Spectral abscissa of each fixed point's Jacobian, s^-1; NaN for slow points.
    n_discarded : int
        Starts whose minimum had ``q >= slow_q``.
    """

    states: np.ndarray
    q: np.ndarray
    fixed: np.ndarray
    abscissa: np.ndarray
    n_discarded: int

    @property
    def stable(self) -> np.ndarray:
        """True for fixed points whose Jacobian's spectral abscissa is below 0, shape (K,)."""
        return self.fixed & (np.nan_to_num(self.abscissa, nan=0.0) < 0.0)

    @property
    def n_fixed(self) -> int:
        return int(np.count_nonzero(self.fixed))

    @property
    def n_stable(self) -> int:
        return int(np.count_nonzero(self.stable))

    @property
    def n_slow(self) -> int:
        return int(np.count_nonzero(~self.fixed))


class _Landscape:
    """``q`` and its gradient in scaled coordinates ``y = x / s`` for a batch of starts of
    systems with one number of units, each row with its own system: rows of systems that share
    ``W`` and ``f`` (one SOC's conditions, which differ in their gains only) form one group,
    evaluated with one matrix product."""

    def __init__(self, systems: Sequence[RateSystem], owner: np.ndarray):
        self.networks: list[RateSystem] = []
        network_of = []
        for system in systems:
            match = next(
                (i for i, net in enumerate(self.networks) if _same_network(net, system)), None
            )
            if match is None:
                match = len(self.networks)
                self.networks.append(system)
            network_of.append(match)
        self.network = np.asarray(network_of, dtype=int)[owner]  # (K,) network of each row
        self.gains = np.stack([systems[i].gains for i in owner])  # (K, N)

    def _groups(self, rows: np.ndarray):
        """(network, positions in ``rows``) of every network among ``rows``."""
        nets = self.network[rows]
        first = int(nets[0]) if nets.size else 0
        if np.all(nets == first):
            yield self.networks[first], slice(None)
            return
        for i in np.unique(nets):
            yield self.networks[i], np.flatnonzero(nets == i)

    def residual(self, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
        out = np.empty_like(y)
        for net, at in self._groups(rows):
            s = net.state_scale
            u = self.gains[rows[at]] * (s * y[at])
            out[at] = -y[at] + _nonlinearity(u, net.nonlinearity, net.r0_hz, net.rmax_hz) @ (
                net.W.T / s
            )
        return out

    def q(self, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
        r = self.residual(y, rows)
        return 0.5 * np.einsum("kn,kn->k", r, r)

    def q_grad(self, y: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q, grad = np.empty(y.shape[0]), np.empty_like(y)
        for net, at in self._groups(rows):
            q[at], grad[at] = _q_grad(net, self.gains[rows[at]], y[at])
        return q, grad

    def jacobians(self, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``A_F`` (K, N, N) of ``F`` (dimensionless; the same for ``y`` and ``x``)."""
        n = y.shape[1]
        J = np.empty((y.shape[0], n, n))
        for net, at in self._groups(rows):
            g = self.gains[rows[at]]
            u = g * (net.state_scale * y[at])
            slope = g * _derivative(u, net.nonlinearity, net.r0_hz, net.rmax_hz)
            J[at] = net.W[None, :, :] * slope[:, None, :]
        J[:, np.arange(n), np.arange(n)] -= 1.0
        return J


def _q_grad(net: RateSystem, g: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``q`` and its gradient of rows ``y`` (k, N) of one network with gains ``g`` (k, N)."""
    s = net.state_scale
    u = g * (s * y)
    if net.nonlinearity == "tanh":
        t = np.tanh(u)
        rate = t
    else:  # phi(u) = c tanh(u / c), phi'(u) = 1 - tanh(u / c)^2, c = r0 or rmax - r0
        c = np.where(u < 0, net.r0_hz, net.rmax_hz - net.r0_hz)
        t = np.tanh(u / c)
        rate = c * t
    r = rate @ net.W.T
    r /= s
    r -= y
    t *= t
    np.subtract(1.0, t, out=t)
    t *= g  # d f(g x) / dx
    grad = r @ net.W
    grad *= t
    grad -= r
    return 0.5 * np.vecdot(r, r), grad


def q_and_gradient(system: RateSystem, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``q(x) = 1/2 ||F(x) / s||^2`` and its gradient ``A_F(x)^T F(x) / s^2``.

    Parameters
    ----------
    system : RateSystem
    x : ndarray, shape (K, N) or (N,)
        States, state units.

    Returns
    -------
    q : ndarray, shape (K,) (or float for one state)
    grad : ndarray, shape of ``x``
        dq/dx, per state unit.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.atleast_2d(x) / system.state_scale
    rows = np.zeros(y.shape[0], dtype=int)
    q, grad_y = _Landscape([system], rows).q_grad(y, rows)
    grad = grad_y / system.state_scale
    if x.ndim == 1:
        return float(q[0]), grad[0]
    return q, grad


_ARMIJO = 1e-4
_BACKTRACKS = 40


@dataclass(frozen=True)
class BatchResult:
    """Outcome of :func:`batched_lbfgs`.

    Attributes
    ----------
    x : ndarray, shape (K, n)
        Final point of every problem.
    f : ndarray, shape (K,)
        Objective there.
    converged : ndarray of bool, shape (K,)
        True where a stopping rule (not the iteration cap) ended the problem.
    """

    x: np.ndarray
    f: np.ndarray
    converged: np.ndarray


class _LbfgsBatch:
    """The live problems of :func:`batched_lbfgs`: their indices, points, objectives, gradients
    and curvature memory (``memory`` slots of ``s``, ``y`` and ``rho = 1 / s^T y``, 0 for a
    skipped pair) and initial inverse-Hessian scales ``gamma``."""

    def __init__(self, live, x, f, g, memory: int):
        self.live, self.x, self.f, self.g = live, x, f, g
        self.memory = memory
        self.S = np.zeros((memory, live.size, x.shape[1]))
        self.Y = np.zeros((memory, live.size, x.shape[1]))
        self.rho = np.zeros((memory, live.size))
        self.gamma = np.ones(live.size)

    def direction(self, it: int) -> tuple[np.ndarray, np.ndarray]:
        """Search directions by the two-loop recursion (steepest descent where that is not a
        descent direction) and their slopes ``g^T d``."""
        d = -self.g
        slots = [(it - 1 - i) % self.memory for i in range(min(it, self.memory))]
        alphas = []
        for slot in slots:
            a = self.rho[slot] * np.vecdot(self.S[slot], d)
            d -= a[:, None] * self.Y[slot]
            alphas.append(a)
        d *= self.gamma[:, None]
        for slot, a in zip(reversed(slots), reversed(alphas), strict=True):
            b = self.rho[slot] * np.vecdot(self.Y[slot], d)
            d += (a - b)[:, None] * self.S[slot]
        slope = np.vecdot(self.g, d)
        bad = ~(slope < 0)
        if np.any(bad):
            d[bad] = -self.g[bad]
            slope[bad] = -np.vecdot(self.g[bad], self.g[bad])
        return d, slope

    def line_search(self, fun, d: np.ndarray, slope: np.ndarray, step: np.ndarray):
        """Armijo backtracking from ``step`` (halved in place), f and g evaluated only at the
        trial points of the rows still searching. Returns ``(f_new, g_new, moved)``; rows
        without an acceptable step in ``_BACKTRACKS`` halvings have ``moved`` False (their
        ``f_new``, ``g_new`` are unset)."""
        f_new, g_new = np.empty(self.live.size), np.empty_like(self.g)
        todo = np.arange(self.live.size)
        for _ in range(_BACKTRACKS):
            f_try, g_try = fun(self.x[todo] + step[todo, None] * d[todo], self.live[todo])
            ok = f_try <= self.f[todo] + _ARMIJO * step[todo] * slope[todo]
            f_new[todo[ok]], g_new[todo[ok]] = f_try[ok], g_try[ok]
            todo = todo[~ok]
            if todo.size == 0:
                break
            step[todo] *= 0.5
        moved = np.ones(self.live.size, dtype=bool)
        moved[todo] = False
        return f_new, g_new, moved

    def advance(self, it, step, d, f_new, g_new, moved) -> np.ndarray:
        """Take the accepted steps, store the curvature pair of iteration ``it`` and return each
        row's decrease of f (0 where it did not move)."""
        s_vec = step[:, None] * d
        s_vec[~moved] = 0.0
        y_vec = g_new
        y_vec[~moved] = self.g[~moved]
        y_vec -= self.g  # g_new - g where moved, 0 elsewhere
        sy = np.vecdot(s_vec, y_vec)
        yy = np.vecdot(y_vec, y_vec)
        good = moved & (sy > 1e-12 * np.sqrt(np.vecdot(s_vec, s_vec) * yy))
        slot = it % self.memory
        self.S[slot], self.Y[slot] = s_vec, y_vec
        self.rho[slot] = 0.0
        self.rho[slot, good] = 1.0 / sy[good]
        self.gamma[good] = sy[good] / yy[good]
        decrease = np.zeros(self.live.size)
        decrease[moved] = self.f[moved] - f_new[moved]
        self.x += s_vec
        self.f[moved] = f_new[moved]
        self.g += y_vec
        return decrease

    def keep(self, rows: np.ndarray) -> None:
        """Retain only the problems ``rows`` (a boolean mask over the live ones)."""
        self.live, self.x, self.f, self.g = (a[rows] for a in (self.live, self.x, self.f, self.g))
        self.gamma = self.gamma[rows]
        self.S, self.Y, self.rho = self.S[:, rows], self.Y[:, rows], self.rho[:, rows]


def batched_lbfgs(
    fun,
    x0: np.ndarray,
    max_iterations: int,
    *,
    ftol: float = 0.0,
    f_scale: float = 1.0,
    f_floor: float = -math.inf,
    gtol: float = 0.0,
    memory: int = 10,
) -> BatchResult:
    """L-BFGS on K independent problems at once.

    Every problem has its own curvature pairs (memory ``memory``, initial inverse Hessian
    ``gamma I`` with ``gamma = s^T y / y^T y`` of the latest pair; pairs with ``s^T y <= 0`` are
    skipped) and its own Armijo backtracking line search (sufficient decrease 1e-4, halving;
    first step ``min(1, 1 / ||g||)``, then 1). This is the unbounded L-BFGS (what L-BFGS-B is
    without bounds), vectorised so that the objective is evaluated for all live problems in
    one call. A problem stops, converged, when

    * its decrease over an iteration is at most ``ftol max(|f|, f_scale)``, or
    * ``f <= f_floor``, or ``max |g| <= gtol``, or
    * the line search finds no decrease in 40 halvings (a minimum to rounding);

    otherwise after ``max_iterations`` iterations, not converged.

    Parameters
    ----------
    fun : callable
        ``fun(x, rows) -> (f, g)`` for points ``x`` (k, n) of the problems ``rows`` (k,) (indices
        into the batch): objective (k,) and gradient (k, n).
    x0 : ndarray, shape (K, n)
    max_iterations : int
    ftol, f_scale, f_floor, gtol : float
        Stopping rules above (the defaults disable all but the stalled line search).
    memory : int
        Curvature pairs kept per problem.

    Returns
    -------
    BatchResult
    """
    x = np.array(x0, dtype=np.float64)
    live = np.arange(x.shape[0])
    f, g = fun(x, live)
    f, g = np.array(f, dtype=np.float64), np.array(g, dtype=np.float64)
    converged = (f <= f_floor) | (np.max(np.abs(g), axis=1, initial=0.0) <= gtol)
    x_out, f_out = x.copy(), f.copy()
    batch = _LbfgsBatch(live[~converged], x[~converged], f[~converged], g[~converged], memory)
    for it in range(max_iterations):
        if batch.live.size == 0:
            break
        d, slope = batch.direction(it)
        if it == 0:
            step = np.minimum(1.0, 1.0 / np.maximum(np.sqrt(-slope), 1e-300))
        else:
            step = np.ones(batch.live.size)
        f_new, g_new, moved = batch.line_search(fun, d, slope, step)
        decrease = batch.advance(it, step, d, f_new, g_new, moved)
        done = (
            ~moved
            | (decrease <= ftol * np.maximum(np.abs(batch.f), f_scale))
            | (batch.f <= f_floor)
            | (np.max(np.abs(batch.g), axis=1, initial=0.0) <= gtol)
        )
        if np.any(done):
            rows = batch.live[done]
            x_out[rows], f_out[rows] = batch.x[done], batch.f[done]
            converged[rows] = True
            batch.keep(~done)
    x_out[batch.live], f_out[batch.live] = batch.x, batch.f
    return BatchResult(x=x_out, f=f_out, converged=converged)


def _newton(land: _Landscape, y: np.ndarray, rows: np.ndarray, n_iter: int) -> np.ndarray:
    """Damped Newton polish on F = 0 (in place on ``y``), vectorised; returns the final q."""
    q = land.q(y, rows)
    active = np.arange(y.shape[0])
    for _ in range(n_iter):
        active = active[q[active] > 1e-28]
        if active.size == 0:
            break
        r = land.residual(y[active], rows[active])
        J = land.jacobians(y[active], rows[active])
        try:
            d = -np.linalg.solve(J, r[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            d = np.stack(
                [-np.linalg.lstsq(Jk, rk, rcond=None)[0] for Jk, rk in zip(J, r, strict=True)]
            )
        step = np.ones(active.size)
        todo = np.arange(active.size)
        accepted = np.zeros(active.size, dtype=bool)
        for _ in range(30):
            trial = y[active[todo]] + step[todo, None] * d[todo]
            q_try = land.q(trial, rows[active[todo]])
            ok = np.isfinite(q_try) & (q_try < q[active[todo]])
            y[active[todo[ok]]] = trial[ok]
            q[active[todo[ok]]] = q_try[ok]
            accepted[todo[ok]] = True
            todo = todo[~ok]
            if todo.size == 0:
                break
            step[todo] *= 0.5
        active = active[accepted]
    return q


def _merge(y: np.ndarray, q: np.ndarray, radius: float) -> np.ndarray:
    """Indices of representatives: by increasing q, each point farther than ``radius`` from
    every representative kept so far becomes one."""
    order = np.argsort(q, kind="stable")
    kept: list[int] = []
    for i in order:
        if not kept or np.min(np.linalg.norm(y[kept] - y[i], axis=1)) >= radius:
            kept.append(int(i))
    return np.array(kept, dtype=int)


def _check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {rng!r}")
    return rng


def _draw_starts(
    states: np.ndarray, n_starts: int, noise: float, rng: np.random.Generator
) -> np.ndarray:
    """The rest state ``x = 0`` and ``n_starts`` states drawn at random (without replacement
    when there are enough) plus Gaussian noise of sd ``noise`` times the per-unit sd of the
    states, (1 + n_starts, N)."""
    flat = states.reshape(-1, states.shape[-1])
    pick = rng.choice(flat.shape[0], size=n_starts, replace=flat.shape[0] < n_starts)
    sd = flat.std(axis=0)
    drawn = flat[pick] + noise * sd * rng.standard_normal((n_starts, flat.shape[1]))
    return np.concatenate([np.zeros((1, flat.shape[1])), drawn])


def _check_states(states: np.ndarray, n: int, name: str = "states") -> np.ndarray:
    states = np.asarray(states, dtype=np.float64)
    if states.ndim < 1 or states.shape[-1] != n or states.size == 0:
        raise ValueError(f"{name} must have shape (..., {n}), got {states.shape}")
    if not np.all(np.isfinite(states)):
        raise ValueError(f"{name} must be finite")
    return states


def _same_network(a: RateSystem, b: RateSystem) -> bool:
    """Same W, nonlinearity and rate bounds (gains may differ)."""
    return (
        (a.W is b.W or np.array_equal(a.W, b.W))
        and a.nonlinearity == b.nonlinearity
        and a.r0_hz == b.r0_hz
        and a.rmax_hz == b.rmax_hz
    )


def _search(
    systems: Sequence[RateSystem],
    starts: Sequence[np.ndarray],
    params: MechanismParams,
    rest_abscissa: Sequence[float] | None = None,
) -> list[FixedPoints]:
    """Fixed-point search of several systems, ``starts[i]`` (n_i, N_i) in state units for
    ``systems[i]``. The starts of all systems with one number of units are minimised in one
    batch, each with its own system. ``rest_abscissa[i]``, when given, is the spectral abscissa
    of ``systems[i]``'s Jacobian at rest (x = 0), taken for a fixed point there instead of
    recomputing it."""
    results: list[FixedPoints | None] = [None] * len(systems)
    sizes: dict[int, list[int]] = {}
    for i, system in enumerate(systems):
        sizes.setdefault(system.n_units, []).append(i)
    for members in sizes.values():
        found = _search_batch(
            [systems[i] for i in members],
            [starts[i] for i in members],
            params,
            None if rest_abscissa is None else [rest_abscissa[i] for i in members],
        )
        for i, points in zip(members, found, strict=True):
            results[i] = points
    return results


def _search_batch(
    systems: Sequence[RateSystem],
    starts: Sequence[np.ndarray],
    params: MechanismParams,
    rest_abscissa: Sequence[float] | None,
) -> list[FixedPoints]:
    """:func:`_search` of systems with one number of units, in one L-BFGS batch."""
    owner = np.concatenate([np.full(len(x0), i) for i, x0 in enumerate(starts)])
    scale = np.array([systems[i].state_scale for i in owner])[:, None]
    land = _Landscape(systems, owner)
    # a start is done once q < fixed_q (a fixed point by definition; the Newton polish
    # sharpens it) or when it stalls at a minimum (slow points)
    result = batched_lbfgs(
        land.q_grad,
        np.concatenate(starts) / scale,
        params.max_iterations,
        ftol=1e-10,
        f_scale=0.0,
        f_floor=params.fixed_q,
    )
    y, q = result.x, result.f
    rows = np.arange(len(owner))
    results = []
    radius = params.merge_distance * math.sqrt(systems[0].n_units)
    for i, system in enumerate(systems):
        mine = np.flatnonzero((owner == i) & (q < params.slow_q))
        n_discarded = int(np.count_nonzero(owner == i)) - mine.size
        # merge, polish the distinct candidates, merge again
        mine = mine[_merge(y[mine], q[mine], radius)]
        y_m = y[mine]  # a copy (fancy indexing), polished in place
        mine_q = _newton(land, y_m, rows[mine], params.newton_iterations)
        keep = _merge(y_m, mine_q, radius)
        y_m, mine_q = y_m[keep], mine_q[keep]
        fixed = mine_q < params.fixed_q
        order = np.lexsort((mine_q, ~fixed))
        y_m, mine_q, fixed = y_m[order], mine_q[order], fixed[order]
        abscissa = np.full(mine_q.size, np.nan)
        s = system.state_scale
        for j in np.flatnonzero(fixed):
            if rest_abscissa is not None and not np.any(y_m[j]):
                abscissa[j] = rest_abscissa[i]
            else:
                abscissa[j] = float(_schur(system.jacobian(s * y_m[j]))[1].max())
        results.append(
            FixedPoints(
                states=s * y_m,
                q=mine_q,
                fixed=fixed,
                abscissa=abscissa,
                n_discarded=n_discarded,
            )
        )
    return results


def fixed_points(
    system: RateSystem,
    states: np.ndarray,
    params: MechanismParams | None = None,
    rng: np.random.Generator | None = None,
) -> FixedPoints:
    """Fixed and slow points of ``system`` with the input off (module docstring).

    Parameters
    ----------
    system : RateSystem
    states : ndarray, shape (..., N)
        States along the network's own trajectories, state units; the starts are drawn from
        them.
    params : MechanismParams, optional
        ``n_starts``, ``start_noise``, ``fixed_q``, ``slow_q``, ``merge_distance``,
        ``max_iterations``, ``newton_iterations``.
    rng : numpy.random.Generator
        Draws the starts and their noise.

    Returns
    -------
    FixedPoints
    """
    params = MechanismParams() if params is None else params
    rng = _check_rng(rng)
    states = _check_states(states, system.n_units)
    starts = _draw_starts(states, params.n_starts, params.start_noise, rng)
    return _search([system], [starts], params)[0]


# ----------------------------------------------------------------------------------------------
# return to rest and the orchestrator


def return_to_rest(rates: np.ndarray, movement: slice, final: slice) -> np.ndarray:
    """Final-window over movement RMS of the rate deviations from rest, per condition.

    Parameters
    ----------
    rates : ndarray, shape (C, S, N)
        Rate deviations from rest ``f(g ⊙ x)`` on the time grid (Hz for the SOC).
    movement, final : slice
        Steps of the movement window and of the final window.

    Returns
    -------
    ndarray, shape (C,)
        ``RMS(rates[:, final]) / RMS(rates[:, movement])`` over bins and units (dimensionless;
        NaN where the movement's RMS is 0).
    """
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 3:
        raise ValueError(f"rates must have shape (C, S, N), got {rates.shape}")
    during = np.sqrt(np.mean(rates[:, movement] ** 2, axis=(1, 2)))
    after = np.sqrt(np.mean(rates[:, final] ** 2, axis=(1, 2)))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(during > 0, after / during, np.nan)


def _steps(window: slice, n_steps: int, name: str) -> range:
    steps = range(n_steps)[window]
    if len(steps) == 0:
        raise ValueError(f"{name} must select at least one of the {n_steps} steps, got {window}")
    return steps


def _per_condition(
    systems: RateSystem | Sequence[RateSystem], states: np.ndarray
) -> tuple[list[RateSystem], np.ndarray]:
    """Checked states (C, S, N) and the system of each condition."""
    states = np.asarray(states, dtype=np.float64)
    if states.ndim != 3:
        raise ValueError(f"states must have shape (C, S, N), got {states.shape}")
    c, _, n = states.shape
    per_condition = [systems] * c if isinstance(systems, RateSystem) else list(systems)
    if len(per_condition) != c:
        raise ValueError(f"systems must be one RateSystem or {c} (one per condition)")
    for system in per_condition:
        if system.n_units != n:
            raise ValueError(f"systems have {system.n_units} units, states {n}")
    return per_condition, _check_states(states, n)


def _trajectory_measures(
    values: dict[str, np.ndarray],
    per_condition: Sequence[RateSystem],
    states: np.ndarray,
    windows: tuple[slice, int, slice],
    slow_s: float,
) -> None:
    """``return_to_rest`` and the ``*_end`` measures of every condition, into ``values``;
    ``windows`` is (movement, end step, final)."""
    movement, end, final = windows
    rates = np.stack([system.rates(states[i]) for i, system in enumerate(per_condition)])
    values["return_to_rest"][:] = return_to_rest(rates, movement, final)
    for i, system in enumerate(per_condition):
        local = local_dynamics(system.jacobian(states[i, end]), slow_s)
        values["abscissa_end"][i] = local.abscissa
        values["slow_modes_end"][i] = local.slow_modes
        values["henrici_end"][i] = local.henrici


def _rest_measures(
    values: dict[str, np.ndarray], distinct: Sequence[RateSystem], params: MechanismParams
) -> None:
    """Local dynamics and amplification of the rest Jacobian of each distinct system, into
    ``values`` (one system: every condition's row; one per condition: its row)."""
    n = distinct[0].n_units
    for i, system in enumerate(distinct):
        rows = slice(None) if len(distinct) == 1 else i
        A = system.jacobian(np.zeros(n))
        local = local_dynamics(A, params.slow_s)
        amp = amplification(A, params.t_max_s, params.octaves, params.points_per_octave)
        values["abscissa_rest"][rows] = local.abscissa
        values["slow_modes_rest"][rows] = local.slow_modes
        values["henrici_rest"][rows] = local.henrici
        values["amplification_peak"][rows] = amp.peak
        values["amplification_time_s"][rows] = amp.time_s


def _fixed_point_starts(
    distinct: Sequence[RateSystem],
    states: np.ndarray,
    params: MechanismParams,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """The starts of each distinct system: one system's drawn from every condition's states,
    each of per-condition systems' from its own."""
    pools = [states] if len(distinct) == 1 else list(states)
    return [_draw_starts(pool, params.n_starts, params.start_noise, rng) for pool in pools]


def _fixed_point_measures(values: dict[str, np.ndarray], found: Sequence[FixedPoints]) -> None:
    """Fixed-point counts of each distinct system, into ``values`` (one system: every
    condition's row; one per condition: its row)."""
    for i, points in enumerate(found):
        rows = slice(None) if len(found) == 1 else i
        values["fixed_points"][rows] = points.n_fixed
        values["stable_fixed_points"][rows] = points.n_stable
        values["slow_points"][rows] = points.n_slow
        values["discarded_starts"][rows] = points.n_discarded


@dataclass(frozen=True)
class Trajectory:
    """One network's run, as :func:`measure_networks` takes it.

    Attributes
    ----------
    systems : RateSystem or sequence of RateSystem
        One autonomous system shared by every condition (the RNN), or one per condition (the
        SOC, :meth:`RateSystem.soc`).
    states : ndarray, shape (C, S, N)
        States ``x`` along the network's own trajectory on the ``bin_ms`` grid: the trial
        (preparation, movement, optional rest) followed by the free run.
    movement : slice
        Steps of the movement window.
    end : int, optional
        Step of the movement's last state; default the movement window's last step.
    final : slice, optional
        Steps of the final window; default the last ``rest_window_bins`` steps.
    """

    systems: RateSystem | Sequence[RateSystem]
    states: np.ndarray
    movement: slice
    end: int | None = None
    final: slice | None = None

    def rates(self) -> np.ndarray:
        """Rate deviations from rest of every condition and step (C, S, N)."""
        if isinstance(self.systems, RateSystem):
            return self.systems.rates(self.states)
        return np.stack([s.rates(x) for s, x in zip(self.systems, self.states, strict=True)])

    def rest_jacobians(self) -> list[np.ndarray]:
        """The Jacobian at rest (s^-1) of each distinct system: one for an RNN, one per
        condition for the SOC."""
        systems = [self.systems] if isinstance(self.systems, RateSystem) else self.systems
        return [s.jacobian(np.zeros(s.n_units)) for s in systems]


def measure_networks(
    networks: Sequence[Trajectory],
    params: MechanismParams | None = None,
    rngs: Sequence[np.random.Generator] | None = None,
) -> list[pd.DataFrame]:
    """Every mechanism measure of several networks (:data:`MEASURES`), one table each.

    The same as :func:`measure` of each network with its generator, except that the
    fixed-point searches of all networks with one number of units run as one batch (each
    start's minimisation is independent of the others', so only the cost changes).

    Parameters
    ----------
    networks : sequence of Trajectory
    params : MechanismParams, optional
    rngs : sequence of numpy.random.Generator
        One per network: the starts of its fixed-point search (required).

    Returns
    -------
    list of pandas.DataFrame
        :func:`measure`'s table of each network.
    """
    params = MechanismParams() if params is None else params
    if rngs is None or len(rngs) != len(networks):
        raise ValueError(f"rngs must hold one numpy.random.Generator per network ({len(networks)})")
    prepared = [
        _measure_trajectory(net, params, _check_rng(g))
        for net, g in zip(networks, rngs, strict=True)
    ]
    systems = [system for _, distinct, _ in prepared for system in distinct]
    starts = [x0 for _, _, pool in prepared for x0 in pool]
    rest = [v for values, distinct, _ in prepared for v in values["abscissa_rest"][: len(distinct)]]
    found = _search(systems, starts, params, rest)
    tables, at = [], 0
    for values, distinct, _ in prepared:
        _fixed_point_measures(values, found[at : at + len(distinct)])
        at += len(distinct)
        c = values["return_to_rest"].size
        tables.append(
            pd.DataFrame(
                {
                    "measure": np.repeat(MEASURE_NAMES, c),
                    "condition": np.tile(np.arange(c), len(MEASURE_NAMES)),
                    "value": np.concatenate([values[name] for name in MEASURE_NAMES]),
                },
                columns=list(MEASURE_COLUMNS),
            )
        )
    return tables


def _measure_trajectory(
    net: Trajectory, params: MechanismParams, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], list[RateSystem], list[np.ndarray]]:
    """Every measure of one network but the fixed points, its distinct systems and their
    fixed-point starts."""
    per_condition, states = _per_condition(net.systems, net.states)
    c, n_steps, _ = states.shape
    move = _steps(net.movement, n_steps, "movement")
    end = move[-1] if net.end is None else range(n_steps)[net.end]
    final = net.final
    if final is None:
        final = slice(n_steps - params.rest_window_bins, n_steps)
    _steps(final, n_steps, "final")
    distinct = [per_condition[0]] if isinstance(net.systems, RateSystem) else per_condition
    values: dict[str, np.ndarray] = {name: np.empty(c) for name in MEASURE_NAMES}
    _trajectory_measures(values, per_condition, states, (net.movement, end, final), params.slow_s)
    _rest_measures(values, distinct, params)
    return values, distinct, _fixed_point_starts(distinct, states, params, rng)


def measure(
    systems: RateSystem | Sequence[RateSystem],
    states: np.ndarray,
    movement: slice,
    params: MechanismParams | None = None,
    rng: np.random.Generator | None = None,
    *,
    end: int | None = None,
    final: slice | None = None,
) -> pd.DataFrame:
    """Every mechanism measure of one network (:data:`MEASURES`).

    Parameters
    ----------
    systems, states, movement, end, final
        The network's trajectory (:class:`Trajectory`).
    params : MechanismParams, optional
    rng : numpy.random.Generator
        Starts of the fixed-point search (required).

    Returns
    -------
    pandas.DataFrame
        Columns ``measure, condition, value`` (:data:`MEASURE_COLUMNS`): one row per measure
        (in :data:`MEASURES` order) and condition (0 .. C-1), ``C len(MEASURES)`` rows.
        ``return_to_rest`` and the ``*_end`` measures are computed per condition; for a SOC
        every other measure too (its gains, hence its rest Jacobian and fixed points, differ
        per condition). A single autonomous system's rest Jacobian, amplification and fixed
        points are the same for every condition: they are computed once (the fixed-point
        starts drawn from all conditions' states) and repeated on every condition's row, so
        both networks' tables have the same rows.
    """
    return measure_networks([Trajectory(systems, states, movement, end, final)], params, [rng])[0]
