"""full-FORCE training of rate RNNs with and without hints (DePasquale et al. 2018).

Equations (DePasquale et al. 2018), Euler-integrated with ``a = dt / tau``:

* target-generating network ("teacher")::

      tau dxD/dt = -xD + JD tanh(xD) + u_in f_in + u_out f_out (+ u_hint f_hint)

* task network::

      tau dx/dt = -x + J tanh(x) + u_in f_in,        z = W tanh(x)

* recursive least squares on every step, ``r = tanh(x)``, J and W sharing the inverse
  correlation matrix ``P`` (``P0 = I/alpha``, J starting at ``JD``) so that
  ``J r ~ JD rD + u_out f_out (+ u_hint f_hint)`` and ``W r ~ f_out``.

The task (:mod:`hintforce.task`) decides what a trial is: ``n_prep`` preparatory steps,
during which the direction's input vector ``f_in`` (:attr:`hintforce.task.Trials.inputs`, one-hot
or the direction's angle) is on and every target is held at its first value, followed by the
``T`` steps of the target arrays (the task's window: movement, then rest; input off). Step ``s``
of a trial compares ``tanh(x_s)`` (``x_0`` = the initial state) with the targets of bin
``s - n_prep``. Targets are sampled at ``dt_ms``. Networks are trained on the task's training
directions only and evaluated on any directions, held-out ones included.

The models of one run (:data:`hintforce.study.MODELS`) share one :class:`SharedDraws` draw (a
paired comparison): ``train(f_out, trials, shared, params)`` trains full-FORCE without hints,
``train(f_out, trials, shared.with_hint_units(observed), params, f_hint)`` with hints, and
``fit_floor(f_out, trials, shared, params)`` is the untrained network with a fitted readout. Hint
weights are drawn for every SOC neuron and a hinted model uses the observed neurons' columns, so
a larger observed set adds hint inputs without redrawing the others. The hinted models differ
only in the hints (:mod:`hintforce.hints`): the observed neurons' scaled rates, those of another
training direction (a fixed derangement of the training directions) or their average over the
training directions. :func:`fit_model` runs what the model's entry in :mod:`hintforce.study`
carries (its hints, whether it is trained); :func:`evaluate_task` runs a trained network on
every direction.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np
from scipy.linalg.blas import daxpy, dgemv, dger, dsymv, dsyr

from hintforce import study
from hintforce._validate import check_integer
from hintforce.task import Task, Trials

__all__ = [
    "Evaluation",
    "Fit",
    "TaskEvaluation",
    "ForceParams",
    "Network",
    "SharedDraws",
    "TrainingDiverged",
    "draw_shared",
    "evaluate",
    "evaluate_task",
    "fit_floor",
    "fit_model",
    "new_rls",
    "r_squared",
    "restore",
    "rls_step",
    "scale_hints",
    "train",
    "trajectory",
]

logger = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """A network's states or weights became non-finite or exceeded the divergence threshold."""


@dataclass(frozen=True)
class ForceParams:
    """Parameters of full-FORCE training and evaluation (defaults: the study of the README).

    Attributes
    ----------
    n_units : int
        Units N of the teacher and the task network.
    tau_ms : float
        Membrane time constant, ms.
    dt_ms : float
        Euler step, ms; also the sampling interval of the targets. Must be below ``tau_ms``.
    g : float
        Gain of the teacher's random connectivity, ``JD ~ N(0, g^2 / N)``.
    hint_gain : float
        Scale of the hint input weights, ``u_hint = hint_gain * U(-1, 1)``.
    alpha : float
        RLS regulariser, ``P0 = I / alpha``.
    n_passes : int
        Training passes over the training directions (random order each pass).
    init_sd : float
        SD of the per-trial random initial states during training.
    noise_sd : float
        SD of the initial-state noise of the evaluation's noisy starts.
    n_noisy_starts : int
        Number of noisy starts per condition in evaluation.
    divergence_threshold : float
        Training or evaluation stops with :class:`TrainingDiverged` when the root-mean-square
        of a state vector, or the absolute value of any weight, exceeds this.
    """

    n_units: int = 300
    tau_ms: float = 50.0
    dt_ms: float = 10.0
    g: float = 1.5
    hint_gain: float = 0.3
    alpha: float = 1.0
    n_passes: int = 20
    init_sd: float = 0.05
    noise_sd: float = 0.2
    n_noisy_starts: int = 5
    divergence_threshold: float = 1e3

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, allowed: str) -> None:
            if not ok:
                raise ValueError(f"{name} must be {allowed}, got {getattr(self, name)!r}")

        def is_int(v: object) -> bool:
            return isinstance(v, int | np.integer) and not isinstance(v, bool)

        need(is_int(self.n_units) and self.n_units >= 1, study.N_UNITS, "an integer >= 1")
        need(np.isfinite(self.tau_ms) and self.tau_ms > 0, "tau_ms", "a finite number > 0")
        need(np.isfinite(self.dt_ms) and self.dt_ms > 0, "dt_ms", "a finite number > 0")
        need(self.dt_ms < self.tau_ms, "dt_ms", f"< tau_ms={self.tau_ms}")
        need(np.isfinite(self.g) and self.g >= 0, "g", "a finite number >= 0")
        need(
            np.isfinite(self.hint_gain) and self.hint_gain >= 0,
            study.HINT_GAIN,
            "a finite number >= 0",
        )
        need(np.isfinite(self.alpha) and self.alpha > 0, "alpha", "a finite number > 0")
        need(is_int(self.n_passes) and self.n_passes >= 1, "n_passes", "an integer >= 1")
        need(np.isfinite(self.init_sd) and self.init_sd >= 0, "init_sd", "a finite number >= 0")
        need(np.isfinite(self.noise_sd) and self.noise_sd >= 0, "noise_sd", "a finite number >= 0")
        need(
            is_int(self.n_noisy_starts) and self.n_noisy_starts >= 1,
            "n_noisy_starts",
            "an integer >= 1",
        )
        need(
            np.isfinite(self.divergence_threshold) and self.divergence_threshold > 0,
            "divergence_threshold",
            "> 0",
        )

    @property
    def leak(self) -> float:
        """Euler factor ``a = dt / tau``."""
        return self.dt_ms / self.tau_ms


@dataclass(frozen=True)
class SharedDraws:
    """The random draws every model of one run shares (FF, the hinted models and the floor):
    the teacher's connectivity and input weights, the initial states, the direction orders and
    the evaluation noise, so that the models differ only in what they are trained on.

    Attributes
    ----------
    J_D : ndarray, shape (N, N)
        Teacher connectivity, ``N(0, g^2 / N)``; also the task network's initial (and the
        floor's final) recurrent weights.
    u_in : ndarray, shape (N, D)
        Input weights of the D input channels (:attr:`hintforce.task.Task.n_channels`),
        ``U(-1, 1)``.
    u_out : ndarray, shape (N, M)
        Output-feedback weights of the teacher, ``U(-1, 1)``.
    u_hint : ndarray, shape (N, K)
        Hint weights of the teacher, ``hint_gain * U(-1, 1)``, one column per hint unit; K may
        be 0 (no hints). :func:`draw_shared` draws a column for every SOC neuron and
        :meth:`with_hint_units` keeps the observed neurons' columns.
    init_states : ndarray, shape (n_passes, C_train, N)
        Initial state of training trial (pass p, training direction i) for teacher and task
        network alike, ``N(0, init_sd^2)``; i indexes the task's training directions in order.
    order : ndarray of int, shape (n_passes, C_train)
        Order of the training directions in each pass (each row a permutation of
        ``range(C_train)``).
    eval_noise : ndarray, shape (n_noisy_starts, C, N)
        Initial states of the evaluation's noisy starts of every direction (training and
        held-out), ``N(0, noise_sd^2)``.
    training : ndarray of int, shape (C_train,)
        The task's training directions the draw was made for (not random: the directions
        training must use).
    """

    J_D: np.ndarray
    u_in: np.ndarray
    u_out: np.ndarray
    u_hint: np.ndarray
    init_states: np.ndarray
    order: np.ndarray
    eval_noise: np.ndarray
    training: np.ndarray

    def __post_init__(self) -> None:
        for name in (
            "J_D",
            "u_in",
            "u_out",
            "u_hint",
            "init_states",
            "order",
            "eval_noise",
            "training",
        ):
            arr = np.array(getattr(self, name), copy=True)
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)

    @property
    def n_units(self) -> int:
        return self.J_D.shape[0]

    @property
    def n_training(self) -> int:
        """Training directions C_train."""
        return self.training.size

    @property
    def n_directions(self) -> int:
        """Directions C of the task (training and held-out)."""
        return self.eval_noise.shape[1]

    @property
    def n_channels(self) -> int:
        """Input channels D."""
        return self.u_in.shape[1]

    @property
    def n_out(self) -> int:
        return self.u_out.shape[1]

    @property
    def n_hint(self) -> int:
        return self.u_hint.shape[1]

    def with_hint_units(self, units: np.ndarray) -> SharedDraws:
        """The same draw with only the hint weights of ``units`` (columns of ``u_hint``).

        Parameters
        ----------
        units : array of int, shape (K,)
            Unique indices into the columns of :attr:`u_hint` (the observed SOC neurons), in
            the order of the hint channels they will receive.

        Returns
        -------
        SharedDraws
            Every other quantity unchanged; ``u_hint`` of shape (N, K).
        """
        units = _check_units(units, self.n_hint, "units")
        return dataclasses.replace(self, u_hint=self.u_hint[:, units])


def _check_units(units: np.ndarray, n_units: int, name: str) -> np.ndarray:
    """``units`` as int64 indices, checked to be 1-D, unique and within ``range(n_units)``."""
    arr = np.asarray(units)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be a 1-D array of integer indices, got {units!r}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n_units):
        raise ValueError(f"{name} must be indices in range({n_units}), got {arr}")
    if np.unique(arr).size != arr.size:
        raise ValueError(f"{name} must be unique, got {arr}")
    return arr


@dataclass(frozen=True)
class Network:
    """A task network's weights.

    Attributes
    ----------
    J : ndarray, shape (N, N)
        Recurrent weights.
    W : ndarray, shape (M, N)
        Linear readout of the rates ``tanh(x)``.
    output_mse : ndarray, shape (n_passes,) or (1,)
        Mean squared output error per training pass (RLS a-priori errors); for the floor a
        single value, the residual of the least-squares readout fit.
    """

    J: np.ndarray
    W: np.ndarray
    output_mse: np.ndarray


@dataclass(frozen=True)
class Evaluation:
    """Free-running behaviour of a task network.

    Attributes
    ----------
    r2_clean : float
        R^2 of the output from the clean start (x = 0), mean over muscles (see
        :func:`r_squared`).
    r2_noisy : float
        Mean over the noisy starts of their R^2.
    r2_noisy_starts : ndarray, shape (n_noisy_starts,)
        R^2 of each noisy start.
    rates : ndarray, shape (C, T, N)
        ``tanh(x)`` from the clean start over the movement window, on the target grid.
    output : ndarray, shape (C, T, M)
        ``W tanh(x)`` from the clean start over the movement window.
    """

    r2_clean: float
    r2_noisy: float
    r2_noisy_starts: np.ndarray
    rates: np.ndarray
    output: np.ndarray


# ----------------------------------------------------------------------------------------------
# targets


def scale_hints(rates: np.ndarray) -> np.ndarray:
    """Hint targets from observed rates: per unit, subtract the mean, scale max |dev| to 1.

    Parameters
    ----------
    rates : ndarray, shape (C, T, K)
        Observed firing rates (Hz) of K units over C conditions and T bins.

    Returns
    -------
    ndarray, shape (C, T, K)
        Dimensionless hints; each unit has zero mean over conditions and time and maximal
        absolute value 1. A unit that is constant becomes all zeros.
    """
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 3:
        raise ValueError(f"rates must have shape (C, T, K), got shape {rates.shape}")
    if not np.all(np.isfinite(rates)):
        raise ValueError("rates must be finite")
    dev = rates - rates.mean(axis=(0, 1), keepdims=True)
    peak = np.abs(dev).max(axis=(0, 1), keepdims=True)
    return np.divide(dev, peak, out=np.zeros_like(dev), where=peak > 0)


def r_squared(output: np.ndarray, target: np.ndarray) -> float:
    """Coefficient of determination, mean over output channels.

    For each channel m, ``R^2_m = 1 - sum (z - f)^2 / sum (f - mean f)^2`` with sums and mean
    over conditions and time; the value returned is the mean over channels.

    Parameters
    ----------
    output, target : ndarray, shape (C, T, M)

    Returns
    -------
    float
    """
    output = np.asarray(output, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if output.shape != target.shape or target.ndim != 3:
        raise ValueError(
            f"output and target must both have shape (C, T, M), got {output.shape} and "
            f"{target.shape}"
        )
    sse = ((output - target) ** 2).sum(axis=(0, 1))
    sst = ((target - target.mean(axis=(0, 1), keepdims=True)) ** 2).sum(axis=(0, 1))
    if np.any(sst <= 0):
        raise ValueError("every target channel must vary over conditions and time")
    return float(np.mean(1.0 - sse / sst))


def _trial_targets(f: np.ndarray, n_prep: int) -> np.ndarray:
    """Targets over a whole trial, shape (C, n_prep + T, D): held at bin 0 during prep."""
    held = np.repeat(f[:, :1, :], n_prep, axis=1)
    return np.concatenate([held, f], axis=1)


# ----------------------------------------------------------------------------------------------
# shared draws


def draw_shared(
    task: Task,
    n_out: int,
    n_hint: int,
    params: ForceParams,
    rng: np.random.Generator,
) -> SharedDraws:
    """Draw the random quantities every model of one run shares (:class:`SharedDraws`).

    Each quantity comes from its own child generator (``rng.spawn``, in the fixed order
    J_D, u_in, u_out, u_hint, init_states, order, eval_noise), so no draw depends on another
    quantity's size: in particular J_D, u_in, u_out, the initial states, orders and evaluation
    noise are identical whatever ``n_hint`` is (the draws of the models without hints do not
    depend on whether hints exist), and J_D does not depend on the task or the number of
    outputs either. ``u_in`` has one column per input channel of the task's encoding (for a
    one-hot input one per direction); an angle input draws its three columns from the same
    stream, so no other draw depends on the encoding. The hint weights are drawn unit by unit
    (``u_hint[:, k]`` is the k-th block of N draws), so a hint unit's weights do not depend on
    how many hint units there are, and they scale with ``hint_gain`` without being redrawn.

    Parameters
    ----------
    task : Task
        Gives the training directions (initial states and orders), the directions (evaluation
        noise) and the input channels (``u_in``).
    n_out : int
        Trained outputs M (observed muscles).
    n_hint : int
        Hint units K: every SOC neuron, of which a hinted model uses the observed ones
        (:meth:`SharedDraws.with_hint_units`); 0 for none.
    params : ForceParams
    rng : numpy.random.Generator
        Must support ``spawn`` (e.g. ``numpy.random.default_rng(seed_sequence)``).

    Returns
    -------
    SharedDraws
    """
    if int(n_out) != n_out or n_out < 1:
        raise ValueError(f"n_out must be an integer >= 1, got {n_out}")
    if int(n_hint) != n_hint or n_hint < 0:
        raise ValueError(f"n_hint must be an integer >= 0, got {n_hint}")
    n = params.n_units
    n_train = task.training.size
    g_jd, g_in, g_out, g_hint, g_init, g_order, g_noise = rng.spawn(7)
    return SharedDraws(
        J_D=g_jd.normal(0.0, params.g / np.sqrt(n), size=(n, n)),
        u_in=g_in.uniform(-1.0, 1.0, size=(n, task.n_channels)),
        u_out=g_out.uniform(-1.0, 1.0, size=(n, n_out)),
        u_hint=params.hint_gain * g_hint.uniform(-1.0, 1.0, size=(n_hint, n)).T,
        init_states=g_init.normal(0.0, params.init_sd, size=(params.n_passes, n_train, n)),
        order=np.stack([g_order.permutation(n_train) for _ in range(params.n_passes)]),
        eval_noise=g_noise.normal(
            0.0, params.noise_sd, size=(params.n_noisy_starts, task.n_directions, n)
        ),
        training=task.training,
    )


def _check_inputs(
    f_out: np.ndarray,
    trials: Trials,
    shared: SharedDraws,
    params: ForceParams,
    f_hint: np.ndarray | None = None,
    *,
    training: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``f_out`` (and ``f_hint``) as float64, checked against the trials, the shared draw and
    the parameters; ``training`` trials must be the training directions of the draw."""
    f_out = np.asarray(f_out, dtype=np.float64)
    if f_out.ndim != 3:
        raise ValueError(f"f_out must have shape (C, T, M), got shape {f_out.shape}")
    n_cond, n_time, n_out = f_out.shape
    if n_time < 1:
        raise ValueError("f_out must have at least one time bin")
    if not np.all(np.isfinite(f_out)):
        raise ValueError("f_out must be finite")
    n = params.n_units
    if shared.J_D.shape != (n, n):
        raise ValueError(
            f"shared.J_D has shape {shared.J_D.shape}, but params.n_units={n}: draw the shared "
            "quantities with the same params"
        )
    if trials.size != n_cond:
        raise ValueError(f"f_out has {n_cond} directions but the trials have {trials.size}")
    if trials.inputs.shape != (n_cond, shared.n_channels):
        raise ValueError(
            f"the trials' inputs have shape {trials.inputs.shape}, expected "
            f"{(n_cond, shared.n_channels)} (trials, input channels of the shared draw)"
        )
    directions = trials.directions
    if directions.size and (directions.min() < 0 or directions.max() >= shared.n_directions):
        raise ValueError(
            f"trial directions must lie in range({shared.n_directions}), got {directions}"
        )
    if training and not np.array_equal(directions, shared.training):
        raise ValueError(
            f"training trials must be the {shared.n_training} training directions "
            f"{shared.training.tolist()} the shared draw was made for, got {directions.tolist()}"
        )
    if shared.n_out != n_out:
        raise ValueError(f"f_out has {n_out} outputs but shared was drawn for {shared.n_out}")
    if shared.init_states.shape != (params.n_passes, shared.n_training, n):
        raise ValueError(
            f"shared.init_states has shape {shared.init_states.shape}, expected "
            f"{(params.n_passes, shared.n_training, n)} (n_passes, C_train, N) from params"
        )
    if shared.eval_noise.shape != (params.n_noisy_starts, shared.n_directions, n):
        raise ValueError(
            f"shared.eval_noise has shape {shared.eval_noise.shape}, expected "
            f"{(params.n_noisy_starts, shared.n_directions, n)} (n_noisy_starts, C, N) from "
            "params"
        )
    if f_hint is None:
        return f_out, None
    f_hint = np.asarray(f_hint, dtype=np.float64)
    if f_hint.ndim != 3 or f_hint.shape[:2] != (n_cond, n_time):
        raise ValueError(
            f"f_hint must have shape (C, T, K) = ({n_cond}, {n_time}, K) like f_out, got "
            f"shape {f_hint.shape}"
        )
    if f_hint.shape[2] != shared.n_hint:
        raise ValueError(
            f"f_hint has {f_hint.shape[2]} hint channels but shared was drawn for {shared.n_hint}"
        )
    if not np.all(np.isfinite(f_hint)):
        raise ValueError("f_hint must be finite")
    return f_out, f_hint


# ----------------------------------------------------------------------------------------------
# recursive least squares


def new_rls(n_inputs: int, weights: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Buffers for :func:`rls_step`: the inverse correlation ``P0 = I / alpha`` and a C-ordered
    weight copy.

    Parameters
    ----------
    n_inputs : int
        Length n of the regressor vector.
    weights : ndarray, shape (n_out, n)
        Initial weights (all readouts that share P stacked as rows).
    alpha : float
        Regulariser, > 0.

    Returns
    -------
    inv_corr : ndarray, shape (n, n), Fortran order
        The inverse correlation matrix P; only its upper triangle is kept up to date.
    weights : ndarray, shape (n_out, n), C order
        Weights, updated in place by :func:`rls_step`.
    """
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    inv_corr = np.asfortranarray(np.eye(n_inputs) / alpha)
    A = np.array(weights, dtype=np.float64, order="C", copy=True)
    if A.ndim != 2 or A.shape[1] != n_inputs:
        raise ValueError(f"weights must have shape (n_out, {n_inputs}), got {A.shape}")
    return inv_corr, A


def rls_step(
    inv_corr: np.ndarray, A: np.ndarray, r: np.ndarray, err: np.ndarray, k: np.ndarray
) -> float:
    """One recursive-least-squares update, in place, with no temporaries.

    With the inverse correlation ``P``, ``k = P r`` and the gain ``g = 1 / (1 + r.k)``:
    ``P <- P - g k k^T`` and ``A <- A - g err k^T``, where ``err = A r - target`` is the
    a-priori error the caller computed with the weights before this update. Starting from
    ``P0 = I / alpha``, the weights after samples ``(r_i, y_i)`` equal the ridge solution of
    those samples (with the initial weights as prior mean).

    Parameters
    ----------
    inv_corr : ndarray, shape (n, n), float64, Fortran order
        Symmetric inverse correlation matrix P; only the upper triangle is read and written.
    A : ndarray, shape (n_out, n), float64, C order
        Weights (rows share P), overwritten. (BLAS sees ``A.T``, which is Fortran-ordered, so
        ``dger`` updates it in place.)
    r : ndarray, shape (n,), float64, contiguous
        Regressor.
    err : ndarray, shape (n_out,), float64, contiguous
        A-priori error ``A r - target``.
    k : ndarray, shape (n,), float64, contiguous
        Work buffer, overwritten with ``P r`` (before the update).

    Returns
    -------
    float
        The gain ``g``, in (0, 1] while P stays positive definite.
    """
    if not (inv_corr.flags.f_contiguous and A.flags.c_contiguous):
        # f2py would silently update a copy: refuse rather than return unchanged weights
        raise ValueError("rls_step needs inv_corr in Fortran order and A in C order")
    dsymv(1.0, inv_corr, r, 0.0, k, overwrite_y=1)  # k = P r   (upper triangle of P)
    gain = 1.0 / (1.0 + r @ k)
    dsyr(-gain, k, a=inv_corr, overwrite_a=1)  # P -= g k k^T (upper triangle)
    dger(-gain, k, err, a=A.T, overwrite_a=1)  # A^T -= g k err^T, i.e. A -= g err k^T
    return gain


# ----------------------------------------------------------------------------------------------
# training


def _diverged(what: str, p: int, condition: int, s: int) -> TrainingDiverged:
    return TrainingDiverged(f"{what} in pass {p}, condition {condition}, step {s} (0-based)")


def _rls_targets(
    f_out: np.ndarray, f_hint: np.ndarray | None, shared: SharedDraws, n_prep: int
) -> np.ndarray:
    """Per-condition targets of the stacked weights ``A = [J ; W]``, minus the teacher's
    recurrent input ``JD rD`` (added step by step in the loop).

    Returns
    -------
    ndarray, shape (C, n_prep + T, N + M)
        ``[u_out f_out (+ u_hint f_hint) ; f_out]`` of every step of a trial, targets held at
        their first value during preparation.
    """
    n_cond, n_time, n_out = f_out.shape
    n = shared.n_units
    fo = _trial_targets(f_out, n_prep)  # (C, S, M)
    targets = np.empty((n_cond, n_prep + n_time, n + n_out))
    targets[:, :, :n] = fo @ shared.u_out.T
    if f_hint is not None:
        targets[:, :, :n] += _trial_targets(f_hint, n_prep) @ shared.u_hint.T
    targets[:, :, n:] = fo
    return targets


def _rls_pass(
    p: int,
    inv_corr: np.ndarray,
    A: np.ndarray,
    targets: np.ndarray,
    drive: np.ndarray,
    shared: SharedDraws,
    params: ForceParams,
    n_prep: int,
) -> tuple[float, float]:
    """Pass ``p`` of :func:`train` over every training direction, updating ``inv_corr`` and
    ``A`` in place; returns the summed squared a-priori errors of the outputs and of the
    recurrent targets. ``drive`` (C_train, N) is each direction's input ``u_in f_in``.

    This is the hot loop (N^2 work per step, in BLAS calls on preallocated buffers), kept as one
    loop so that nothing allocates or dispatches per step; it is therefore longer than the
    library's other functions.
    """
    n = params.n_units
    n_steps = targets.shape[1]
    a = params.leak
    decay = 1.0 - a
    J_D_T = np.array(shared.J_D, order="C").T  # Fortran-ordered J_D^T: BLAS gemv with trans
    a_u_in = a * drive  # (C_train, N): a * u_in f_in during prep
    A_T = A.T
    x, xD, r, rD, k = (np.empty(n) for _ in range(5))
    y = np.empty(targets.shape[2])  # A r = [J r ; W r]
    tgt = np.empty_like(y)  # [JD rD + u_out f_out (+ u_hint f_hint) ; f_out]
    err = np.empty_like(y)
    y_J, tgt_J, err_W = y[:n], tgt[:n], err[n:]
    state_limit = n * params.divergence_threshold**2  # on x.x: RMS above threshold
    sse_out = sse_rec = 0.0
    for condition in shared.order[p]:
        condition = int(condition)
        targets_c = targets[condition]
        a_u_in_c = a_u_in[condition]
        x[:] = shared.init_states[p, condition]
        xD[:] = x
        for s in range(n_steps):
            np.tanh(xD, out=rD)
            np.tanh(x, out=r)
            np.copyto(tgt, targets_c[s])
            dgemv(1.0, J_D_T, rD, 1.0, tgt_J, trans=1, overwrite_y=1)  # tgt_J += JD rD
            dgemv(1.0, A_T, r, 0.0, y, trans=1, overwrite_y=1)  # y = A r = [J r ; W r]
            np.subtract(y, tgt, out=err)
            # Euler steps: xD += a (-xD + tgt_J + u_in f_in); x += a (-x + J r + u_in f_in)
            xD *= decay
            daxpy(tgt_J, xD, a=a)
            x *= decay
            daxpy(y_J, x, a=a)
            if s < n_prep:
                xD += a_u_in_c
                x += a_u_in_c
            e_out = err_W @ err_W
            e_all = err @ err
            sse_out += e_out
            sse_rec += e_all - e_out
            gain = rls_step(inv_corr, A, r, err, k)
            if not (x @ x < state_limit and xD @ xD < state_limit):
                raise _diverged(
                    "task or target-generating network state exceeded the divergence "
                    f"threshold (RMS > {params.divergence_threshold:g}) or became non-finite",
                    p,
                    condition,
                    s,
                )
            if not (e_all < np.inf and 0.0 < gain <= 1.0 + 1e-6):
                raise _diverged(
                    f"RLS update broke down (error energy {e_all:.3g}, gain {gain:.3g})",
                    p,
                    condition,
                    s,
                )
        _check_weights(A, params, p, condition, n_steps - 1)
    return sse_out, sse_rec


def _check_weights(A: np.ndarray, params: ForceParams, p: int, condition: int, s: int) -> None:
    """Raise :class:`TrainingDiverged` if a weight reached the divergence threshold."""
    a_max = max(A.max(), -A.min())
    if not a_max < params.divergence_threshold:
        raise _diverged(
            f"weights exceeded the divergence threshold ({a_max:.3g} > "
            f"{params.divergence_threshold:g}) or became non-finite",
            p,
            condition,
            s,
        )


def _drive(trials: Trials, shared: SharedDraws) -> np.ndarray:
    """Each trial's input ``u_in f_in`` during the preparatory period, shape (B, N)."""
    return trials.inputs @ shared.u_in.T


def train(
    f_out: np.ndarray,
    trials: Trials,
    shared: SharedDraws,
    params: ForceParams,
    f_hint: np.ndarray | None = None,
) -> Network:
    """Train a task network with full-FORCE (FF), or with hints (FFH) if ``f_hint`` is given.

    For every trial (pass p, training direction ``i = shared.order[p, j]``) teacher and task
    network start from ``shared.init_states[p, i]`` and receive the direction's input during
    the preparatory period; on every step J and W (sharing one inverse correlation matrix) are
    updated by :func:`rls_step` towards ``J r ~ JD rD + u_out f_out (+ u_hint f_hint)`` and
    ``W r ~ f_out``.

    Parameters
    ----------
    f_out : ndarray, shape (C_train, T, M)
        Output targets on the ``dt_ms`` grid over the task's window (observed EMG), one row per
        training direction in the order of ``trials``.
    trials : Trials
        The training directions (:meth:`hintforce.task.Task.trials` of the task's training
        directions): their inputs and the preparatory steps.
    shared : SharedDraws
        The run's shared draws (:func:`draw_shared` with the same ``params`` and task).
    params : ForceParams
    f_hint : ndarray, shape (C_train, T, K), optional
        Hint targets (:func:`scale_hints` of observed rates). None trains FF.

    Returns
    -------
    Network

    Raises
    ------
    TrainingDiverged
        If a state's RMS or a weight exceeds ``params.divergence_threshold``, or anything
        becomes non-finite; the message names the pass, condition and step (0-based).
    ValueError
        On inconsistent shapes or non-finite targets.
    """
    f_out, f_hint = _check_inputs(f_out, trials, shared, params, f_hint, training=True)
    n_cond, n_time, n_out = f_out.shape
    n = params.n_units
    n_prep = trials.n_prep
    n_steps = n_prep + n_time
    targets = _rls_targets(f_out, f_hint, shared, n_prep)
    drive = _drive(trials, shared)
    inv_corr, A = new_rls(n, np.concatenate([shared.J_D, np.zeros((n_out, n))]), params.alpha)
    kind = "FF" if f_hint is None else f"FFH ({f_hint.shape[2]} hints)"
    logger.info(
        "full-FORCE %s: N=%d, %d directions x %d steps (%d prep), %d outputs, %d passes",
        kind,
        n,
        n_cond,
        n_steps,
        n_prep,
        n_out,
        params.n_passes,
    )
    output_mse = np.zeros(params.n_passes)
    for p in range(params.n_passes):
        sse_out, sse_rec = _rls_pass(p, inv_corr, A, targets, drive, shared, params, n_prep)
        output_mse[p] = sse_out / (n_cond * n_steps * n_out)
        logger.info(
            "full-FORCE %s pass %d/%d: output MSE %.4g, recurrent MSE %.4g",
            kind,
            p + 1,
            params.n_passes,
            output_mse[p],
            sse_rec / (n_cond * n_steps * n),
        )
    return Network(J=A[:n].copy(), W=A[n:].copy(), output_mse=output_mse)


# ----------------------------------------------------------------------------------------------
# free runs, floor, evaluation


def _free_run(
    J: np.ndarray,
    drive: np.ndarray,
    x0: np.ndarray,
    n_prep: int,
    n_time: int,
    params: ForceParams,
    states: np.ndarray | None = None,
) -> np.ndarray:
    """Run the task network freely (no learning) over whole trials.

    Parameters
    ----------
    J : ndarray, shape (N, N)
    drive : ndarray, shape (B, N)
        Input ``u_in f_in`` of each run during the preparatory period.
    x0 : ndarray, shape (B, N)
        Initial states of B independent runs.
    n_prep : int
        Preparatory steps.
    n_time : int
        Bins T of the window after them.
    states : ndarray, shape (B, n_prep + T, N), optional
        Filled with the state ``x_s`` of every step (``rates[:, s] = tanh(states[:, s])``).

    Returns
    -------
    ndarray, shape (B, n_prep + T, N)
        Rates ``tanh(x_s)`` of every step of the trial.
    """
    a = params.leak
    inp = a * drive  # (B, N)
    x = np.array(x0, dtype=np.float64, copy=True)
    rates = np.empty((x.shape[0], n_prep + n_time, x.shape[1]))
    JT = np.ascontiguousarray(J.T)
    for s in range(n_prep + n_time):
        if states is not None:
            states[:, s] = x
        r = np.tanh(x, out=rates[:, s])
        x *= 1.0 - a
        x += a * (r @ JT)
        if s < n_prep:
            x += inp
    limit = params.divergence_threshold
    if not np.all(np.isfinite(rates)) or not np.sqrt(np.mean(x**2, axis=1)).max() < limit:
        raise TrainingDiverged(
            f"free run diverged: state RMS above {limit:g} or non-finite at the end of the "
            f"trial (step {n_prep + n_time - 1})"
        )
    return rates


def trajectory(
    net: Network, trials: Trials, shared: SharedDraws, n_steps: int, params: ForceParams
) -> np.ndarray:
    """States of a task network run freely from the clean start ``x = 0``: the preparatory
    period (input on), then ``n_steps`` steps with the input off (the window and beyond).

    The rates ``tanh`` of the states over the window are bit-identical to
    :attr:`Evaluation.rates` (one code path).

    Parameters
    ----------
    net : Network
    trials : Trials
    shared : SharedDraws
        Gives the input weights (the draw the network was trained with).
    n_steps : int
        Steps after the preparatory period, >= 1.
    params : ForceParams

    Returns
    -------
    ndarray, shape (B, n_prep + n_steps, N)
        The state ``x_s`` of every step.
    """
    check_integer("n_steps", n_steps)
    n = params.n_units
    if net.J.shape != (n, n) or shared.n_units != n:
        raise ValueError(
            f"network J {net.J.shape} and shared draw ({shared.n_units} units) must have "
            f"params.n_units={n}"
        )
    states = np.empty((trials.size, trials.n_prep + n_steps, n))
    x0 = np.zeros((trials.size, n))
    _free_run(net.J, _drive(trials, shared), x0, trials.n_prep, n_steps, params, states)
    return states


def fit_floor(
    f_out: np.ndarray, trials: Trials, shared: SharedDraws, params: ForceParams
) -> Network:
    """The floor: the untrained task network (J = JD) with a least-squares readout.

    The untrained network is run freely over the same training trials as :func:`train`
    (every pass and training direction, from ``shared.init_states``, targets held during prep)
    and ``W = F^T R (R^T R + alpha I)^-1`` is fitted on its rates R: exactly what the RLS
    readout of :func:`train` would converge to if J were not learned.

    Parameters
    ----------
    f_out : ndarray, shape (C_train, T, M)
    trials : Trials
        The training directions, as for :func:`train`.
    shared : SharedDraws
    params : ForceParams

    Returns
    -------
    Network
        ``J = JD``; ``output_mse`` holds the fit residual (one value).
    """
    f_out, _ = _check_inputs(f_out, trials, shared, params, training=True)
    n_cond, n_time, n_out = f_out.shape
    n = params.n_units
    conditions = np.tile(np.arange(n_cond), params.n_passes)
    drive = _drive(trials, shared)[conditions]
    rates = _free_run(
        shared.J_D, drive, shared.init_states.reshape(-1, n), trials.n_prep, n_time, params
    )
    fo = _trial_targets(f_out, trials.n_prep)[conditions]  # (B, S, M)
    R = rates.reshape(-1, n)
    F = fo.reshape(-1, n_out)
    gram = R.T @ R
    gram[np.diag_indices(n)] += params.alpha
    W = np.linalg.solve(gram, R.T @ F).T
    mse = float(np.mean((R @ W.T - F) ** 2))
    logger.info("floor: readout fitted on %d samples, output MSE %.4g", R.shape[0], mse)
    return Network(J=np.array(shared.J_D), W=np.ascontiguousarray(W), output_mse=np.array([mse]))


def evaluate(
    net: Network, trials: Trials, shared: SharedDraws, f_out: np.ndarray, params: ForceParams
) -> Evaluation:
    """Run a task network freely from a clean start and from noisy starts; score its output.

    The clean start is ``x = 0``; noisy start i of direction c is ``shared.eval_noise[i, c]``
    (SD ``noise_sd``). The direction's input is on during the preparatory period as in
    training; output and rates are taken over the window after it.

    Parameters
    ----------
    net : Network
    trials : Trials
        The directions to run (training or held-out ones).
    shared : SharedDraws
    f_out : ndarray, shape (B, T, M)
        Target outputs (observed EMG) over the window, one row per trial.
    params : ForceParams

    Returns
    -------
    Evaluation
    """
    f_out, _ = _check_inputs(f_out, trials, shared, params)
    n_cond, n_time, n_out = f_out.shape
    n = params.n_units
    if net.J.shape != (n, n) or net.W.shape != (n_out, n):
        raise ValueError(
            f"network has J {net.J.shape} and W {net.W.shape}, expected ({n}, {n}) and "
            f"({n_out}, {n})"
        )
    n_starts = params.n_noisy_starts
    noise = shared.eval_noise[:, trials.directions]
    x0 = np.concatenate([np.zeros((n_cond, n)), noise.reshape(-1, n)])
    drive = _drive(trials, shared)[np.tile(np.arange(n_cond), 1 + n_starts)]
    rates = _free_run(net.J, drive, x0, trials.n_prep, n_time, params)[:, trials.n_prep :]
    output = rates @ net.W.T  # (B, T, M)
    rates = rates.reshape(1 + n_starts, n_cond, n_time, n)
    output = output.reshape(1 + n_starts, n_cond, n_time, n_out)
    r2_noisy = np.array([r_squared(output[1 + i], f_out) for i in range(n_starts)])
    result = Evaluation(
        r2_clean=r_squared(output[0], f_out),
        r2_noisy=float(r2_noisy.mean()),
        r2_noisy_starts=r2_noisy,
        rates=np.ascontiguousarray(rates[0]),
        output=np.ascontiguousarray(output[0]),
    )
    logger.info(
        "evaluation of %d directions: R^2 clean %.4f, noisy %.4f",
        n_cond,
        result.r2_clean,
        result.r2_noisy,
    )
    return result


@dataclass(frozen=True)
class TaskEvaluation:
    """A trained network run on every direction of its task (:func:`evaluate_task`).

    Attributes
    ----------
    splits : dict of str to Evaluation
        ``"train"``: the training directions; ``"held_out"``: the held-out directions, present
        only when the task holds some out. Each scores its own directions' output.
    rates : ndarray, shape (C, T, N)
        Clean-start rates of every direction (in direction order) over the window.
    output : ndarray, shape (C, T, M)
        Clean-start output of every direction over the window.
    """

    splits: dict[str, Evaluation]
    rates: np.ndarray
    output: np.ndarray


#: Names of the two sets of directions of :attr:`TaskEvaluation.splits`.
TRAIN, HELD_OUT = "train", "held_out"


def _check_grid(task: Task, params: ForceParams) -> None:
    """Refuse a task whose bins are not the networks' time step."""
    if task.bin_ms != params.dt_ms:
        raise ValueError(
            f"the task's bin width {task.bin_ms:g} ms must equal the networks' dt_ms "
            f"{params.dt_ms:g} ms"
        )


def evaluate_task(
    net: Network, task: Task, shared: SharedDraws, f_out: np.ndarray, params: ForceParams
) -> TaskEvaluation:
    """Run a trained network on the task's training and held-out directions (:func:`evaluate`).

    Parameters
    ----------
    net : Network
    task : Task
    shared : SharedDraws
    f_out : ndarray, shape (C, T, M)
        Target outputs of every direction over the task's window.
    params : ForceParams

    Returns
    -------
    TaskEvaluation
    """
    _check_grid(task, params)
    f_out = np.asarray(f_out, dtype=np.float64)
    if f_out.ndim != 3 or f_out.shape[0] != task.n_directions:
        raise ValueError(
            f"f_out must have shape ({task.n_directions}, T, M): every direction of the task, "
            f"got shape {f_out.shape}"
        )
    sets = {TRAIN: task.training, HELD_OUT: task.held_out}
    splits = {
        # every direction training: f_out itself, not a copy (R^2 sums in its memory order)
        name: evaluate(
            net,
            task.trials(directions),
            shared,
            f_out if directions.size == task.n_directions else f_out[directions],
            params,
        )
        for name, directions in sets.items()
        if directions.size
    }
    if len(splits) == 1:  # every direction trains: the training evaluation is the whole task
        ev = splits[TRAIN]
        return TaskEvaluation(splits, ev.rates, ev.output)
    rates = np.empty((task.n_directions, *splits[TRAIN].rates.shape[1:]))
    output = np.empty((task.n_directions, *splits[TRAIN].output.shape[1:]))
    for name, ev in splits.items():
        rates[sets[name]] = ev.rates
        output[sets[name]] = ev.output
    return TaskEvaluation(splits, rates, output)


# ----------------------------------------------------------------------------------------------
# the study's models


@dataclass(frozen=True)
class Fit:
    """One model of one run, fitted (:func:`fit_model`).

    Attributes
    ----------
    network : Network
    shared : SharedDraws
        The draw it was trained with (for a hinted model, with the hint weights of its hint
        units): what :func:`evaluate` and :func:`evaluate_task` run it with.
    derangement : ndarray of int64, shape (C_train,), or None
        For shuffled hints, the derangement used: training direction i's teacher received the
        hints of training direction ``derangement[i]`` (indices into the training directions).
        None for the other models.
    """

    network: Network
    shared: SharedDraws
    derangement: np.ndarray | None = None


def fit_model(
    model: str,
    task: Task,
    f_out: np.ndarray,
    params: ForceParams,
    rng: np.random.Generator,
    *,
    hints: np.ndarray | None = None,
    hint_units: np.ndarray | None = None,
    n_neurons: int = 0,
    sham_rng: np.random.Generator | None = None,
) -> Fit:
    """Fit one of the study's models for one run, on the task's training directions only.

    Every model of a run calls this with a generator built from the run's seed, so all share
    ``J_D``, the input and output couplings, the hint weights and every initial state (a
    paired comparison). The draw holds hint weights for every SOC neuron; a hinted model's
    teacher uses the columns of its hint units and receives its hint kind's
    :meth:`~hintforce.hints.Hints.targets` of ``scale_hints(hints)``, so the hinted models
    differ only in the information their hints carry. Models without hints need no rates
    (their draws do not depend on the number of SOC neurons or on which are observed).

    Parameters
    ----------
    model : str
        One of :data:`hintforce.study.MODEL_NAMES`: its entry carries its
        :attr:`~hintforce.study.Model.hints` and whether it is
        :attr:`~hintforce.study.Model.trained`.
    task : Task
        Its training directions are the ones trained; its input encoding reaches the network.
    f_out : ndarray, shape (C_train, T, M)
        Observed muscles' EMG of the training directions over the task's window, on the
        network's time grid (the targets).
    params : ForceParams
    rng : numpy.random.Generator
        The run's training generator (see :func:`draw_shared`).
    hints : ndarray, shape (C_train, T, K), optional
        Rates (Hz) of the K observed neurons in the training directions over the window;
        required for hinted models, unused by the others.
    hint_units : array of int, shape (K,), optional
        Their indices among the SOC's ``n_neurons`` (which hint weights they receive).
    n_neurons : int
        SOC neurons: hint weights are drawn for each of them.
    sham_rng : numpy.random.Generator, optional
        The run's sham generator, source of the derangement of shuffled hints; required for
        them, untouched by the other models.

    Returns
    -------
    Fit
    """
    spec = study.model(model)
    _check_grid(task, params)
    f_out = np.asarray(f_out, dtype=np.float64)
    n_train = task.training.size
    if f_out.ndim != 3 or f_out.shape[0] != n_train:
        raise ValueError(
            f"f_out must have shape (C_train, T, M) with the task's {n_train} training "
            f"directions, got shape {f_out.shape}"
        )
    if spec.hinted:
        if hints is None or hint_units is None or np.size(hint_units) == 0:
            raise ValueError(f"model {model!r} receives hints: give the observed neurons")
        if (
            isinstance(n_neurons, bool)
            or not isinstance(n_neurons, int | np.integer)
            or (n_neurons < 1)
        ):
            raise ValueError(
                f"model {model!r} receives hints: n_neurons must be the SOC's number of "
                f"neurons (an integer >= 1), got {n_neurons!r}"
            )
        hint_units = _check_units(hint_units, n_neurons, "hint_units")
        hints = np.asarray(hints, dtype=np.float64)
        if hints.shape != (*f_out.shape[:2], hint_units.size):
            raise ValueError(
                f"hints must have shape (C_train, T, K) = ({n_train}, {f_out.shape[1]}, "
                f"{hint_units.size}) like f_out and hint_units, got shape {hints.shape}"
            )
    trials = task.trials(task.training)
    shared = draw_shared(task, f_out.shape[2], n_neurons, params, rng)
    f_hint = used = None
    if spec.hinted:
        f_hint, used = spec.hints.targets(scale_hints(hints), sham_rng)
        logger.info(
            "model %s: %s hints of %d of %d SOC neurons%s",
            model,
            spec.hints.name,
            hint_units.size,
            n_neurons,
            "" if used is None else f", training directions deranged as {used.tolist()}",
        )
        shared = shared.with_hint_units(hint_units)
    if spec.trained:
        network = train(f_out, trials, shared, params, f_hint)
    else:
        network = fit_floor(f_out, trials, shared, params)
    return Fit(network, shared, used)


def restore(
    model: str,
    task: Task,
    params: ForceParams,
    rng: np.random.Generator,
    network: Network,
    *,
    n_out: int,
    n_neurons: int,
    hint_units: np.ndarray | None = None,
) -> Fit:
    """A fitted model rebuilt from its stored weights: the run's shared draw is drawn again
    from the run's training generator, as :func:`fit_model` drew it, so
    :func:`evaluate_task` and :func:`trajectory` rerun the model bit-identically.

    Parameters
    ----------
    model : str
        One of :data:`hintforce.study.MODEL_NAMES`.
    task : Task
    params : ForceParams
    rng : numpy.random.Generator
        A fresh copy of the run's training generator.
    network : Network
        The stored weights ``J`` and ``W``.
    n_out : int
        Observed muscles.
    n_neurons : int
        SOC neurons (hint weights are drawn for each).
    hint_units : array of int, optional
        A hinted model's hint units (its observed neurons).

    Returns
    -------
    Fit
        Without the derangement (which the evaluation does not need).
    """
    shared = draw_shared(task, n_out, n_neurons, params, rng)
    if study.model(model).hinted:
        if hint_units is None:
            raise ValueError(f"model {model!r} receives hints: give its hint units")
        shared = shared.with_hint_units(hint_units)
    n = params.n_units
    if network.J.shape != (n, n) or network.W.shape != (n_out, n):
        raise ValueError(
            f"stored J {network.J.shape} and W {network.W.shape} do not match "
            f"({n}, {n}) and ({n_out}, {n})"
        )
    return Fit(network, shared)
