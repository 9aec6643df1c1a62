"""Realistic recordings: spike trains, PSTHs, noisy EMG, co-smoothing scores and NWB files.

Without this module the experimenter "records" the exact firing rates of the observed neurons;
here the recording is what an electrophysiologist would have instead.

Conventions
-----------
Rates are given on a grid of ``bin_ms`` (10 ms in the pipeline): sample ``t`` of a trial is the
rate over the bin ``[t * bin_ms, (t + 1) * bin_ms)`` ms of the trial's window (the movement,
optionally followed by a rest window), which is ``n_ms = n_times * bin_ms`` ms long. Arrays are
(condition, time, neuron); trial-resolved arrays are (condition, trial, time, neuron). The
conditions are reach directions whose angles the caller gives.

Spikes (:func:`draw_spikes`)
----------------------------
Each neuron fires as an inhomogeneous Poisson process at 1 ms resolution with the rate ``r``
(Hz) piecewise constant within each bin: the count in 1 ms sub-bin ``i`` of bin ``t`` is
``Poisson(r_t * 1e-3)``, independent across sub-bins, bins, trials, conditions and neurons. It
is drawn exactly this way in two steps: the count of bin ``t``, ``N ~ Poisson(lam)`` with
``lam = r_t * bin_ms * 1e-3``, then every spike placed independently and uniformly in one of
the bin's ``m = bin_ms`` sub-bins (a multinomial split). The two are the same distribution::

    P(n_1, ..., n_m) = e^-lam lam^N / N! * N! / (n_1! ... n_m!) * m^-N
                     = prod_i e^(-lam/m) (lam/m)^n_i / n_i!         (N = n_1 + ... + n_m),

the law of ``m`` independent ``Poisson(lam / m)`` counts. A spike in sub-bin ``i`` (ms
``i``, ``0 <= i < n_ms``, of the trial) has the time ``i + 0.5`` ms, the sub-bin's centre, so
that re-binning spike times never depends on rounding. :class:`Spikes` holds the 1 ms counts.

Randomness: one generator per neuron (the caller derives each from the neuron's index, so a
neuron's spikes do not depend on which other neurons are recorded). Neuron ``k`` draws only from
``rngs[k]``, in this order: (1) one ``integers(2**63)`` value ``v``, which seeds the neuron's
sub-bin generator ``numpy.random.default_rng(v)``; (2) one ``poisson`` call of shape
``(n_trials, n_conditions, n_times)``, trial-major (the bin counts); (3) from the sub-bin
generator, one ``integers(0, bin_ms)`` call with one value per spike (its sub-bin), the spikes
ordered by trial, condition, then bin. Both streams are consumed trial by trial, so the first
``n`` trials of a draw of more trials are the draw of ``n`` trials.

PSTH (:func:`psth`)
-------------------
The trial-average count per 1 ms, ``nbar_i``, smoothed by a Gaussian of sd ``s =
smoothing_ms`` (30 ms by default, as the Neural Latents Benchmark's MC_Maze PSTHs) that is
renormalised over the samples inside the window (not truncated otherwise)::

    y_i = sum_j g(i - j) nbar_j / sum_j g(i - j),   g(d) = exp(-d^2 / (2 s^2)),  0 <= i, j < n_ms

so that a constant rate gives a constant PSTH, then averaged over each bin of the ``bin_ms``
grid and expressed in Hz: ``PSTH_t = 1000 / bin_ms * sum_{i in bin t} y_i``. The operator is
linear, so smoothing each trial and then averaging is the same as averaging and then smoothing.

Trial halves (:func:`trial_halves`): the first ``floor(n / 2)`` trials and the remaining
``ceil(n / 2)``. Trials are independent draws given the rates, so contiguous halves are as good
as random ones. Odd counts are allowed: the second half then has one trial more (its PSTH's
noise variance is smaller by the factor ``floor(n/2) / ceil(n/2)``, a small asymmetry of the
split-half reliability), whereas refusing them would forbid half the trial counts a study might
sweep. At least 2 trials are needed.

Recorded EMG (:func:`record_emg`)
----------------------------------
EMG is normalised to a peak of 1. The recorded EMG of condition ``c`` is ``EMG_c(t) + e``,
``e ~ N(0, noise_sd^2)`` independent across bins, muscles and conditions (white additive noise
in units of the peak, not rectified, so it biases nothing), drawn once per run seed. It models
the error of the trial-averaged EMG envelope an experimenter trains on (electrode, crosstalk
and normalisation error), which does not shrink with the number of neural trials: so the
models without hints, whose only data is the EMG, depend on no recording axis. ``noise_sd = 0``
(the default) gives the exact EMG without drawing.

Bits per spike (:func:`bits_per_spike`)
---------------------------------------
The co-smoothing score of the Neural Latents Benchmark. With the Poisson negative
log-likelihood ``NLL(lam) = sum (lam - y log lam)`` summed over all samples and neurons (the
``log y!`` terms cancel in the difference)::

    bits/spike = (NLL(lam_null) - NLL(lam_model)) / (n_spikes * ln 2),

``lam_null`` predicting each neuron's mean count per bin over the evaluation data. The null
scores 0; a model that predicts worse than the neurons' mean rates scores below 0.

Co-smoothing (:func:`co_smoothing`, :func:`smoothing_baseline`)
---------------------------------------------------------------
Features ``x`` (per condition and bin, or per trial and bin) are z-scored with the mean and sd
(ddof 0) of the fit samples (a feature of zero sd is only centred), so that the penalty weighs
every model's features alike. Each held-out neuron's count per bin is regressed on them by
Poisson regression with a log link, ``lam = exp(b + w . z)`` (scikit-learn's
``PoissonRegressor``, Newton-Cholesky solver), minimising::

    1 / (2 sum_i v_i) * sum_i v_i deviance(y_i, lam_i) + alpha / 2 * |w|^2,

with ``alpha = 0.01`` by default (the value of the Neural Latents Benchmark's smoothing baseline
for MC_Maze). For trial-invariant features (:func:`co_smoothing`) the fit uses the trial-mean
count ``ybar_s`` of each sample ``s`` with weight ``v_s = n_fit_trials``: since ``lam_s`` is the
same on every trial, ``sum_r deviance(y_rs, lam_s) = n deviance(ybar_s, lam_s) + const``, so the
objective differs from fitting every trial only by a constant and has the same minimiser. The
score is the bits per spike of the predictions on the evaluation trials, all held-out neurons
together. The smoothing baseline (:func:`smoothing_baseline`) uses as features the logarithm of
each trial's held-in spikes smoothed by the PSTH kernel (per trial, not trial-averaged), in
spikes per bin, plus ``1e-4``, as the benchmark's baseline does.

Held-out neurons (:func:`split_held_out`): the last ``round(held_out_fraction * K)`` of the ``K``
recorded neurons in recording order are held out of the hints and scored by co-smoothing, the
rest are hints; for one recording, a larger fraction's held-out set contains a smaller one's.

NWB (:func:`nwb_file`)
----------------------
One session: trial ``r`` of condition ``c`` is session trial ``i = r * n_conditions + c``
(every condition once per block, in order), starting at ``i * (n_ms + inter_trial_ms)`` ms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from scipy.sparse import csr_matrix
from scipy.special import xlogy

from hintforce import study
from hintforce._validate import check_integer, check_number

__all__ = [
    "Recording",
    "RecordingParams",
    "Spikes",
    "bits_per_spike",
    "co_smoothing",
    "draw_spikes",
    "nwb_file",
    "psth",
    "record_emg",
    "record_neurons",
    "score_models",
    "smoothing_baseline",
    "split_held_out",
    "trial_halves",
]


@dataclass(frozen=True)
class RecordingParams:
    """Parameters of the recording (names as in the config's ``recording`` section).

    Attributes
    ----------
    n_trials : int or None
        Trials per condition. None (the default) records the exact rates and EMG; otherwise an
        integer >= 1 (>= 2 where trial halves are needed).
    smoothing_ms : float
        Sd of the Gaussian kernel of the PSTHs and of the smoothing baseline, ms (30, the
        Neural Latents Benchmark's MC_Maze PSTHs).
    emg_noise : float
        Sd of the additive Gaussian noise of each bin of the recorded EMG, in units of the
        EMG's peak (EMG is normalised to peak 1), independent of ``n_trials``; 0 records the
        exact EMG.
    held_out_fraction : float
        Fraction of the recorded neurons held out of the hints and scored by co-smoothing, in
        (0, 1). 0.2 (12 of the 60 neurons recorded at the default observation) keeps most
        recorded neurons as hints while scoring a dozen; the benchmark's MC_Maze holds out
        about a quarter.
    alpha : float
        L2 penalty of the co-smoothing Poisson regressions on z-scored features, >= 0 (0.01,
        the benchmark's smoothing baseline for MC_Maze).
    n_pcs : int
        A model's features for co-smoothing: its top ``n_pcs`` principal components, >= 1
        (10, the study's largest default ``k``: the subspace its similarity compares).
    """

    n_trials: int | None = None
    smoothing_ms: float = 30.0
    emg_noise: float = 0.0
    held_out_fraction: float = 0.2
    alpha: float = 0.01
    n_pcs: int = 10

    def __post_init__(self) -> None:
        if self.n_trials is not None and (
            isinstance(self.n_trials, bool)
            or not isinstance(self.n_trials, int | np.integer)
            or self.n_trials < 2
        ):
            raise ValueError(
                f"recording.n_trials must be an integer >= 2 (the trials are split in two "
                f"halves: the trial-split ceiling and co-smoothing's fit and test trials) or "
                f"unset for exact rates, got {self.n_trials!r}"
            )
        check_number("recording.smoothing_ms", self.smoothing_ms, 0)
        check_number("recording.emg_noise", self.emg_noise, 0, low_open=False)
        check_number("recording.held_out_fraction", self.held_out_fraction, 0, 1)
        check_number("recording.alpha", self.alpha, 0, low_open=False)
        check_integer("recording.n_pcs", self.n_pcs)
        if self.n_trials is None and self.emg_noise > 0:
            raise ValueError(
                f"recording.emg_noise={self.emg_noise!r} needs a spike recording: set "
                "recording.n_trials (or sweep.n_trials), or set emg_noise to 0"
            )

    @property
    def spikes(self) -> bool:
        """Whether the recording draws spikes (else it is the exact rates and EMG)."""
        return self.n_trials is not None


@dataclass(frozen=True)
class Spikes:
    """Spike trains of the recorded neurons, as counts per 1 ms.

    Attributes
    ----------
    counts : ndarray of uint8, shape (n_conditions, n_trials, n_ms, n_neurons)
        ``counts[c, r, i, k]`` is the number of spikes of neuron ``k`` in ms ``[i, i + 1)`` of
        trial ``r`` of condition ``c``; each such spike has the time ``i + 0.5`` ms. Read-only.
    """

    counts: np.ndarray

    def __post_init__(self) -> None:
        arr = np.asarray(self.counts)
        if arr.ndim != 4 or not (arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(
                "counts must be a 4-D integer array (condition, trial, ms, neuron), "
                f"got dtype {arr.dtype} and shape {arr.shape}"
            )
        if arr.dtype != np.uint8:
            if arr.size and (arr.min() < 0 or arr.max() > 255):
                raise ValueError(f"counts must lie in [0, 255], got [{arr.min()}, {arr.max()}]")
            arr = arr.astype(np.uint8)
        elif arr.flags.writeable:  # a read-only uint8 array is kept as it is
            arr = arr.copy()
        arr.flags.writeable = False
        object.__setattr__(self, "counts", arr)

    @property
    def n_conditions(self) -> int:
        return self.counts.shape[0]

    @property
    def n_trials(self) -> int:
        return self.counts.shape[1]

    @property
    def n_ms(self) -> int:
        """Length of the trial window, ms."""
        return self.counts.shape[2]

    @property
    def n_neurons(self) -> int:
        return self.counts.shape[3]

    def select(self, trials=None, neurons=None) -> Spikes:
        """The spikes of some trials (of every condition) and/or some neurons.

        Parameters
        ----------
        trials, neurons : array of int or None
            Indices along the trial or neuron axis, in the order wanted; None keeps all.
        """
        counts = self.counts
        if trials is not None:
            idx = _indices(trials, self.n_trials, "trials")
            if idx.size and np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)):
                counts = counts[:, idx[0] : idx[0] + idx.size]  # a read-only view, not a copy
            else:
                counts = counts[:, idx]
        if neurons is not None:
            counts = counts[..., _indices(neurons, self.n_neurons, "neurons")]
        return Spikes(counts)

    def binned(self, width_ms: int) -> np.ndarray:
        """Spike counts per bin of ``width_ms``.

        Parameters
        ----------
        width_ms : int
            Bin width, ms; must divide :attr:`n_ms`.

        Returns
        -------
        ndarray of int64, shape (n_conditions, n_trials, n_ms // width_ms, n_neurons)
            Count in bin ``[b * width_ms, (b + 1) * width_ms)`` ms of each trial.
        """
        n_bins = _n_bins(self.n_ms, width_ms, "width_ms")
        c, r, _, k = self.counts.shape
        return self.counts.reshape(c, r, n_bins, width_ms, k).sum(axis=3, dtype=np.int64)

    def spike_times_ms(self, condition: int, trial: int, neuron: int) -> np.ndarray:
        """Spike times of one trial of one neuron, ms within the trial, ascending.

        Returns
        -------
        ndarray, shape (n_spikes,)
            ``i + 0.5`` for each spike in ms ``i`` (repeated when a ms holds several spikes).
        """
        column = self.counts[condition, trial, :, neuron]
        ms = np.flatnonzero(column)
        return np.repeat(ms, column[ms]) + 0.5

    def events(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every spike as (condition, trial, neuron, time), one entry per spike.

        Returns
        -------
        condition, trial, neuron : ndarray of int64, shape (n_spikes,)
        time_ms : ndarray, shape (n_spikes,)
            Time within the trial, ms (``i + 0.5`` for ms ``i``).
            Ordered by condition, trial, time, then neuron.
        """
        flat = self.counts.reshape(-1)
        where = np.flatnonzero(flat)
        where = np.repeat(where, flat[where])
        c, r, i, k = np.unravel_index(where, self.counts.shape)
        return c, r, k, i + 0.5


def _indices(values, n: int, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be a 1-D array of integer indices, got {values!r}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise ValueError(f"{name} must lie in range({n}), got {values!r}")
    return arr


def _n_bins(n_ms: int, width_ms: int, name: str) -> int:
    check_integer(name, width_ms)
    if n_ms % width_ms:
        raise ValueError(f"{name} must divide the window of {n_ms} ms, got {width_ms!r}")
    return n_ms // int(width_ms)


def draw_spikes(
    rates_hz: np.ndarray, bin_ms: int, n_trials: int, rngs: Sequence[np.random.Generator]
) -> Spikes:
    """Draw ``n_trials`` Poisson spike trains per condition and neuron.

    The rate is piecewise constant within each bin; counts per 1 ms are independent
    ``Poisson(rate * 1e-3)``, drawn as a Poisson count per bin split uniformly over the bin's
    1 ms sub-bins (exactly equivalent; see the module docstring, which also gives the order of
    the draws).

    Parameters
    ----------
    rates_hz : ndarray, shape (n_conditions, n_times, n_neurons), Hz
        Firing rates on the ``bin_ms`` grid, finite and >= 0.
    bin_ms : int
        Width of a rate bin, ms (10 in the pipeline).
    n_trials : int
        Trials per condition, >= 1.
    rngs : sequence of numpy.random.Generator, length n_neurons
        One generator per neuron; neuron ``k`` draws only from ``rngs[k]``.

    Returns
    -------
    Spikes
        Counts of shape (n_conditions, n_trials, n_times * bin_ms, n_neurons).

    Raises
    ------
    ValueError
        On bad arguments, or if a 1 ms count exceeds 255 (a rate of the order of 100 kHz).
    """
    rates = np.asarray(rates_hz, dtype=np.float64)
    if rates.ndim != 3:
        raise ValueError(
            f"rates_hz must have shape (n_conditions, n_times, n_neurons), got {rates.shape}"
        )
    if not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise ValueError("rates_hz must be finite and >= 0")
    check_integer("bin_ms", bin_ms)
    check_integer(study.N_TRIALS, n_trials)
    rngs = list(rngs)
    n_cond, n_times, n_neurons = rates.shape
    if len(rngs) != n_neurons or not all(isinstance(g, np.random.Generator) for g in rngs):
        raise ValueError(
            f"rngs must be {n_neurons} numpy.random.Generator objects (one per neuron), "
            f"got {len(rngs)} objects"
        )
    bin_ms, n_trials = int(bin_ms), int(n_trials)
    n_ms = n_times * bin_ms
    expected = rates * (bin_ms * 1e-3)  # mean count per bin
    # flat index, in the (condition, trial, ms) layout, of ms 0 of every (trial, condition, bin)
    bin_start = (
        (np.arange(n_trials)[:, None, None] + np.arange(n_cond)[None, :, None] * n_trials) * n_ms
        + np.arange(n_times)[None, None, :] * bin_ms
    ).ravel()
    flat = np.zeros(n_cond * n_trials * n_ms * n_neurons, dtype=np.uint8)
    for k, rng in enumerate(rngs):
        sub_rng = np.random.default_rng(int(rng.integers(2**63)))
        per_bin = rng.poisson(expected[:, :, k], size=(n_trials, n_cond, n_times))
        sub_bin = sub_rng.integers(0, bin_ms, size=int(per_bin.sum()))
        # the spikes in the order drawn (trial, condition, bin), placed in their ms
        ms = np.repeat(bin_start, per_bin.ravel()) + sub_bin
        where, n = np.unique(ms, return_counts=True)
        if n.size and n.max() > 255:
            raise ValueError(
                f"neuron {k} has {n.max()} spikes in one ms, more than the uint8 counts hold "
                "(255; rates of the order of 100 kHz)"
            )
        flat[where * n_neurons + k] = n
    counts = flat.reshape(n_cond, n_trials, n_ms, n_neurons)
    counts.flags.writeable = False
    return Spikes(counts)


def _smoother(n_ms: int, bin_ms: int, smoothing_ms: float) -> np.ndarray:
    """Matrix ``A``, shape (n_ms // bin_ms, n_ms): bin ``t`` of the edge-normalised Gaussian
    smoothing of a 1 ms signal ``x`` is ``(A @ x)[t]`` (the mean over the bin's samples)."""
    lags = np.arange(n_ms)[:, None] - np.arange(n_ms)[None, :]
    g = np.exp(-0.5 * (lags / float(smoothing_ms)) ** 2)
    g /= g.sum(axis=1, keepdims=True)
    return g.reshape(n_ms // bin_ms, bin_ms, n_ms).mean(axis=1)


def psth(spikes: Spikes, bin_ms: int, smoothing_ms: float = 30.0) -> np.ndarray:
    """Peri-stimulus time histograms: trial-averaged, Gaussian-smoothed, binned firing rates.

    Parameters
    ----------
    spikes : Spikes
        At least one trial.
    bin_ms : int
        Output grid, ms; must divide the window (10 in the pipeline).
    smoothing_ms : float
        Sd of the Gaussian kernel, ms, > 0 (renormalised at the window's edges).

    Returns
    -------
    ndarray, shape (n_conditions, n_ms // bin_ms, n_neurons), Hz
    """
    n_bins = _n_bins(spikes.n_ms, bin_ms, "bin_ms")
    check_number(study.SMOOTHING_MS, smoothing_ms, 0)
    if spikes.n_trials < 1:
        raise ValueError("spikes must hold at least one trial")
    total = spikes.counts.sum(axis=1, dtype=np.uint32).astype(np.float64)  # (C, n_ms, K)
    a = _smoother(spikes.n_ms, spikes.n_ms // n_bins, smoothing_ms)
    return np.matmul(a, total) * (1000.0 / spikes.n_trials)


def _smoothed_trials(spikes: Spikes, bin_ms: int, smoothing_ms: float) -> np.ndarray:
    """Each trial's spikes smoothed like a PSTH, spikes per bin: (C, n_trials, n_bins, K)."""
    _n_bins(spikes.n_ms, bin_ms, "bin_ms")
    check_number(study.SMOOTHING_MS, smoothing_ms, 0)
    n_cond, n_trials, n_ms, n_neurons = spikes.counts.shape
    a = _smoother(n_ms, int(bin_ms), smoothing_ms) * float(bin_ms)  # (n_bins, n_ms)
    # the counts as a sparse (trial series, ms) matrix: spikes are sparse at 1 ms
    series = spikes.counts.transpose(0, 1, 3, 2).reshape(-1, n_ms)
    rows, ms = np.nonzero(series)
    sparse = csr_matrix((series[rows, ms].astype(np.float64), (rows, ms)), shape=series.shape)
    smoothed = np.asarray(sparse @ a.T)  # (C * R * K, n_bins)
    return smoothed.reshape(n_cond, n_trials, n_neurons, -1).transpose(0, 1, 3, 2)


def trial_halves(n_trials: int) -> tuple[np.ndarray, np.ndarray]:
    """Split trials ``0 .. n_trials - 1`` into two halves for split-half reliability.

    Parameters
    ----------
    n_trials : int
        Trials per condition, >= 2 (odd counts allowed).

    Returns
    -------
    first, second : ndarray of int64
        ``range(n // 2)`` and ``range(n // 2, n)``: with an odd count the second half holds
        one trial more.
    """
    check_integer(study.N_TRIALS, n_trials, 2)
    half = int(n_trials) // 2
    return np.arange(half), np.arange(half, int(n_trials))


def record_emg(emg: np.ndarray, noise_sd: float, rng: np.random.Generator) -> np.ndarray:
    """Recorded EMG: the exact EMG plus white Gaussian noise of sd ``noise_sd``.

    Parameters
    ----------
    emg : ndarray, shape (n_conditions, n_times, n_muscles)
        Exact EMG, normalised to peak 1.
    noise_sd : float
        Sd of the noise of each recorded bin, >= 0 (units of the peak).
    rng : numpy.random.Generator
        One ``standard_normal`` call of the EMG's shape; none if ``noise_sd == 0``.

    Returns
    -------
    ndarray, shape (n_conditions, n_times, n_muscles)
        The exact EMG (a bit-identical copy, nothing drawn) if ``noise_sd == 0``.
    """
    arr = np.asarray(emg, dtype=np.float64)
    if arr.ndim != 3 or not np.all(np.isfinite(arr)):
        raise ValueError(
            f"emg must be a finite array of shape (n_conditions, n_times, n_muscles), "
            f"got shape {arr.shape}"
        )
    check_number("noise_sd", noise_sd, 0, low_open=False)
    if noise_sd == 0:
        return arr.copy()
    return arr + noise_sd * rng.standard_normal(arr.shape)


def bits_per_spike(predicted_rate: np.ndarray, counts: np.ndarray) -> float:
    """Co-smoothing score: log-likelihood gain over each neuron's mean rate, bits per spike.

    Parameters
    ----------
    predicted_rate : ndarray, shape (..., J), spikes per bin
        Predicted mean count of every sample, finite and >= 0; broadcast against ``counts``.
    counts : ndarray, shape (..., J)
        Observed counts per bin (non-negative), last axis the neurons.

    Returns
    -------
    float
        ``(NLL_null - NLL_model) / (n_spikes * ln 2)``, the null predicting each neuron's mean
        count over all samples of ``counts``. ``-inf`` if the model predicts 0 where a spike
        was observed.

    Raises
    ------
    ValueError
        If the shapes do not broadcast to ``counts``' shape, a rate is negative or non-finite,
        or ``counts`` holds no spike.
    """
    y = np.asarray(counts, dtype=np.float64)
    if y.ndim < 1 or not np.all(np.isfinite(y)) or np.any(y < 0):
        raise ValueError("counts must be a finite, non-negative array with a neuron axis")
    lam = np.asarray(predicted_rate, dtype=np.float64)
    try:
        lam = np.broadcast_to(lam, y.shape)
    except ValueError:
        raise ValueError(
            f"predicted_rate of shape {lam.shape} does not broadcast to counts' {y.shape}"
        ) from None
    if not np.all(np.isfinite(lam)) or np.any(lam < 0):
        raise ValueError("predicted_rate must be finite and >= 0")
    n_spikes = y.sum()
    if n_spikes == 0:
        raise ValueError("counts hold no spike: bits per spike is undefined")
    flat = y.reshape(-1, y.shape[-1])
    null = np.broadcast_to(flat.mean(axis=0), flat.shape)
    with np.errstate(divide="ignore"):
        nll_model = np.sum(lam.reshape(flat.shape) - xlogy(flat, lam.reshape(flat.shape)))
        nll_null = np.sum(null - xlogy(flat, null))
    return float((nll_null - nll_model) / (n_spikes * math.log(2.0)))


def _poisson_rates(
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    weight: float,
    x_eval: np.ndarray,
    alpha: float,
) -> np.ndarray:
    """Fit one Poisson regression per column of ``y_fit`` (samples, J) on z-scored ``x_fit``
    (samples, D) with equal sample weights ``weight``; predicted rates at ``x_eval``."""
    # Imported here, not with the module: the workflow reads the recording's settings from this
    # module each time Snakemake starts, and scikit-learn alone takes about a second to import.
    from sklearn.linear_model import PoissonRegressor

    check_number("alpha", alpha, 0, low_open=False)
    mean = x_fit.mean(axis=0)
    sd = x_fit.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    z_fit, z_eval = (x_fit - mean) / sd, (x_eval - mean) / sd
    w = np.full(x_fit.shape[0], float(weight))
    out = np.empty((x_eval.shape[0], y_fit.shape[1]))
    for j in range(y_fit.shape[1]):
        if not np.any(y_fit[:, j] > 0):
            raise ValueError(
                f"held-out neuron {j} has no spike in the fit trials; Poisson regression needs one"
            )
        model = PoissonRegressor(alpha=alpha, solver="newton-cholesky", tol=1e-8, max_iter=200)
        model.fit(z_fit, y_fit[:, j], sample_weight=w)
        out[:, j] = model.predict(z_eval)
    return out


def _check_counts(counts: np.ndarray, name: str, shape: tuple) -> np.ndarray:
    arr = np.asarray(counts, dtype=np.float64)
    if arr.ndim != 4 or arr.shape[0] != shape[0] or arr.shape[2] != shape[1] or arr.shape[1] < 1:
        raise ValueError(
            f"{name} must have shape (n_conditions={shape[0]}, n_trials >= 1, n_times={shape[1]}"
            f", n_held_out), got {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite, non-negative counts")
    return arr


def _check_pair(counts_fit, counts_eval, shape) -> tuple[np.ndarray, np.ndarray]:
    fit = _check_counts(counts_fit, "counts_fit", shape)
    ev = _check_counts(counts_eval, "counts_eval", shape)
    if fit.shape[3] != ev.shape[3] or fit.shape[3] < 1:
        raise ValueError(
            f"counts_fit and counts_eval must hold the same held-out neurons (>= 1), got "
            f"{fit.shape[3]} and {ev.shape[3]}"
        )
    return fit, ev


def co_smoothing(
    features: np.ndarray,
    counts_fit: np.ndarray,
    counts_eval: np.ndarray,
    alpha: float = 0.01,
) -> float:
    """Co-smoothing bits per spike of trial-invariant features for held-out neurons.

    Parameters
    ----------
    features : ndarray, shape (n_conditions, n_times, D)
        A model's features per condition and bin (e.g. its principal components), on the
        ``bin_ms`` grid; the same on every trial.
    counts_fit : ndarray, shape (n_conditions, n_fit_trials, n_times, J)
        Held-out neurons' spike counts per bin on the fit trials.
    counts_eval : ndarray, shape (n_conditions, n_eval_trials, n_times, J)
        Their counts on the evaluation trials.
    alpha : float
        L2 penalty on the z-scored features' weights, >= 0.

    Returns
    -------
    float
        :func:`bits_per_spike` of the fitted rates on the evaluation trials (all J neurons).
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 3 or not np.all(np.isfinite(x)):
        raise ValueError(f"features must be finite, shape (n_conditions, n_times, D); {x.shape}")
    fit, ev = _check_pair(counts_fit, counts_eval, x.shape[:2])
    n_cond, n_times, d = x.shape
    x2 = x.reshape(-1, d)
    mean_fit = fit.mean(axis=1).reshape(n_cond * n_times, -1)
    rates = _poisson_rates(x2, mean_fit, fit.shape[1], x2, alpha)
    return bits_per_spike(rates.reshape(n_cond, 1, n_times, -1), ev)


def smoothing_baseline(
    hint_fit: Spikes,
    hint_eval: Spikes,
    counts_fit: np.ndarray,
    counts_eval: np.ndarray,
    bin_ms: int,
    smoothing_ms: float = 30.0,
    alpha: float = 0.01,
) -> float:
    """The benchmark's smoothing baseline: held-out neurons predicted from held-in spikes.

    Features of a trial's bin are ``log(s + 1e-4)``, ``s`` the held-in neurons' spikes of that
    trial smoothed by the PSTH kernel, in spikes per bin; the regression is the one of
    :func:`co_smoothing`, on every fit trial's samples (weight 1).

    Parameters
    ----------
    hint_fit, hint_eval : Spikes
        Held-in neurons' spikes on the fit and evaluation trials (same conditions, window and
        neurons).
    counts_fit : ndarray, shape (n_conditions, n_fit_trials, n_times, J)
        Held-out neurons' counts per bin on the same fit trials.
    counts_eval : ndarray, shape (n_conditions, n_eval_trials, n_times, J)
        Their counts on the same evaluation trials.
    bin_ms : int
        Bin width of the counts, ms (dividing the window).
    smoothing_ms : float
        Sd of the Gaussian kernel, ms, > 0.
    alpha : float
        L2 penalty on the z-scored features' weights, >= 0.

    Returns
    -------
    float
        Bits per spike on the evaluation trials.
    """
    n_bins = _n_bins(hint_fit.n_ms, bin_ms, "bin_ms")
    if (hint_eval.n_conditions, hint_eval.n_ms, hint_eval.n_neurons) != (
        hint_fit.n_conditions,
        hint_fit.n_ms,
        hint_fit.n_neurons,
    ):
        raise ValueError("hint_fit and hint_eval must share conditions, window and neurons")
    fit, ev = _check_pair(counts_fit, counts_eval, (hint_fit.n_conditions, n_bins))
    if (fit.shape[1], ev.shape[1]) != (hint_fit.n_trials, hint_eval.n_trials):
        raise ValueError("counts_fit and counts_eval must have the hint spikes' trial counts")
    d = hint_fit.n_neurons
    x_fit = np.log(_smoothed_trials(hint_fit, bin_ms, smoothing_ms) + 1e-4).reshape(-1, d)
    x_eval = np.log(_smoothed_trials(hint_eval, bin_ms, smoothing_ms) + 1e-4).reshape(-1, d)
    j = fit.shape[3]
    rates = _poisson_rates(x_fit, fit.reshape(-1, j), 1.0, x_eval, alpha)
    return bits_per_spike(rates.reshape(ev.shape), ev)


def split_held_out(recorded: np.ndarray, held_out_fraction: float) -> tuple[np.ndarray, ...]:
    """Split the recorded neurons into hint neurons and held-out neurons.

    Parameters
    ----------
    recorded : array of int, shape (K,)
        Recorded neurons in recording order (e.g. a prefix of an observation's neuron order).
    held_out_fraction : float
        Fraction held out, in (0, 1).

    Returns
    -------
    hint, held_out : ndarray of int64
        The first ``K - n`` and the last ``n = round(held_out_fraction * K)`` entries of
        ``recorded`` (Python's round, half to even), in recording order.

    Raises
    ------
    ValueError
        Naming ``recording.held_out_fraction`` if it is outside (0, 1) or leaves no hint or no
        held-out neuron.
    """
    arr = np.asarray(recorded)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"recorded must be a 1-D array of neuron indices, got {recorded!r}")
    name = "recording.held_out_fraction"
    check_number(name, held_out_fraction, 0, 1)
    n_rec = arr.size
    n = round(held_out_fraction * n_rec)
    if n < 1 or n > n_rec - 1:
        what = "no held-out neuron" if n < 1 else "no hint neuron"
        raise ValueError(
            f"{name}={held_out_fraction!r} leaves {what} among {n_rec} recorded neurons "
            f"(holds out {n}); co-smoothing needs at least one of each: use a fraction with "
            f"1 <= round(fraction * {n_rec}) <= {n_rec - 1}"
        )
    arr = arr.astype(np.int64)
    return arr[: n_rec - n].copy(), arr[n_rec - n :].copy()


@dataclass(frozen=True)
class Recording:
    """What one run records of its neurons: all its hinted models see of the circuit.

    Attributes
    ----------
    neurons : ndarray of int64, shape (K,)
        The recorded neurons (indices among the circuit's), ascending.
    held_out : ndarray of bool, shape (K,)
        Neurons kept out of the hints and scored by co-smoothing (:func:`split_held_out`);
        none without spikes.
    psth : ndarray, shape (n_conditions, n_times, K), Hz
        Every direction's PSTHs (:func:`psth`) on the rate grid; without spikes, the exact
        rates.
    n_circuit_neurons : int
        Neurons of the circuit (a known size, not a measurement: hint weights are drawn for
        each).
    spikes : Spikes or None
        The spike trains (None for an exact-rate recording).
    halves : ndarray, shape (2, n_conditions, n_times, K), or None
        PSTHs of the two trial halves (:func:`trial_halves`).
    """

    neurons: np.ndarray
    held_out: np.ndarray
    psth: np.ndarray
    n_circuit_neurons: int
    spikes: Spikes | None = None
    halves: np.ndarray | None = None

    @property
    def hint_units(self) -> np.ndarray:
        """The neurons whose PSTHs are the hints (the recorded ones not held out)."""
        return self.neurons[~self.held_out]

    def arrays(self) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        """The recording as named arrays with dimension names (a dataset of
        :func:`hintforce.store.write_dataset`; its attribute ``n_circuit_neurons`` goes with
        them)."""
        arrays = {
            "psth": (("condition", "time", "neuron"), self.psth),
            "neurons": (("neuron",), self.neurons),
            "held_out": (("neuron",), self.held_out),
        }
        if self.spikes is not None:
            arrays["counts"] = (("condition", "trial", "ms", "neuron"), self.spikes.counts)
            arrays["halves"] = (("half", "condition", "time", "neuron"), self.halves)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], n_circuit_neurons: int) -> Recording:
        """The recording of :meth:`arrays` (``counts`` may be left out: then no spikes)."""
        return cls(
            neurons=np.asarray(arrays["neurons"], dtype=np.int64),
            held_out=np.asarray(arrays["held_out"], dtype=bool),
            psth=np.asarray(arrays["psth"], dtype=np.float64),
            n_circuit_neurons=int(n_circuit_neurons),
            spikes=Spikes(arrays["counts"]) if "counts" in arrays else None,
            halves=arrays.get("halves"),
        )

    def hints(self, directions: np.ndarray) -> np.ndarray:
        """PSTHs of the hint neurons in ``directions``: (len(directions), n_times, K_hint)."""
        return self.psth[np.asarray(directions)][:, :, ~self.held_out]


def record_neurons(
    rates_hz: np.ndarray,
    recording_order: np.ndarray,
    n_circuit_neurons: int,
    bin_ms: int,
    params: RecordingParams,
    rngs: Sequence[np.random.Generator] | None = None,
) -> Recording:
    """Record some neurons of a circuit: spikes, PSTHs and trial-half PSTHs, or exact rates.

    Parameters
    ----------
    rates_hz : ndarray, shape (n_conditions, n_times, K), Hz
        True rates of the recorded neurons, columns in the order of ``recording_order``.
    recording_order : array of int, shape (K,)
        The neurons' indices among the circuit's, in the order they were recorded (the last
        ones are held out).
    n_circuit_neurons : int
        Neurons of the circuit.
    bin_ms : int
        The rate grid, ms.
    params : RecordingParams
        Without ``n_trials`` the recording is the exact rates (nothing drawn, no neuron held
        out); with it, ``n_trials`` trains per direction (:func:`draw_spikes`), their PSTHs
        and the PSTHs of each trial half, smoothed by ``smoothing_ms``.
    rngs : sequence of numpy.random.Generator, optional
        One per recorded neuron, in the order of ``recording_order`` (required with spikes).

    Returns
    -------
    Recording
        Columns sorted by neuron index.
    """
    rates = np.asarray(rates_hz, dtype=np.float64)
    order = np.asarray(recording_order, dtype=np.int64)
    if rates.ndim != 3 or rates.shape[2] != order.size:
        raise ValueError(
            f"rates_hz must have one column per recorded neuron ({order.size}), got {rates.shape}"
        )
    sort = np.argsort(order, kind="stable")
    neurons = order[sort]
    if not params.spikes:
        return Recording(neurons, np.zeros(order.size, bool), rates[:, :, sort], n_circuit_neurons)
    _, held = split_held_out(order, params.held_out_fraction)
    if rngs is None:
        raise ValueError("a spike recording needs one generator per recorded neuron")
    spikes = draw_spikes(rates[:, :, sort], bin_ms, params.n_trials, [rngs[i] for i in sort])
    halves = np.stack(
        [
            psth(spikes.select(trials=h), bin_ms, params.smoothing_ms)
            for h in trial_halves(params.n_trials)
        ]
    )
    return Recording(
        neurons,
        np.isin(neurons, held),
        psth(spikes, bin_ms, params.smoothing_ms),
        n_circuit_neurons,
        spikes,
        halves,
    )


#: Name of the model-free reference of :func:`score_models` (NLB's smoothing baseline).
SMOOTHING = study.SMOOTHING_BASELINE


def score_models(
    models: dict[str, np.ndarray],
    recording: Recording,
    directions: np.ndarray,
    bin_ms: int,
    params: RecordingParams,
) -> tuple[dict[str, float], np.ndarray]:
    """Co-smoothing bits per spike of each model on the held-out recorded neurons.

    Each model's features are its top ``params.n_pcs`` principal components over
    ``directions`` and the whole window (PCA on the model's rates, centred, all samples);
    the held-out neurons' counts per bin are fitted on the first trial half and scored on the
    second (:func:`co_smoothing`). :data:`SMOOTHING` is the benchmark's smoothing baseline on
    the same trials (:func:`smoothing_baseline`, from the hint neurons' spikes). A held-out
    neuron without a spike in either half cannot be fitted or scored and is left out of every
    score.

    Parameters
    ----------
    models : mapping of name to ndarray, shape (n_conditions, n_times, n_units)
        Each model's rates in every direction, on the recording's grid and window.
    recording : Recording
        With spikes.
    directions : array of int
        The directions scored (the models' training directions).
    bin_ms : int
    params : RecordingParams

    Returns
    -------
    scores : dict
        Model name (and :data:`SMOOTHING`) -> bits per spike.
    scored : ndarray of int64
        The held-out neurons scored (indices among the circuit's).
    """
    if recording.spikes is None:
        raise ValueError("co-smoothing needs a spike recording (recording.n_trials)")
    directions = np.asarray(directions, dtype=np.int64)
    first, second = trial_halves(recording.spikes.n_trials)
    held = np.flatnonzero(recording.held_out)
    counts = recording.spikes.select(neurons=held).binned(bin_ms)[directions]
    fit, ev = counts[:, first], counts[:, second]
    keep = (fit.sum(axis=(0, 1, 2)) > 0) & (ev.sum(axis=(0, 1, 2)) > 0)
    if not keep.any():
        raise ValueError("no held-out neuron has spikes in both trial halves: nothing to score")
    fit, ev = fit[..., keep], ev[..., keep]
    scores = {}
    for name, rates in models.items():
        x = np.asarray(rates, dtype=np.float64)[directions]
        flat = x.reshape(-1, x.shape[2])
        flat = flat - flat.mean(axis=0)
        _, _, vt = np.linalg.svd(flat, full_matrices=False)
        features = (flat @ vt[: params.n_pcs].T).reshape(*x.shape[:2], -1)
        scores[name] = co_smoothing(features, fit, ev, params.alpha)
    hint = recording.spikes.select(neurons=np.flatnonzero(~recording.held_out))
    hint = Spikes(hint.counts[directions])
    scores[SMOOTHING] = smoothing_baseline(
        hint.select(trials=first),
        hint.select(trials=second),
        fit,
        ev,
        bin_ms,
        params.smoothing_ms,
        params.alpha,
    )
    return scores, recording.neurons[held[keep]]


def nwb_file(
    spikes: Spikes,
    directions_rad: np.ndarray,
    bin_ms: int,
    identifier: str,
    *,
    emg: np.ndarray | None = None,
    neuron_ids: np.ndarray | None = None,
    muscle_names: Sequence[str] | None = None,
    inter_trial_ms: float = 1000.0,
    session_start_time: datetime = datetime(2000, 1, 1, tzinfo=UTC),
    session_description: str = "synthetic reaching session: spikes of a sample of neurons "
    "of a motor-cortex circuit model and EMG",
):
    """An in-memory NWB file of one recording session.

    Session trial ``i = r * n_conditions + c`` is trial ``r`` of condition ``c``; it starts at
    ``i * (n_ms + inter_trial_ms)`` ms and stops ``n_ms`` ms later. The same inputs give the
    same content (the session start and file creation times are ``session_start_time``).

    Parameters
    ----------
    spikes : Spikes
        Recorded spikes; one unit per neuron, spike times in s on the session timeline
        (``start + (i + 0.5) ms`` for a spike in ms ``i`` of a trial).
    directions_rad : ndarray, shape (n_conditions,)
        Reach direction of each condition, rad.
    bin_ms : int
        Sampling interval of ``emg``, ms (the rate grid).
    identifier : str
        NWB identifier of the file.
    emg : ndarray, shape (n_conditions, n_ms // bin_ms, n_muscles), optional
        The recorded EMG (:func:`record_emg`), peak-normalised: one envelope per condition.
        Stored as one TimeSeries ``emg`` of shape (n_session_trials * n_times, n_muscles) in
        which every trial carries its condition's envelope, sample ``t`` of a trial
        time-stamped at the trial's start + ``t * bin_ms`` ms (its bin's start).
    neuron_ids : array of int, shape (n_neurons,), optional
        Unit ids (e.g. the circuit's neuron indices); default ``0 .. n_neurons - 1``.
    muscle_names : sequence of str, optional
        Named in the EMG's description.
    inter_trial_ms : float
        Gap between consecutive trials, ms, >= 0.
    session_start_time : datetime
        Timezone-aware; fixed by default so the file's content depends only on the inputs.
    session_description : str

    Returns
    -------
    pynwb.NWBFile
        Units with ``spike_times``; trials with ``start_time``, ``stop_time``, ``condition``,
        ``repeat`` (trial index within the condition) and ``direction_rad``; acquisition
        ``emg`` if given.
    """
    # imported here: pynwb takes about a second to import and only this function needs it
    from hdmf.common import VectorData
    from pynwb import NWBFile
    from pynwb.epoch import TimeIntervals

    n_cond, n_trials, n_ms, n_neurons = spikes.counts.shape
    directions, ids = _check_session(
        spikes, directions_rad, identifier, neuron_ids, inter_trial_ms, session_start_time
    )
    n_bins = _n_bins(n_ms, bin_ms, "bin_ms")
    period_s = (n_ms + float(inter_trial_ms)) * 1e-3
    session = np.arange(n_trials)[:, None] * n_cond + np.arange(n_cond)[None, :]  # (R, C)
    start_s = session.ravel() * period_s  # session trial order

    nwb = NWBFile(
        session_description=session_description,
        identifier=identifier,
        session_start_time=session_start_time,
        file_create_date=session_start_time,
        timestamps_reference_time=session_start_time,
    )
    cond_of = np.tile(np.arange(n_cond), n_trials)
    columns = [
        ("start_time", "start of the trial's window, s", start_s),
        ("stop_time", "end of the trial's window, s", start_s + n_ms * 1e-3),
        ("condition", "condition index (reach direction)", cond_of),
        ("repeat", "trial index within the condition", np.repeat(np.arange(n_trials), n_cond)),
        ("direction_rad", "reach direction, rad", directions[cond_of]),
    ]
    trials = TimeIntervals(
        name="trials",
        description="reach trials, each condition once per block",
        columns=[VectorData(name=n, description=d, data=v) for n, d, v in columns],
    )
    nwb.trials = trials

    c, r, k, t_ms = spikes.events()
    times = session[r, c] * period_s + t_ms * 1e-3
    order = np.lexsort((times, k))
    times, k = times[order], k[order]
    bounds = np.searchsorted(k, np.arange(n_neurons + 1))
    for unit in range(n_neurons):
        nwb.add_unit(spike_times=times[bounds[unit] : bounds[unit + 1]], id=int(ids[unit]))

    if emg is not None:
        nwb.add_acquisition(_emg_series(emg, start_s, n_bins, bin_ms, n_trials, muscle_names))
    return nwb


def _check_session(spikes, directions_rad, identifier, neuron_ids, inter_trial_ms, start_time):
    """:func:`nwb_file`'s checks of the session's labels: the directions and unit ids."""
    n_cond, _, _, n_neurons = spikes.counts.shape
    directions = np.asarray(directions_rad, dtype=np.float64)
    if directions.shape != (n_cond,) or not np.all(np.isfinite(directions)):
        raise ValueError(f"directions_rad must be {n_cond} finite angles, got {directions.shape}")
    check_number("inter_trial_ms", inter_trial_ms, 0, low_open=False)
    if not isinstance(start_time, datetime) or start_time.tzinfo is None:
        raise ValueError(
            "session_start_time must be a timezone-aware datetime (a naive one would be read "
            f"in the machine's local time zone), got {start_time!r}"
        )
    if not isinstance(identifier, str) or not identifier:
        raise ValueError(f"identifier must be a non-empty string, got {identifier!r}")
    ids = np.arange(n_neurons) if neuron_ids is None else np.asarray(neuron_ids)
    if (
        ids.shape != (n_neurons,)
        or not np.issubdtype(ids.dtype, np.integer)
        or np.unique(ids).size != n_neurons
        or (n_neurons and ids.min() < 0)
    ):
        raise ValueError(f"neuron_ids must be {n_neurons} unique non-negative integers")
    return directions, ids


def _emg_series(emg, start_s, n_bins, bin_ms, n_trials, muscle_names):
    """The NWB TimeSeries of the recorded EMG: every session trial its condition's envelope."""
    from pynwb import TimeSeries

    arr = np.asarray(emg, dtype=np.float64)
    n_cond = start_s.size // n_trials
    if arr.ndim != 3 or arr.shape[:2] != (n_cond, n_bins):
        raise ValueError(f"emg must have shape ({n_cond}, {n_bins}, n_muscles), got {arr.shape}")
    n_mus = arr.shape[2]
    data = np.tile(arr.reshape(-1, n_mus), (n_trials, 1))  # session trial order
    stamps = (start_s[:, None] + np.arange(n_bins)[None, :] * (bin_ms * 1e-3)).ravel()
    names = [str(m) for m in (range(n_mus) if muscle_names is None else muscle_names)]
    if len(names) != n_mus:
        raise ValueError(f"muscle_names must name {n_mus} muscles, got {len(names)}")
    return TimeSeries(
        name="emg",
        data=data,
        unit="peak-normalised",
        timestamps=stamps,
        description=f"recorded EMG envelope of the trial's condition (one per "
        f"condition, the same on each of its trials), one column per muscle: "
        f"{', '.join(names)}; sample t of a trial is the mean over "
        f"[t * {bin_ms}, (t + 1) * {bin_ms}) ms",
    )
