"""Synthetic EMG targets: one Gaussian-process draw per muscle over (time x reach angle).

Per muscle m a latent function f_m(t, theta) is drawn from a zero-mean Gaussian process with the
separable kernel

    k((t, theta), (t', theta'))
        = exp(-(t - t')^2 / (2 l_t^2)) * exp(-2 sin^2((theta - theta') / 2) / l_theta^2)

(squared-exponential in time, periodic in angle) on the grid t = 0, dt, ..., (n_times - 1) dt and
theta_c = 2 pi c / n_conditions. The EMG is

    EMG_m(t, theta) = b_m + a_m * env(t) * softplus(beta f_m(t, theta)) / beta,

with baseline b_m ~ U[baseline_low, baseline_high], env(t) a raised-cosine (Tukey) window that is
exactly 0 at the first and last time bin, and a_m chosen so that each muscle's peak over all
conditions and times is exactly 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hintforce._validate import check_integer, check_number

__all__ = [
    "EMG",
    "EMGParams",
    "angle_grid",
    "angle_kernel",
    "envelope",
    "reach_angles",
    "sample_emg",
    "time_grid",
    "time_kernel",
]


@dataclass(frozen=True)
class EMGParams:
    """Parameters of the synthetic EMG generator.

    Parameters
    ----------
    n_muscles : int
        Number of muscles (independent GP draws).
    n_conditions : int
        Number of reach directions, evenly spaced on the circle.
    n_times : int
        Number of time bins.
    dt_ms : float
        Bin width in ms; the grid is 0, dt_ms, ..., (n_times - 1) * dt_ms.
    length_time_ms : float
        Length scale l_t of the squared-exponential time kernel, ms.
    length_angle_rad : float
        Length scale l_theta of the periodic angle kernel, rad.
    softplus_beta : float
        Sharpness beta of the rectification softplus(beta f) / beta applied to the unit-variance
        GP draw. 4 rectifies the negative half of the draw almost completely (softplus(-4)/4 is
        0.005) while keeping positive lobes smooth, which makes the traces multiphasic bursts.
    baseline_low, baseline_high : float
        Range of the per-muscle baseline b_m ~ U[baseline_low, baseline_high]; must satisfy
        0 <= baseline_low <= baseline_high < 1 so that the peak (1) lies above the baseline.
    envelope_ramp_ms : float
        Duration of each raised-cosine ramp of the envelope, ms: env rises from 0 at t = 0 to 1
        at t = envelope_ramp_ms and falls back to 0 at the last bin. At most half the trial.
    jitter : float
        Relative diagonal jitter added to each kernel factor before its Cholesky factorisation
        (the squared-exponential time kernel is numerically singular).
    """

    n_muscles: int = 10
    n_conditions: int = 8
    n_times: int = 80
    dt_ms: float = 10.0
    length_time_ms: float = 80.0
    length_angle_rad: float = 1.0
    softplus_beta: float = 4.0
    baseline_low: float = 0.05
    baseline_high: float = 0.15
    envelope_ramp_ms: float = 150.0
    jitter: float = 1e-8

    def __post_init__(self) -> None:
        check_integer("n_muscles", self.n_muscles)
        check_integer("n_conditions", self.n_conditions)
        check_integer("n_times", self.n_times)
        if self.n_times < 3:
            raise ValueError(
                f"n_times must be >= 3 (an envelope needs interior bins), got {self.n_times!r}"
            )
        for name in (
            "dt_ms",
            "length_time_ms",
            "length_angle_rad",
            "softplus_beta",
            "envelope_ramp_ms",
            "jitter",
        ):
            check_number(name, getattr(self, name), 0)
        for name in ("baseline_low", "baseline_high"):
            value = getattr(self, name)
            if not isinstance(value, int | float | np.integer | np.floating) or isinstance(
                value, bool
            ):
                raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
            if not (math.isfinite(value) and 0.0 <= value < 1.0):
                raise ValueError(f"{name} must be in [0, 1), got {value!r}")
        if self.baseline_low > self.baseline_high:
            raise ValueError(
                f"baseline_low must be <= baseline_high ({self.baseline_high!r}), "
                f"got {self.baseline_low!r}"
            )
        half_trial = 0.5 * (self.n_times - 1) * self.dt_ms
        if self.envelope_ramp_ms > half_trial:
            raise ValueError(
                f"envelope_ramp_ms must be in (0, {half_trial}] (half the trial), "
                f"got {self.envelope_ramp_ms!r}"
            )
        if self.jitter >= 1e-2:
            raise ValueError(f"jitter must be in (0, 0.01), got {self.jitter!r}")


@dataclass(frozen=True)
class EMG:
    """EMG-like target activity.

    Attributes
    ----------
    emg : ndarray, shape (n_conditions, n_times, n_muscles)
        Normalised activity, each muscle's maximum exactly 1, baseline in [0.05, 0.15].
    time_ms : ndarray, shape (n_times,)
        Bin times, ms.
    angle_rad : ndarray, shape (n_conditions,)
        Reach direction of each condition, rad.
    """

    emg: np.ndarray
    time_ms: np.ndarray
    angle_rad: np.ndarray


def time_grid(params: EMGParams) -> np.ndarray:
    """Bin times 0, dt, ..., (n_times - 1) dt, ms, shape (n_times,)."""
    return params.dt_ms * np.arange(params.n_times, dtype=np.float64)


def reach_angles(n_directions: int) -> np.ndarray:
    """Reach angles 2 pi c / n_directions of directions c = 0, ..., n_directions - 1, rad."""
    return 2.0 * np.pi * np.arange(n_directions, dtype=np.float64) / n_directions


def angle_grid(params: EMGParams) -> np.ndarray:
    """Reach angles of the EMG's conditions (:func:`reach_angles`), shape (n_conditions,)."""
    return reach_angles(params.n_conditions)


def time_kernel(time_ms: np.ndarray, length_ms: float) -> np.ndarray:
    """Squared-exponential kernel exp(-dt^2 / (2 l^2)), shape (n_times, n_times)."""
    diff = time_ms[:, None] - time_ms[None, :]
    return np.exp(-(diff**2) / (2.0 * length_ms**2))


def angle_kernel(angle_rad: np.ndarray, length_rad: float) -> np.ndarray:
    """Periodic kernel exp(-2 sin^2(dtheta / 2) / l^2), shape (n_conditions, n_conditions)."""
    diff = angle_rad[:, None] - angle_rad[None, :]
    return np.exp(-2.0 * np.sin(0.5 * diff) ** 2 / length_rad**2)


def envelope(time_ms: np.ndarray, ramp_ms: float) -> np.ndarray:
    """Raised-cosine (Tukey) window over the grid, shape (n_times,).

    0 at the first and last bin, sin^2 ramps of duration ``ramp_ms`` (continuous first
    derivative), 1 in between.
    """
    start = time_ms[0]
    stop = time_ms[-1]
    rise = np.clip((time_ms - start) / ramp_ms, 0.0, 1.0)
    fall = np.clip((stop - time_ms) / ramp_ms, 0.0, 1.0)
    return np.sin(0.5 * np.pi * rise) ** 2 * np.sin(0.5 * np.pi * fall) ** 2


def _cholesky_with_jitter(kernel: np.ndarray, jitter: float) -> np.ndarray:
    n = kernel.shape[0]
    return np.linalg.cholesky(kernel + jitter * np.eye(n))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def sample_emg(params: EMGParams, rng: np.random.Generator) -> EMG:
    """Draw EMG-like activity for every muscle and reach direction.

    Parameters
    ----------
    params : EMGParams
    rng : numpy.random.Generator
        Source of the GP draws (standard normals, shape (n_muscles, n_times, n_conditions)) and
        then of the baselines (uniform, shape (n_muscles,)).

    Returns
    -------
    EMG
        ``emg`` of shape (n_conditions, n_times, n_muscles), dimensionless, each muscle's
        maximum exactly 1 and each trace starting and ending at the muscle's baseline.

    Notes
    -----
    The GP draw uses the Kronecker structure of the kernel: with K_t = L_t L_t^T and
    K_theta = L_theta L_theta^T, F = L_t Z L_theta^T for Z of i.i.d. standard normals has
    covariance K_t (x) K_theta, so no (n_times n_conditions)^2 matrix is ever formed.
    """
    t = time_grid(params)
    theta = angle_grid(params)
    chol_t = _cholesky_with_jitter(time_kernel(t, params.length_time_ms), params.jitter)
    chol_a = _cholesky_with_jitter(angle_kernel(theta, params.length_angle_rad), params.jitter)

    white = rng.standard_normal((params.n_muscles, params.n_times, params.n_conditions))
    latent = chol_t @ white @ chol_a.T  # (muscle, time, condition)
    baseline = rng.uniform(params.baseline_low, params.baseline_high, size=params.n_muscles)

    beta = params.softplus_beta
    burst = envelope(t, params.envelope_ramp_ms)[None, :, None] * _softplus(beta * latent) / beta
    peak = burst.max(axis=(1, 2), keepdims=True)
    # Deficit from the peak, written so that the argmax bin equals 1.0 exactly:
    # 1 - (1 - b)(1 - y) = b + (1 - b) y with y = burst / peak in [0, 1].
    deficit = 1.0 - burst / peak
    emg = 1.0 - (1.0 - baseline)[:, None, None] * deficit
    return EMG(
        emg=np.ascontiguousarray(emg.transpose(2, 1, 0)),
        time_ms=t,
        angle_rad=theta,
    )
