"""Gain-modulated SOC dynamics: the ground-truth M1 (Stroud et al. 2018).

A stability-optimised circuit (SOC) with connectivity ``W`` evolves as

    tau dx/dt = -x + W phi(g ⊙ x),

where ``x`` is each neuron's deviation from the ``r0`` baseline and ``phi`` the rate
deviation it emits (rates are ``r0 + phi``, in ``(0, rmax)`` Hz). Every reach condition ``c``
starts from the same state ``x0`` -- the most observable direction of ``W - I`` -- and differs
only in its positive neuronal gains ``g_c = exp(u_c)``. The log-gains are fitted so that one
linear readout of the excitatory rate deviations, shared by all conditions, reproduces the EMG
of every condition, and returns to baseline in a post-movement tail.

Integration is forward Euler at ``dt_ms`` (<= 2 ms: the fastest SOC mode has a time constant
of ~9 ms), sampled every ``bin_ms`` on the EMG grid. The gradient of the fitting loss is an
explicit adjoint (backpropagation through time) of the Euler recursion, vectorised over
conditions; the readout is ridge-solved inside the loss, so by the envelope theorem its
gradient needs no differentiation through the solve.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import minimize

from hintforce._validate import check_integer, check_number
from hintforce.soc import spectrum_and_gramians

__all__ = [
    "GainParams",
    "GroundTruth",
    "phi",
    "phi_derivative",
    "initial_state",
    "simulate",
    "check_reproduced",
    "rates_with_rest",
    "loss_and_grad",
    "fit_gains",
]

logger = logging.getLogger(__name__)

_LOG_EVERY = 25


@dataclass(frozen=True)
class GainParams:
    """Parameters of the gain-modulated SOC and of the gain fit.

    Parameters
    ----------
    tau_ms : float
        Membrane time constant, ms. Default 200.
    r0_hz : float
        Baseline rate, Hz; ``phi`` saturates at ``-r0_hz`` below baseline. Default 20.
    rmax_hz : float
        Maximum rate, Hz (> r0_hz); ``phi`` saturates at ``rmax_hz - r0_hz``. Default 100.
    dt_ms : float
        Forward-Euler step, ms, in (0, 2]; must divide ``bin_ms`` into an integer number of
        steps. Default 1.
    bin_ms : float
        Spacing of the EMG time grid the network is sampled on, ms. Default 10.
    x0_rms_hz : float
        Amplitude of the shared initial state: root-mean-square deviation from baseline across
        neurons, Hz. The SOC amplifies the most observable direction about threefold within
        ~100 ms, so the default 10 Hz gives a transient whose population swings tens of Hz
        around the 20 Hz baseline (into the saturating part of ``phi`` for some neurons).
    tail_ms : float
        Post-movement window, ms (a multiple of ``bin_ms``, >= 0), simulated after the EMG
        window; there the readout must stay at each condition's final EMG value (baseline),
        which keeps the fitted activity decaying after the movement. Default 200.
    tail_weight : float
        Weight of each tail sample relative to a movement sample in the squared-error term,
        >= 0. Default 1.
    ridge : float
        Tikhonov penalty on the readout weights, Hz^2, > 0: it is added to the (weighted,
        centred) Gram matrix of the excitatory rate deviations over all samples, whose leading
        eigenvalues are ~1e6 Hz^2. Default 100 suppresses readout directions along which the
        rates vary by less than ~0.3 Hz rms over the ~1000 samples, so the muscles are driven
        by rate modulations of physiological size rather than by sub-Hz details.
    gain_penalty : float
        Coefficient of the mean squared log-gain, ``gain_penalty * mean(u**2)``, >= 0
        (the mean makes it independent of network and condition count). Default 0.1 keeps
        gains within a factor of ~3 of 1, so that each condition's network linearised at
        baseline, ``W diag(g_c) - I``, stays clearly stable and activity dies out after the
        movement; with 1e-3 to 1e-2 the fit is marginally better but some conditions sustain
        or regrow activity after the tail.
    max_iterations : int
        Maximum number of L-BFGS-B iterations (function evaluations are capped at twice
        that). Default 40: on the default circuit the median R^2 passes 0.99 within ~25
        iterations and 0.998 by 40 (0.9988, worst muscle 0.9980); 100 iterations improve only
        the fourth decimal (0.9992, 0.9983) at 2.5 times the cost.
    tolerance : float
        L-BFGS-B stopping tolerance, used both as ``ftol`` (relative loss decrease) and
        ``gtol`` (largest gradient entry), > 0. Default 1e-9.
    """

    tau_ms: float = 200.0
    r0_hz: float = 20.0
    rmax_hz: float = 100.0
    dt_ms: float = 1.0
    bin_ms: float = 10.0
    x0_rms_hz: float = 10.0
    tail_ms: float = 200.0
    tail_weight: float = 1.0
    ridge: float = 100.0
    gain_penalty: float = 0.1
    max_iterations: int = 40
    tolerance: float = 1e-9

    def __post_init__(self):
        check_number("tau_ms", self.tau_ms, 0.0, math.inf)
        check_number("r0_hz", self.r0_hz, 0.0, math.inf)
        check_number("rmax_hz", self.rmax_hz, self.r0_hz, math.inf)
        check_number("dt_ms", self.dt_ms, 0.0, 2.0, high_open=False)
        check_number("bin_ms", self.bin_ms, 0.0, math.inf)
        ratio = self.bin_ms / self.dt_ms
        if abs(ratio - round(ratio)) > 1e-9 * ratio:
            raise ValueError(
                f"dt_ms must divide bin_ms into a whole number of steps, got dt_ms={self.dt_ms!r}"
                f" and bin_ms={self.bin_ms!r}"
            )
        check_number("x0_rms_hz", self.x0_rms_hz, 0.0, math.inf)
        check_number("tail_ms", self.tail_ms, 0.0, math.inf, low_open=False)
        ratio = self.tail_ms / self.bin_ms
        if abs(ratio - round(ratio)) > 1e-9 * max(ratio, 1.0):
            raise ValueError(
                f"tail_ms must be a whole multiple of bin_ms={self.bin_ms!r}, got {self.tail_ms!r}"
            )
        check_number("tail_weight", self.tail_weight, 0.0, math.inf, low_open=False)
        check_number("ridge", self.ridge, 0.0, math.inf)
        check_number("gain_penalty", self.gain_penalty, 0.0, math.inf, low_open=False)
        check_integer("max_iterations", self.max_iterations)
        check_number("tolerance", self.tolerance, 0.0, math.inf)

    @property
    def steps_per_bin(self) -> int:
        """Number of Euler steps per EMG bin."""
        return round(self.bin_ms / self.dt_ms)

    @property
    def tail_bins(self) -> int:
        """Number of EMG bins in the post-movement tail."""
        return round(self.tail_ms / self.bin_ms)


@dataclass(frozen=True)
class GroundTruth:
    """Fitted gain-modulated SOC: the ground-truth M1.

    Attributes
    ----------
    gains : ndarray, shape (n_conditions, n_neurons)
        Positive neuronal gains ``exp(log_gains)``.
    log_gains : ndarray, shape (n_conditions, n_neurons)
        Fitted log-gains ``u``.
    x0 : ndarray, shape (n_neurons,)
        Shared initial state (deviation from baseline), Hz.
    readout : ndarray, shape (n_muscles, n_excitatory)
        Readout weights from excitatory rate deviations to EMG, 1/Hz.
    bias : ndarray, shape (n_muscles,)
        Readout bias (EMG units).
    rates : ndarray, shape (n_conditions, n_times, n_neurons)
        Firing rates ``r0 + phi(g ⊙ x)`` on the EMG grid over the movement window, Hz.
    emg_fit : ndarray, shape (n_conditions, n_times, n_muscles)
        Readout of the rates over the movement window.
    r2 : ndarray, shape (n_muscles,)
        Coefficient of determination of ``emg_fit`` per muscle, over all conditions and times.
    loss_trace : ndarray, shape (n_iterations + 1,)
        Loss at the start and after every L-BFGS-B iteration.
    """

    gains: np.ndarray
    log_gains: np.ndarray
    x0: np.ndarray
    readout: np.ndarray
    bias: np.ndarray
    rates: np.ndarray
    emg_fit: np.ndarray
    r2: np.ndarray
    loss_trace: np.ndarray


def phi(x, r0: float, rmax: float):
    """Rate deviation from baseline emitted for input ``x``.

    ``phi(x) = r0 tanh(x / r0)`` for ``x < 0`` and ``(rmax - r0) tanh(x / (rmax - r0))`` for
    ``x >= 0``: slope 1 at 0, bounded in ``(-r0, rmax - r0)``, so rates ``r0 + phi`` lie in
    ``(0, rmax)``.

    Parameters
    ----------
    x : array_like
        Input (deviation from baseline), Hz.
    r0, rmax : float
        Baseline and maximum rate, Hz (``0 < r0 < rmax``).

    Returns
    -------
    ndarray
        Same shape as ``x``, Hz.
    """
    x = np.asarray(x, dtype=float)
    scale = np.where(x < 0, r0, rmax - r0)
    return scale * np.tanh(x / scale)


def phi_derivative(x, r0: float, rmax: float):
    """Derivative of :func:`phi` with respect to its input (dimensionless, in (0, 1]).

    Parameters
    ----------
    x : array_like
        Input, Hz.
    r0, rmax : float
        Baseline and maximum rate, Hz.

    Returns
    -------
    ndarray
        Same shape as ``x``.
    """
    x = np.asarray(x, dtype=float)
    scale = np.where(x < 0, r0, rmax - r0)
    return 1.0 - np.tanh(x / scale) ** 2


def _phi_into(s, inv_scale, out, *, r0, rmax):
    """``out = phi(s)`` without temporaries (``inv_scale`` is workspace of s's shape)."""
    # 1/scale is 1/r0 where s < 0 and 1/(rmax - r0) elsewhere
    np.less(s, 0.0, out=out)
    np.multiply(out, 1.0 / r0 - 1.0 / (rmax - r0), out=inv_scale)
    inv_scale += 1.0 / (rmax - r0)
    np.multiply(s, inv_scale, out=out)
    np.tanh(out, out=out)
    np.divide(out, inv_scale, out=out)


def _check_connectivity(W):
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.shape[0] != W.shape[1] or W.shape[0] < 1:
        raise ValueError(f"W must be a square 2-D array, got shape {W.shape}")
    if not np.all(np.isfinite(W)):
        raise ValueError("W must be finite, got non-finite entries")
    return W


def initial_state(W, params: GainParams | None = None):
    """Shared initial state: the most observable direction of ``W - I``, scaled.

    Solves ``(W - I)^T Q + Q (W - I) = -2 I`` for the observability Gramian ``Q`` and returns
    its top eigenvector -- the initial condition whose linear response has the largest
    energy -- scaled to root-mean-square ``params.x0_rms_hz``. The sign is fixed so that the
    entry of largest magnitude is positive.

    Parameters
    ----------
    W : ndarray, shape (n_neurons, n_neurons)
        Connectivity (``W - I`` must be stable).
    params : GainParams, optional

    Returns
    -------
    x0 : ndarray, shape (n_neurons,)
        Initial deviation from baseline, Hz.
    """
    params = GainParams() if params is None else params
    W = _check_connectivity(W)
    n = W.shape[0]
    try:
        _, q, _ = spectrum_and_gramians(W, 1.0)
    except ValueError:
        raise ValueError("W - I must be stable (spectral abscissa of W below 1)") from None
    q = 0.5 * (q + q.T)
    _, vecs = np.linalg.eigh(q)
    v = vecs[:, -1]
    if v[np.argmax(np.abs(v))] < 0:
        v = -v
    return v * (params.x0_rms_hz * math.sqrt(n))


def _forward(W_t_scaled, gains, x0, n_steps, decay, r0, rmax):
    """Euler recursion with step-major storage.

    Returns states ``X`` and rate deviations ``phi(g ⊙ X)``, both (n_steps + 1, C, N).
    ``W_t_scaled`` is ``(dt / tau) W^T`` and ``decay`` is ``1 - dt / tau``.
    """
    n_conditions, n = gains.shape
    X = np.empty((n_steps + 1, n_conditions, n))
    phi = np.empty((n_steps + 1, n_conditions, n))
    s = np.empty((n_conditions, n))
    inv_scale = np.empty((n_conditions, n))
    leak = np.empty((n_conditions, n))
    X[0] = x0
    for k in range(n_steps + 1):
        np.multiply(gains, X[k], out=s)
        _phi_into(s, inv_scale, phi[k], r0=r0, rmax=rmax)
        if k < n_steps:
            nxt = X[k + 1]
            np.matmul(phi[k], W_t_scaled, out=nxt)
            np.multiply(X[k], decay, out=leak)
            nxt += leak
    return X, phi


def simulate(W, gains, x0, params: GainParams, n_steps: int):
    """Integrate ``tau dx/dt = -x + W phi(g ⊙ x)`` by forward Euler for every condition.

    Parameters
    ----------
    W : ndarray, shape (n_neurons, n_neurons)
        Connectivity.
    gains : ndarray, shape (n_conditions, n_neurons)
        Positive neuronal gains per condition.
    x0 : ndarray, shape (n_neurons,)
        Initial state shared by all conditions (deviation from baseline), Hz.
    params : GainParams
        Uses ``tau_ms``, ``dt_ms``, ``r0_hz``, ``rmax_hz``.
    n_steps : int
        Number of Euler steps of ``dt_ms``.

    Returns
    -------
    states : ndarray, shape (n_conditions, n_steps + 1, n_neurons)
        ``x`` at times ``0, dt, ..., n_steps dt`` (deviation from baseline), Hz. Rates are
        ``params.r0_hz + phi(gains[:, None] * states, r0, rmax)``.
    """
    W = _check_connectivity(W)
    n = W.shape[0]
    gains = _check_gains(gains, n)
    x0 = _check_x0(x0, n)
    if not isinstance(n_steps, int | np.integer) or isinstance(n_steps, bool) or n_steps < 0:
        raise ValueError(f"n_steps must be an integer in [0, inf), got {n_steps!r}")
    a = params.dt_ms / params.tau_ms
    X, _ = _forward(
        np.ascontiguousarray(a * W.T),
        gains,
        x0,
        int(n_steps),
        1.0 - a,
        params.r0_hz,
        params.rmax_hz,
    )
    return np.ascontiguousarray(X.transpose(1, 0, 2))


def rates_with_rest(W, gains, x0, rates, params: GainParams, n_rest: int):
    """The SOC's rates over the movement window followed by ``n_rest`` bins past it.

    The fitted network (``W``, ``gains``, ``x0``) is run on from its start by the same Euler
    recursion as the fit, for the movement window and ``n_rest`` more bins of ``bin_ms``, and
    sampled on the bin grid; the movement window keeps the fit's stored ``rates`` (which that
    simulation reproduces: anything else means the store is inconsistent), the rest window
    is the simulation's continuation.

    Parameters
    ----------
    W : ndarray, shape (n_neurons, n_neurons)
    gains : ndarray, shape (n_conditions, n_neurons)
    x0 : ndarray, shape (n_neurons,)
        The fitted network (:class:`GroundTruth`).
    rates : ndarray, shape (n_conditions, n_times, n_neurons)
        Its rates over the movement window (:attr:`GroundTruth.rates`), Hz.
    params : GainParams
        The fit's parameters (its ``bin_ms`` is the rates' bin).
    n_rest : int
        Bins past the movement window, >= 0.

    Returns
    -------
    ndarray, shape (n_conditions, n_times + n_rest, n_neurons)
        Rates in Hz; ``rates`` itself when ``n_rest`` is 0.

    Raises
    ------
    ValueError
        If the simulation does not reproduce ``rates`` (to 1e-9 Hz relative to the largest).
    """
    check_integer("n_rest", n_rest, low=0)
    rates = np.asarray(rates, dtype=float)
    if n_rest == 0:
        return rates
    W = _check_connectivity(W)
    n = W.shape[0]
    gains = _check_gains(gains, n)
    x0 = _check_x0(x0, n)
    if rates.ndim != 3 or rates.shape[0] != gains.shape[0] or rates.shape[2] != n:
        raise ValueError(
            f"rates must have shape ({gains.shape[0]}, n_times, {n}) like the gains, got "
            f"{rates.shape}"
        )
    n_times, stride = rates.shape[1], params.steps_per_bin
    a = params.dt_ms / params.tau_ms
    _, phi = _forward(
        np.ascontiguousarray(a * W.T),
        gains,
        x0,
        (n_times + n_rest - 1) * stride,
        1.0 - a,
        params.r0_hz,
        params.rmax_hz,
    )
    window = params.r0_hz + phi[::stride].transpose(1, 0, 2)
    check_reproduced(window[:, :n_times], rates)
    return np.concatenate([rates, window[:, n_times:]], axis=1)


def check_reproduced(simulated: np.ndarray, rates: np.ndarray) -> None:
    """Refuse a simulation of the stored W, gains and x0 whose rates (Hz) over the movement
    window differ from the stored ``rates`` by more than 1e-9 of the largest (or 1e-9 Hz)."""
    scale = max(1.0, float(np.max(np.abs(rates))))
    if not np.allclose(simulated, rates, rtol=0.0, atol=1e-9 * scale):
        raise ValueError(
            "the stored rates are not those of the stored W, gains and x0 (largest difference "
            f"{np.max(np.abs(simulated - rates)):.3g} Hz)"
        )


def _check_gains(gains, n):
    gains = np.asarray(gains, dtype=float)
    if gains.ndim != 2 or gains.shape[1] != n:
        raise ValueError(f"gains must have shape (n_conditions, {n}), got {gains.shape}")
    if not np.all(np.isfinite(gains)) or np.any(gains <= 0):
        raise ValueError("gains must be finite and positive")
    return gains


def _check_x0(x0, n):
    x0 = np.asarray(x0, dtype=float)
    if x0.shape != (n,):
        raise ValueError(f"x0 must have shape ({n},), got {x0.shape}")
    if not np.all(np.isfinite(x0)):
        raise ValueError("x0 must be finite")
    return x0


def _check_problem(W, excitatory, emg):
    W = _check_connectivity(W)
    n = W.shape[0]
    excitatory = np.asarray(excitatory)
    if excitatory.shape != (n,) or excitatory.dtype != bool:
        raise ValueError(
            f"excitatory must be a boolean array of shape ({n},) matching W, "
            f"got dtype {excitatory.dtype} and shape {excitatory.shape}"
        )
    if not excitatory.any():
        raise ValueError("excitatory must mark at least one neuron, got none")
    emg = np.asarray(emg, dtype=float)
    if emg.ndim != 3 or min(emg.shape) < 1 or emg.shape[1] < 2:
        raise ValueError(
            f"emg must have shape (n_conditions, n_times >= 2, n_muscles), got {emg.shape}"
        )
    if not np.all(np.isfinite(emg)):
        raise ValueError("emg must be finite")
    if np.any(np.ptp(emg, axis=(0, 1)) == 0):
        raise ValueError("emg must vary over conditions and times for every muscle")
    return W, excitatory, emg


class _Objective:
    """One evaluation of the gain-fitting loss at some log-gains, with what it computed on the
    way (the final one gives the fit's readout, rates and R^2)."""

    __slots__ = ("loss", "grad", "readout", "bias", "phi", "fit", "r2")


def _readout_targets(emg, params: GainParams):
    """The readout's targets on the sample grid and their weights.

    Returns ``Y`` (n_samples, C, M), the EMG over the movement window followed by each
    condition's final value over the tail, and ``w`` (n_samples,): 1 in the movement window and
    ``tail_weight`` in the tail.
    """
    c, t_move, m = emg.shape
    n_samples = t_move + params.tail_bins
    Y = np.empty((n_samples, c, m))
    Y[:t_move] = emg.transpose(1, 0, 2)
    Y[t_move:] = emg[:, -1, :]  # tail target: each condition's final (baseline) value
    w = np.ones(n_samples)
    w[t_move:] = params.tail_weight
    return Y, w


def _weighted_ridge(Zf, Yf, wr, ridge):
    """Weighted ridge regression of ``Yf`` on ``Zf`` with an unpenalised bias.

    Returns the readout (M, NE), the bias (M,) and the residuals ``Yf - Zf C^T - b``.
    """
    wsum = wr.sum()
    z_mean = wr @ Zf / wsum
    y_mean = wr @ Yf / wsum
    Zc = Zf - z_mean
    Yc = Yf - y_mean
    Zw = Zc * wr[:, None]
    gram = Zc.T @ Zw
    gram[np.diag_indices(Zf.shape[1])] += ridge
    readout = cho_solve(cho_factor(gram), Zw.T @ Yc).T  # (M, NE)
    bias = y_mean - readout @ z_mean
    return readout, bias, Yf - Zf @ readout.T - bias


def _adjoint(d_phi_samples, phi, X, gains, W, params: GainParams):
    """dL/dg by backpropagation through the Euler recursion.

    ``d_phi_samples`` (n_samples, C, N) is dL/dphi at the sampled steps; ``phi`` and ``X``
    (n_steps + 1, C, N) are the forward pass's rate deviations and states.
    """
    a = params.dt_ms / params.tau_ms
    r0, rmax, stride = params.r0_hz, params.rmax_hz, params.steps_per_bin
    n_steps = phi.shape[0] - 1
    c, n = gains.shape
    # phi'(g ⊙ x) from the emitted rate deviations: 1 - (phi / scale)^2
    D = np.where(phi < 0, 1.0 / r0, 1.0 / (rmax - r0))
    D *= phi
    np.square(D, out=D)
    np.subtract(1.0, D, out=D)

    # adjoint of x_{k+1} = (1 - a) x_k + a phi(g ⊙ x_k) W^T
    W_scaled = np.ascontiguousarray(a * W)
    lam = np.zeros((c, n))
    v = np.empty((c, n))
    tmp = np.empty((c, n))
    Mu = D  # mu_k = dL/d(g ⊙ x_k) overwrites phi' in place, step by step
    for k in range(n_steps, -1, -1):
        if k < n_steps:
            np.matmul(lam, W_scaled, out=v)
        else:
            v.fill(0.0)
        if k % stride == 0:
            v += d_phi_samples[k // stride]
        mu = Mu[k]
        mu *= v
        lam *= 1.0 - a
        np.multiply(mu, gains, out=tmp)
        lam += tmp
    return np.einsum("kcn,kcn->cn", Mu, X)


def _evaluate(u, W, excitatory, x0, emg, params: GainParams, *, want_grad=True):
    """Loss, gradient and by-products for log-gains ``u`` (C, N)."""
    c, t_move, m = emg.shape
    n = W.shape[0]
    a = params.dt_ms / params.tau_ms
    stride = params.steps_per_bin
    Y, w = _readout_targets(emg, params)
    n_samples = Y.shape[0]
    n_steps = (n_samples - 1) * stride
    gains = np.exp(u)

    X, phi = _forward(
        np.ascontiguousarray(a * W.T), gains, x0, n_steps, 1.0 - a, params.r0_hz, params.rmax_hz
    )

    # readout design: excitatory rate deviations on the bin grid, rows = (sample, condition)
    Z = phi[::stride][:, :, excitatory]  # (S, C, NE)
    n_exc = Z.shape[2]
    centred = emg - emg.mean(axis=(0, 1))
    ss_tot = np.einsum("ctm,ctm->m", centred, centred)  # (M,)
    wr = np.repeat(w, c)  # (S*C,)
    Zf = Z.reshape(-1, n_exc)
    readout, bias, resid = _weighted_ridge(Zf, Y.reshape(-1, m), wr, params.ridge)

    per_muscle = (wr @ (resid * resid) + params.ridge * np.sum(readout * readout, axis=1)) / ss_tot
    loss = per_muscle.mean() + params.gain_penalty * np.mean(u * u)

    ev = _Objective()
    ev.loss = float(loss)
    ev.readout = readout
    ev.bias = bias
    ev.phi = phi
    fit = (Zf @ readout.T + bias).reshape(n_samples, c, m)[:t_move].transpose(1, 0, 2)
    ev.fit = np.ascontiguousarray(fit)
    err = emg - ev.fit
    ev.r2 = 1.0 - np.einsum("ctm,ctm->m", err, err) / ss_tot
    ev.grad = None
    if not want_grad:
        return ev

    # dL/dZ (envelope theorem: readout and bias are at their optimum)
    dZ = (-2.0 / m) * (wr[:, None] * (resid / ss_tot)) @ readout  # (S*C, NE)
    d_phi_samples = np.zeros((n_samples, c, n))
    d_phi_samples[:, :, excitatory] = dZ.reshape(n_samples, c, n_exc)
    grad_g = _adjoint(d_phi_samples, phi, X, gains, W, params)
    ev.grad = gains * grad_g + (2.0 * params.gain_penalty / u.size) * u
    return ev


def _check_u(u, c, n):
    u = np.asarray(u, dtype=float)
    if u.shape != (c, n):
        raise ValueError(f"u must have shape (n_conditions, n_neurons) = ({c}, {n}), got {u.shape}")
    if not np.all(np.isfinite(u)):
        raise ValueError("u must be finite")
    return u


def loss_and_grad(u, W, excitatory, x0, emg, params: GainParams):
    """Fitting loss for log-gains ``u`` and its gradient by backpropagation through time.

    The network is simulated from ``x0`` over the EMG window plus ``params.tail_ms`` and
    sampled every ``params.bin_ms``. The readout ``emg_hat = C phi_E + b`` (``phi_E``: the rate
    deviations ``phi(g ⊙ x)`` of the excitatory neurons) is ridge-solved for the current
    rates, shared by all conditions. With ``S_m`` the sum of squares of muscle ``m``'s EMG
    about its mean (all conditions and times of the movement window),

        L = mean_m [ sum_{c,t} w_t (emg - emg_hat)^2_{ctm} + ridge ||C_m||^2 ] / S_m
            + gain_penalty * mean(u^2),

    with ``w_t = 1`` in the movement window and ``tail_weight`` in the tail, where the target
    is each condition's final EMG value. Without tail and ridge the first term is the mean
    over muscles of ``1 - R^2``.

    Parameters
    ----------
    u : ndarray, shape (n_conditions, n_neurons)
        Log-gains.
    W : ndarray, shape (n_neurons, n_neurons)
        Connectivity.
    excitatory : ndarray of bool, shape (n_neurons,)
        Which neurons the readout sees.
    x0 : ndarray, shape (n_neurons,)
        Shared initial state, Hz.
    emg : ndarray, shape (n_conditions, n_times, n_muscles)
        Target EMG on the ``bin_ms`` grid starting at 0.
    params : GainParams

    Returns
    -------
    loss : float
    grad : ndarray, shape (n_conditions, n_neurons)
        dL/du.
    """
    W, excitatory, emg = _check_problem(W, excitatory, emg)
    n = W.shape[0]
    x0 = _check_x0(x0, n)
    u = _check_u(u, emg.shape[0], n)
    ev = _evaluate(u, W, excitatory, x0, emg, params)
    return ev.loss, ev.grad


def fit_gains(W, excitatory, emg, params: GainParams | None = None) -> GroundTruth:
    """Fit per-condition gains so that the SOC's excitatory readout reproduces the EMG.

    Minimises :func:`loss_and_grad` over the log-gains with L-BFGS-B from ``u = 0`` (all
    gains 1); deterministic, no randomness involved. Progress (iteration, loss, median R^2)
    is logged every 25 iterations.

    Parameters
    ----------
    W : ndarray, shape (n_neurons, n_neurons)
        SOC connectivity.
    excitatory : ndarray of bool, shape (n_neurons,)
        Excitatory neurons (the readout's inputs).
    emg : ndarray, shape (n_conditions, n_times, n_muscles)
        Target EMG on the ``params.bin_ms`` grid.
    params : GainParams, optional

    Returns
    -------
    GroundTruth
    """
    params = GainParams() if params is None else params
    W, excitatory, emg = _check_problem(W, excitatory, emg)
    x0 = initial_state(W, params)
    u, trace = _minimise(W, excitatory, x0, emg, params)
    ev = _evaluate(u, W, excitatory, x0, emg, params, want_grad=False)
    logger.info(
        "gain fit: final loss %.5f, median R^2 %.4f, min R^2 %.4f",
        ev.loss,
        np.median(ev.r2),
        np.min(ev.r2),
    )
    t_move = emg.shape[1]
    rates = params.r0_hz + ev.phi[:: params.steps_per_bin][:t_move].transpose(1, 0, 2)
    return GroundTruth(
        gains=np.exp(u),
        log_gains=u.copy(),
        x0=x0,
        readout=ev.readout,
        bias=ev.bias,
        rates=np.ascontiguousarray(rates),
        emg_fit=ev.fit,
        r2=ev.r2,
        loss_trace=trace,
    )


def _minimise(W, excitatory, x0, emg, params: GainParams):
    """L-BFGS-B on the log-gains from ``u = 0``, logging progress.

    Returns the log-gains (C, N) and the loss at the start and after each iteration.
    """
    n_conditions, n = emg.shape[0], W.shape[0]
    last = {}
    trace = []

    def fun(flat):
        ev = _evaluate(flat.reshape(n_conditions, n), W, excitatory, x0, emg, params)
        last["r2"] = ev.r2
        if not trace:  # the first evaluation is at the starting point u = 0
            trace.append(ev.loss)
            logger.info("gain fit: start, loss %.5f, median R^2 %.4f", ev.loss, np.median(ev.r2))
        return ev.loss, ev.grad.ravel()

    def callback(intermediate_result):
        trace.append(float(intermediate_result.fun))
        it = len(trace) - 1
        if it % _LOG_EVERY == 0:
            logger.info(
                "gain fit: iteration %d, loss %.5f, median R^2 %.4f",
                it,
                trace[-1],
                np.median(last["r2"]),
            )

    result = minimize(
        fun,
        np.zeros(n_conditions * n),
        jac=True,
        method="L-BFGS-B",
        callback=callback,
        options={
            "maxiter": params.max_iterations,
            "maxfun": 2 * params.max_iterations,
            "ftol": params.tolerance,
            "gtol": params.tolerance,
        },
    )
    logger.info("gain fit: done after %d iterations (%s)", result.nit, result.message)
    return result.x.reshape(n_conditions, n), np.asarray(trace)
