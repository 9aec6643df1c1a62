"""Recordings: Poisson spikes, PSTHs, trial halves, noisy EMG, bits per spike, co-smoothing, NWB.

Statistical tests use fixed seeds; each states its criterion and the probability that a correct
implementation fails it (below 1e-6 for every assertion).
"""

import math
from datetime import datetime

import numpy as np
import pytest
from scipy import stats
from threadpoolctl import threadpool_limits

from hintforce.recording import (
    Recording,
    RecordingParams,
    Spikes,
    bits_per_spike,
    co_smoothing,
    draw_spikes,
    nwb_file,
    psth,
    record_emg,
    record_neurons,
    score_models,
    smoothing_baseline,
    split_held_out,
    trial_halves,
)

# |z| < Z_MAX fails a correct implementation with probability 2 * (1 - Phi(5.5)) = 3.8e-8
Z_MAX = 5.5
# p-values below P_MIN reject: a false failure has probability 1e-7 per test
P_MIN = 1e-7


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """One BLAS thread, as the workflow's jobs run (the machine's cores are shared)."""
    with threadpool_limits(limits=1):
        yield


def neuron_rngs(seed, neurons):
    """One generator per neuron, derived from the neuron's index, as the pipeline does."""
    return [np.random.default_rng([seed, int(k)]) for k in neurons]


def constant_rates(n_cond, n_times, rates_hz):
    return np.broadcast_to(np.asarray(rates_hz, float), (n_cond, n_times, len(rates_hz))).copy()


# ----------------------------------------------------------------------------------------------
# parameters


def test_default_parameters():
    p = RecordingParams()
    assert (p.n_trials, p.smoothing_ms, p.emg_noise, p.held_out_fraction, p.alpha, p.n_pcs) == (
        None,
        30.0,
        0.0,
        0.2,
        0.01,
        10,
    )
    assert not p.spikes
    assert RecordingParams(n_trials=2, emg_noise=0.1, alpha=0.0).spikes


def test_emg_noise_needs_spikes():
    with pytest.raises(ValueError, match="recording.emg_noise=0.1 needs a spike recording"):
        RecordingParams(emg_noise=0.1)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("n_trials", 0),
        ("n_trials", 1),
        ("n_trials", -3),
        ("n_trials", 2.0),
        ("n_trials", True),
        ("smoothing_ms", 0.0),
        ("smoothing_ms", math.nan),
        ("emg_noise", -0.1),
        ("emg_noise", math.inf),
        ("held_out_fraction", 0.0),
        ("held_out_fraction", 1.0),
        ("alpha", -1e-3),
        ("alpha", "0.1"),
        ("n_pcs", 0),
    ],
)
def test_bad_parameters_are_refused_by_name_and_value(name, value):
    with pytest.raises(ValueError, match=f"recording.{name} must be") as info:
        RecordingParams(**{name: value})
    assert repr(value) in str(info.value)


# ----------------------------------------------------------------------------------------------
# spikes: Poisson statistics


@pytest.mark.parametrize("width_ms", [1, 10])
def test_counts_per_ms_and_per_bin_have_poisson_mean_and_variance(width_ms):
    """Mean count = rate * width and variance = mean, for each of four constant rates.

    Criterion: z-scores of the sample mean (sd sqrt(lam / n)) and of the sample variance
    (sd sqrt((lam + 2 lam^2) / n), the large-n sd of a Poisson sample variance) below 5.5 in
    absolute value: 8 z-scores, false-failure probability 8 * 3.8e-8 = 3e-7 (n >= 20000
    samples, so the normal approximation holds).
    """
    rates = [2.0, 20.0, 80.0, 200.0]
    spikes = draw_spikes(constant_rates(2, 25, rates), 10, 400, neuron_rngs(1, range(4)))
    counts = spikes.binned(width_ms)
    for k, rate in enumerate(rates):
        x = counts[..., k].ravel().astype(float)
        lam, n = rate * width_ms * 1e-3, x.size
        z_mean = (x.mean() - lam) / math.sqrt(lam / n)
        z_var = (x.var(ddof=1) - lam) / math.sqrt((lam + 2 * lam**2) / n)
        assert abs(z_mean) < Z_MAX, (rate, z_mean)
        assert abs(z_var) < Z_MAX, (rate, z_var)


def test_counts_per_ms_follow_the_poisson_distribution():
    """The 1 ms counts at 200 Hz have the Poisson(0.2) pmf (cells 0, 1, 2, >= 3): Pearson
    chi-square, 3 degrees of freedom, rejected below p = 1e-7. A split that spread a bin's
    spikes over distinct sub-bins, or piled them into one, would change P(2) and P(>= 3)."""
    spikes = draw_spikes(constant_rates(4, 50, [200.0]), 10, 500, neuron_rngs(2, [0]))
    x = spikes.counts.ravel()
    observed = np.array([np.sum(x == 0), np.sum(x == 1), np.sum(x == 2), np.sum(x >= 3)])
    pmf = stats.poisson.pmf([0, 1, 2], 0.2)
    expected = x.size * np.append(pmf, 1 - pmf.sum())
    assert stats.chisquare(observed, expected).pvalue > P_MIN


def test_mean_counts_follow_a_time_varying_rate_in_every_ms():
    """Total count of each (condition, ms, neuron) cell over R trials is Poisson(R * rate *
    1e-3), the rate constant within each 10 ms bin: Pearson's statistic over all cells is
    chi-square with as many degrees of freedom as cells, rejected below p = 1e-7."""
    rng = np.random.default_rng(3)
    rates = rng.uniform(20.0, 120.0, size=(3, 12, 4))
    n_trials = 400
    spikes = draw_spikes(rates, 10, n_trials, neuron_rngs(3, range(4)))
    total = spikes.counts.sum(axis=1, dtype=np.int64)  # (C, n_ms, K)
    expected = n_trials * np.repeat(rates, 10, axis=1) * 1e-3
    statistic = np.sum((total - expected) ** 2 / expected)
    assert stats.chi2.sf(statistic, total.size) > P_MIN
    assert stats.chi2.cdf(statistic, total.size) > P_MIN


def test_counts_are_independent_across_sub_bins():
    """Counts of two different 1 ms sub-bins (of one 10 ms bin, and of neighbouring bins) are
    uncorrelated: at constant rate, the mean of (x_i - lam)(x_j - lam) over n samples has sd
    lam / sqrt(n) if x_i, x_j are independent Poisson(lam). Criterion |z| < 6 for each of the
    55 pairs of ms 0..10 (false-failure probability 55 * 2.0e-9 = 1.1e-7). Splitting a fixed
    count N over a bin's sub-bins would give them the covariance -N / 100 (z = -40 at N = 1)."""
    lam = 0.1  # 100 Hz
    spikes = draw_spikes(constant_rates(4, 2, [100.0]), 10, 40_000, neuron_rngs(4, [0]))
    x = spikes.counts[:, :, :11, 0].reshape(-1, 11).astype(float) - lam
    n = x.shape[0]
    cov = x.T @ x / n
    z = cov[np.triu_indices(11, 1)] / (lam / math.sqrt(n))
    assert np.max(np.abs(z)) < 6.0


# ----------------------------------------------------------------------------------------------
# spikes: generators, order and representation


def reference_draw(rates, bin_ms, n_trials, rngs):
    """The documented draw order, written out with loops."""
    n_cond, n_times, n_neurons = rates.shape
    counts = np.zeros((n_cond, n_trials, n_times * bin_ms, n_neurons), dtype=np.int64)
    for k, rng in enumerate(rngs):
        sub_rng = np.random.default_rng(int(rng.integers(2**63)))
        per_bin = rng.poisson(rates[:, :, k] * bin_ms * 1e-3, size=(n_trials, n_cond, n_times))
        sub = iter(sub_rng.integers(0, bin_ms, size=int(per_bin.sum())))
        for r in range(n_trials):
            for c in range(n_cond):
                for t in range(n_times):
                    for _ in range(per_bin[r, c, t]):
                        counts[c, r, t * bin_ms + next(sub), k] += 1
    return counts


def test_draw_follows_the_documented_order():
    rates = np.random.default_rng(5).uniform(0.0, 150.0, size=(3, 4, 2))
    spikes = draw_spikes(rates, 5, 6, neuron_rngs(5, [10, 11]))
    np.testing.assert_array_equal(
        spikes.counts, reference_draw(rates, 5, 6, neuron_rngs(5, [10, 11]))
    )


def test_a_neurons_spikes_do_not_depend_on_which_other_neurons_are_drawn():
    rates = np.random.default_rng(6).uniform(5.0, 80.0, size=(2, 8, 5))
    all_five = draw_spikes(rates, 10, 7, neuron_rngs(6, range(5)))
    other_rates = rates.copy()
    other_rates[..., 0] = 300.0
    two = draw_spikes(other_rates[..., [3, 0]], 10, 7, neuron_rngs(6, [3, 0]))
    np.testing.assert_array_equal(two.counts[..., 0], all_five.counts[..., 3])
    assert not np.array_equal(two.counts[..., 1], all_five.counts[..., 0])  # its own rate


def test_same_generators_give_the_same_spikes_and_other_seeds_others():
    rates = constant_rates(2, 6, [40.0, 60.0])
    a = draw_spikes(rates, 10, 20, neuron_rngs(7, range(2)))
    b = draw_spikes(rates, 10, 20, neuron_rngs(7, range(2)))
    c = draw_spikes(rates, 10, 20, neuron_rngs(8, range(2)))
    np.testing.assert_array_equal(a.counts, b.counts)
    assert not np.array_equal(a.counts, c.counts)


def test_the_first_trials_do_not_depend_on_how_many_are_drawn():
    rates = np.random.default_rng(9).uniform(5.0, 80.0, size=(3, 8, 2))
    few = draw_spikes(rates, 10, 4, neuron_rngs(9, range(2)))
    many = draw_spikes(rates, 10, 11, neuron_rngs(9, range(2)))
    np.testing.assert_array_equal(many.counts[:, :4], few.counts)


def test_spike_times_bins_and_events_describe_the_same_spikes():
    rates = np.random.default_rng(10).uniform(50.0, 400.0, size=(2, 6, 3))
    spikes = draw_spikes(rates, 10, 3, neuron_rngs(10, range(3)))
    assert spikes.counts.dtype == np.uint8 and not spikes.counts.flags.writeable
    assert spikes.counts.shape == (2, 3, 60, 3)
    assert spikes.counts.max() >= 2  # some ms hold two spikes: times must repeat
    for width in (1, 5, 10, 20, 60):
        edges = np.arange(0, 61, width)
        expected = np.zeros((2, 3, 60 // width, 3), dtype=np.int64)
        for c in range(2):
            for r in range(3):
                for k in range(3):
                    times = spikes.spike_times_ms(c, r, k)
                    assert np.all(np.diff(times) >= 0)
                    expected[c, r, :, k] = np.histogram(times, edges)[0]
        np.testing.assert_array_equal(spikes.binned(width), expected)
    c, r, k, t = spikes.events()
    assert t.size == spikes.counts.sum()
    for cc, rr, kk in [(0, 0, 0), (1, 2, 1), (1, 0, 2)]:
        mine = (c == cc) & (r == rr) & (k == kk)
        np.testing.assert_array_equal(np.sort(t[mine]), spikes.spike_times_ms(cc, rr, kk))
    with pytest.raises(ValueError, match="width_ms must divide"):
        spikes.binned(7)


def test_selecting_trials_and_neurons_keeps_their_counts():
    spikes = draw_spikes(constant_rates(2, 4, [50.0, 90.0, 20.0]), 10, 6, neuron_rngs(11, range(3)))
    part = spikes.select(trials=[4, 1], neurons=[2, 0])
    np.testing.assert_array_equal(part.counts, spikes.counts[:, [4, 1]][..., [2, 0]])
    np.testing.assert_array_equal(spikes.select(trials=[2, 3, 4]).counts, spikes.counts[:, 2:5])
    with pytest.raises(ValueError, match="trials must lie in range"):
        spikes.select(trials=[6])


def test_spikes_copy_a_writeable_input_and_refuse_bad_counts():
    counts = np.ones((1, 1, 10, 2), dtype=np.uint8)
    spikes = Spikes(counts)
    counts[0, 0, 0, 0] = 9
    assert spikes.counts[0, 0, 0, 0] == 1
    assert Spikes(np.full((1, 1, 2, 1), 3, dtype=np.int64)).counts.dtype == np.uint8
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        Spikes(np.full((1, 1, 2, 1), 256))
    with pytest.raises(ValueError, match="4-D integer"):
        Spikes(np.ones((1, 2, 1)))


@pytest.mark.parametrize(
    ("rates", "bin_ms", "n_trials", "n_rngs", "match"),
    [
        (-np.ones((1, 2, 1)), 10, 2, 1, "finite and >= 0"),
        (np.full((1, 2, 1), np.nan), 10, 2, 1, "finite and >= 0"),
        (np.ones((2, 1)), 10, 2, 1, "shape"),
        (np.ones((1, 2, 1)), 0, 2, 1, "bin_ms"),
        (np.ones((1, 2, 1)), 10, 0, 1, "n_trials"),
        (np.ones((1, 2, 2)), 10, 2, 1, "one per neuron"),
    ],
)
def test_draw_refuses_bad_arguments(rates, bin_ms, n_trials, n_rngs, match):
    with pytest.raises(ValueError, match=match):
        draw_spikes(rates, bin_ms, n_trials, neuron_rngs(0, range(n_rngs)))


# ----------------------------------------------------------------------------------------------
# PSTH


def reference_psth(counts, bin_ms, sd_ms):
    """Edge-normalised Gaussian smoothing by numpy convolution, then bin means, in Hz."""
    mean = counts.mean(axis=1)  # (C, n_ms, K)
    n_ms = mean.shape[1]
    lags = np.arange(-(n_ms - 1), n_ms)
    kernel = np.exp(-(lags**2) / (2.0 * sd_ms**2))

    def centred(v):  # the kernel is longer than the signal: keep the window's samples
        return np.convolve(v, kernel, mode="full")[n_ms - 1 : 2 * n_ms - 1]

    norm = centred(np.ones(n_ms))
    smooth = np.apply_along_axis(lambda v: centred(v) / norm, 1, mean)
    return 1000.0 * smooth.reshape(mean.shape[0], n_ms // bin_ms, bin_ms, -1).mean(axis=2)


@pytest.mark.parametrize(("bin_ms", "sd_ms"), [(10, 30.0), (20, 7.5), (1, 3.0)])
def test_psth_is_the_edge_normalised_gaussian_smoothing_of_the_trial_mean(bin_ms, sd_ms):
    rates = np.random.default_rng(12).uniform(0.0, 100.0, size=(2, 12, 3))
    spikes = draw_spikes(rates, 10, 5, neuron_rngs(12, range(3)))
    np.testing.assert_allclose(
        psth(spikes, bin_ms, sd_ms), reference_psth(spikes.counts, bin_ms, sd_ms), atol=1e-9
    )


def test_a_constant_count_gives_a_constant_psth_up_to_the_window_edges():
    counts = np.zeros((2, 3, 200, 2), dtype=np.uint8)
    counts[..., 0] = 1  # one spike every ms: 1000 Hz
    counts[..., 1] = 2
    out = psth(Spikes(counts), 10)
    np.testing.assert_allclose(out[..., 0], 1000.0, rtol=1e-12)
    np.testing.assert_allclose(out[..., 1], 2000.0, rtol=1e-12)


@pytest.mark.parametrize("shape", ["constant", "slow"])
def test_psth_error_falls_like_one_over_sqrt_trials(shape):
    """RMS error of the PSTH against the true rate over K = 4 .. 256 trials: the slope of log
    error against log K is -1/2 within 0.03 (its spread over seeds is about 0.002). The slow
    rate's smoothing bias (<= 0.3 Hz, against 1.1 Hz of noise at K = 256) stays below the
    floor where the slope would flatten."""
    n_cond, n_times, n_neurons = 8, 80, 20
    t_ms = (np.arange(n_times) + 0.5) * 10
    rate = np.full(n_times, 30.0)
    if shape == "slow":
        rate = 30.0 + 10.0 * np.cos(2 * np.pi * t_ms / (n_times * 10))
    rates = np.broadcast_to(rate[None, :, None], (n_cond, n_times, n_neurons)).copy()
    trials = 2 ** np.arange(2, 9)
    errors = []
    for n in trials:
        spikes = draw_spikes(rates, 10, int(n), neuron_rngs(100 + int(n), range(n_neurons)))
        errors.append(np.sqrt(np.mean((psth(spikes, 10) - rates) ** 2)))
    slope = np.polyfit(np.log(trials), np.log(errors), 1)[0]
    assert slope == pytest.approx(-0.5, abs=0.03)


def test_psth_refuses_a_grid_that_does_not_divide_the_window():
    spikes = Spikes(np.zeros((1, 1, 30, 1), dtype=np.uint8))
    with pytest.raises(ValueError, match="bin_ms must divide"):
        psth(spikes, 20)
    with pytest.raises(ValueError, match="smoothing_ms"):
        psth(spikes, 10, 0.0)


# ----------------------------------------------------------------------------------------------
# trial halves


@pytest.mark.parametrize(("n", "first", "second"), [(2, [0], [1]), (7, [0, 1, 2], [3, 4, 5, 6])])
def test_trial_halves_are_the_first_floor_half_and_the_rest(n, first, second):
    a, b = trial_halves(n)
    np.testing.assert_array_equal(a, first)
    np.testing.assert_array_equal(b, second)


def test_halves_partition_the_trials_and_their_psths_average_to_the_full_psth():
    a, b = trial_halves(10)
    np.testing.assert_array_equal(np.sort(np.concatenate([a, b])), np.arange(10))
    spikes = draw_spikes(constant_rates(2, 8, [30.0, 70.0]), 10, 10, neuron_rngs(13, range(2)))
    halves = (psth(spikes.select(trials=a), 10) + psth(spikes.select(trials=b), 10)) / 2
    np.testing.assert_allclose(halves, psth(spikes, 10), rtol=1e-12)


def test_one_trial_cannot_be_halved():
    with pytest.raises(ValueError, match="n_trials must be an integer >= 2"):
        trial_halves(1)


# ----------------------------------------------------------------------------------------------
# EMG


def test_zero_emg_noise_gives_the_exact_emg_and_draws_nothing():
    emg = np.random.default_rng(14).uniform(0.0, 1.0, size=(3, 7, 2))
    rng = np.random.default_rng(15)
    state = rng.bit_generator.state
    out = record_emg(emg, 0.0, rng)
    assert np.array_equal(out, emg) and out is not emg
    assert rng.bit_generator.state == state


def test_recorded_emg_noise_is_white_gaussian_of_the_given_sd():
    """The residual has sd noise_sd: its sum of squared standardised values is chi-square
    with one degree of freedom per value, accepted with p in (1e-7, 1 - 1e-7); mean |z| < 5.5;
    neighbouring bins uncorrelated (|z| < 5.5)."""
    emg = np.random.default_rng(16).uniform(0.0, 1.0, size=(8, 80, 4))
    sd = 0.2
    z = (record_emg(emg, sd, np.random.default_rng(17)) - emg) / sd
    flat = z.ravel()
    assert abs(flat.mean() * math.sqrt(flat.size)) < Z_MAX
    assert P_MIN < stats.chi2.cdf(np.sum(flat**2), flat.size) < 1 - P_MIN
    assert abs(np.mean(z[:, 1:] * z[:, :-1]) * math.sqrt(z[:, 1:].size)) < Z_MAX


# ----------------------------------------------------------------------------------------------
# bits per spike


def planted_counts(seed, shape):
    rng = np.random.default_rng(seed)
    rates = rng.gamma(2.0, 0.2, size=shape)
    return rates, rng.poisson(rates)


def test_the_null_model_scores_exactly_zero():
    _, counts = planted_counts(20, (4, 30, 5))
    null = np.broadcast_to(counts.reshape(-1, 5).mean(axis=0), counts.shape)
    assert bits_per_spike(null, counts) == 0.0


def test_true_rates_of_a_planted_draw_score_above_zero_and_equal_scipy():
    rates, counts = planted_counts(21, (3, 10, 40, 6))
    bps = bits_per_spike(rates, counts)
    assert bps > 0.05
    mean = counts.reshape(-1, 6).mean(axis=0)
    gain = math.fsum(stats.poisson.logpmf(counts, rates).ravel()) - math.fsum(
        stats.poisson.logpmf(counts, np.broadcast_to(mean, counts.shape)).ravel()
    )
    assert bps == pytest.approx(gain / (counts.sum() * math.log(2)), rel=1e-12)


def test_bits_per_spike_edge_cases():
    counts = np.array([[0, 1], [2, 0]])
    assert bits_per_spike(np.array([[1.0, 0.0], [1.0, 1.0]]), counts) == -math.inf
    with pytest.raises(ValueError, match="no spike"):
        bits_per_spike(np.ones((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="finite and >= 0"):
        bits_per_spike(-np.ones((2, 2)), counts)
    with pytest.raises(ValueError, match="does not broadcast"):
        bits_per_spike(np.ones((3, 2)), counts)


# ----------------------------------------------------------------------------------------------
# co-smoothing


def smooth_features(seed, n_cond, n_times, d):
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=(n_cond, n_times + 40, d))
    kernel = np.exp(-0.5 * (np.arange(-20, 21) / 6.0) ** 2)
    out = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="valid"), 1, raw)
    return out / out.std()


def planted_neurons(seed, features, n_fit, n_eval, n_neurons=3):
    """Held-out neurons with log rate linear in the features; counts per 10 ms bin."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(0.0, 0.6, size=(features.shape[-1], n_neurons))
    rates = np.exp(np.log(0.3) + features @ weights)  # spikes per bin, about 30 Hz
    fit = rng.poisson(rates[:, None], size=(features.shape[0], n_fit, *rates.shape[1:]))
    ev = rng.poisson(rates[:, None], size=(features.shape[0], n_eval, *rates.shape[1:]))
    return rates, fit, ev


def test_fitting_trial_means_with_trial_weights_equals_fitting_every_trial():
    """The same maximum-likelihood problem: the all-trials fit (every trial a sample of weight
    1, features z-scored the same way) gives the same score to 1e-6 relative."""
    from sklearn.linear_model import PoissonRegressor

    features = smooth_features(22, 4, 30, 3)
    _, fit, ev = planted_neurons(23, features, 12, 10)
    mine = co_smoothing(features, fit, ev, alpha=0.05)
    x = features.reshape(-1, 3)
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    n_fit = fit.shape[1]
    z_all = np.tile(z[:, None], (1, n_fit, 1)).reshape(4, 30, n_fit, 3).transpose(0, 2, 1, 3)
    rates = np.empty((4, 30, 3))
    for j in range(3):
        model = PoissonRegressor(alpha=0.05, solver="newton-cholesky", tol=1e-10, max_iter=500)
        model.fit(z_all.reshape(-1, 3), fit[..., j].ravel())
        rates[..., j] = model.predict(z).reshape(4, 30)
    lam = np.broadcast_to(rates[:, None], ev.shape)
    null = np.broadcast_to(ev.reshape(-1, 3).mean(axis=0), ev.shape)
    gain = np.sum(stats.poisson.logpmf(ev, lam)) - np.sum(stats.poisson.logpmf(ev, null))
    assert mine == pytest.approx(gain / (ev.sum() * math.log(2)), rel=1e-6)


def test_features_that_drive_a_neuron_score_clearly_and_unrelated_ones_do_not():
    """Features whose exp-linear function is the neurons' rate score nearly the true rates'
    bits per spike; features independent of the neurons (white noise over conditions and bins)
    score about 0. Smooth but unrelated features sit in between: evaluated on held-out trials of
    the same conditions, any features that happen to span part of the neurons' PSTHs score."""
    features = smooth_features(24, 8, 80, 4)
    rates, fit, ev = planted_neurons(25, features, 40, 40)
    truth = bits_per_spike(np.broadcast_to(rates[:, None], ev.shape), ev)
    assert truth > 0.1
    assert co_smoothing(features, fit, ev) > 0.9 * truth
    white = np.random.default_rng(26).normal(size=features.shape)
    assert abs(co_smoothing(white, fit, ev)) < 0.02 * truth
    unrelated = smooth_features(26, 8, 80, 4)
    assert co_smoothing(unrelated, fit, ev) < 0.25 * truth


def test_smoothing_baseline_predicts_from_related_held_in_neurons_only():
    """Held-in neurons whose rates share the held-out neurons' latent factors predict them
    (bits per spike well above 0); constant-rate held-in neurons carry nothing (about 0 or
    below)."""
    features = smooth_features(27, 8, 80, 2)
    rng = np.random.default_rng(28)
    w_in = rng.normal(0.0, 0.6, size=(2, 30))
    w_out = rng.normal(0.0, 0.6, size=(2, 3))
    rates_in = 50.0 * np.exp(features @ w_in)
    rates_out = 30.0 * np.exp(features @ w_out)
    n_fit, n_eval = 30, 30
    held_in = draw_spikes(rates_in, 10, n_fit + n_eval, neuron_rngs(29, range(30)))
    held_out = draw_spikes(rates_out, 10, n_fit + n_eval, neuron_rngs(30, range(3))).binned(10)
    fit, ev = np.arange(n_fit), np.arange(n_fit, n_fit + n_eval)
    args = (held_out[:, fit], held_out[:, ev], 10)
    related = smoothing_baseline(held_in.select(trials=fit), held_in.select(trials=ev), *args)
    truth = bits_per_spike(
        np.broadcast_to(rates_out[:, None] * 1e-2, held_out[:, ev].shape), held_out[:, ev]
    )
    assert related > 0.5 * truth > 0.05
    flat = draw_spikes(
        constant_rates(8, 80, [50.0] * 30), 10, n_fit + n_eval, neuron_rngs(31, range(30))
    )
    unrelated = smoothing_baseline(flat.select(trials=fit), flat.select(trials=ev), *args)
    assert unrelated < 0.02 * truth


def test_smoothing_baseline_follows_its_definition():
    """Features log(s + 1e-4), s each trial's held-in spikes smoothed like a PSTH (in spikes per
    bin), z-scored over the fit samples; a Poisson regression per held-out neuron on every fit
    trial; bits per spike by scipy on the evaluation trials."""
    from sklearn.linear_model import PoissonRegressor

    rates = np.random.default_rng(40).uniform(10.0, 120.0, size=(3, 6, 5))
    spikes = draw_spikes(rates, 10, 8, neuron_rngs(40, range(5)))
    hint, held = spikes.select(neurons=[0, 1, 2]), spikes.select(neurons=[3, 4]).binned(10)
    fit, ev = np.arange(5), np.arange(5, 8)
    held_fit, held_eval = held[:, fit], held[:, ev]
    mine = smoothing_baseline(
        hint.select(trials=fit), hint.select(trials=ev), held_fit, held_eval, 10, 20.0, 0.1
    )

    def features(trials):
        per_trial = [reference_psth(hint.counts[:, [r]], 10, 20.0) * 1e-2 for r in trials]
        return np.log(np.stack(per_trial, axis=1) + 1e-4).reshape(-1, 3)

    x_fit, x_eval = features(fit), features(ev)
    mean, sd = x_fit.mean(axis=0), x_fit.std(axis=0)
    lam = np.empty((x_eval.shape[0], 2))
    for j in range(2):
        model = PoissonRegressor(alpha=0.1, solver="newton-cholesky", tol=1e-10, max_iter=500)
        model.fit((x_fit - mean) / sd, held_fit[..., j].ravel())
        lam[:, j] = model.predict((x_eval - mean) / sd)
    y = held_eval.reshape(-1, 2)
    gain = np.sum(stats.poisson.logpmf(y, lam)) - np.sum(stats.poisson.logpmf(y, y.mean(0)))
    assert mine == pytest.approx(gain / (y.sum() * math.log(2)), rel=1e-6)


def test_co_smoothing_refuses_a_neuron_without_fit_spikes_and_bad_shapes():
    features = smooth_features(32, 2, 10, 2)
    fit = np.zeros((2, 3, 10, 1))
    with pytest.raises(ValueError, match="no spike in the fit trials"):
        co_smoothing(features, fit, np.ones((2, 3, 10, 1)))
    with pytest.raises(ValueError, match="counts_eval must have shape"):
        co_smoothing(features, fit + 1, np.ones((2, 3, 9, 1)))


# ----------------------------------------------------------------------------------------------
# held-out neurons


def test_held_out_neurons_are_the_last_of_the_recording_order_and_nested():
    recorded = np.array([7, 3, 9, 1, 5, 0, 8, 2, 6, 4])
    hint, held = split_held_out(recorded, 0.2)
    np.testing.assert_array_equal(hint, [7, 3, 9, 1, 5, 0, 8, 2])
    np.testing.assert_array_equal(held, [6, 4])
    _, more = split_held_out(recorded, 0.5)
    assert set(held) <= set(more) and more.size == 5


@pytest.mark.parametrize(("fraction", "match"), [(0.04, "no held-out"), (0.96, "no hint")])
def test_a_fraction_leaving_no_hint_or_no_held_out_neuron_is_refused(fraction, match):
    with pytest.raises(ValueError, match=f"recording.held_out_fraction={fraction}.*{match}"):
        split_held_out(np.arange(10), fraction)
    with pytest.raises(ValueError, match="recording.held_out_fraction must be"):
        split_held_out(np.arange(10), 1.0)


# ----------------------------------------------------------------------------------------------
# NWB


def small_session():
    rates = np.random.default_rng(33).uniform(20.0, 200.0, size=(3, 5, 4))
    spikes = draw_spikes(rates, 10, 4, neuron_rngs(33, range(4)))
    emg = record_emg(
        np.random.default_rng(34).uniform(0, 1, (3, 5, 2)), 0.05, np.random.default_rng(35)
    )
    directions = 2 * np.pi * np.arange(3) / 3
    return spikes, emg, directions


def write_and_read(nwb, path):
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    with NWBHDF5IO(str(path), "r") as io:
        read = io.read()
        trials = read.trials.to_dataframe()
        units = [np.asarray(read.units["spike_times"][i]) for i in range(len(read.units))]
        ids = np.asarray(read.units.id[:])
        emg = read.acquisition["emg"]
        return {
            "trials": trials,
            "units": units,
            "ids": ids,
            "emg": np.asarray(emg.data[:]),
            "stamps": np.asarray(emg.timestamps[:]),
            "start": read.session_start_time,
            "created": list(read.file_create_date),
            "identifier": read.identifier,
        }


def test_nwb_file_round_trips_spikes_trials_and_emg(tmp_path):
    spikes, emg, directions = small_session()
    nwb = nwb_file(spikes, directions, 10, "run-1", emg=emg, neuron_ids=np.array([12, 3, 40, 7]))
    got = write_and_read(nwb, tmp_path / "session.nwb")
    trials = got["trials"]
    assert len(trials) == 12
    np.testing.assert_array_equal(got["ids"], [12, 3, 40, 7])
    for i, row in enumerate(trials.itertuples()):
        c, r = i % 3, i // 3
        assert (row.condition, row.repeat) == (c, r)
        assert row.direction_rad == pytest.approx(directions[c])
        assert row.start_time == pytest.approx(i * 1.05)  # 50 ms window + 1000 ms gap
        assert row.stop_time - row.start_time == pytest.approx(0.05)
        for k, times in enumerate(got["units"]):
            inside = times[(times >= row.start_time) & (times < row.stop_time)]
            assert inside.size == spikes.counts[c, r, :, k].sum()
            np.testing.assert_allclose(
                (inside - row.start_time) * 1e3, spikes.spike_times_ms(c, r, k), atol=1e-6
            )
    assert sum(t.size for t in got["units"]) == spikes.counts.sum()
    # every trial carries its condition's recorded envelope, in session-trial order
    np.testing.assert_array_equal(got["emg"], emg[np.arange(12) % 3].reshape(-1, 2))
    starts = trials.start_time.to_numpy()
    np.testing.assert_allclose(got["stamps"], (starts[:, None] + np.arange(5) * 0.01).ravel())


def test_same_inputs_give_the_same_nwb_content(tmp_path):
    spikes, emg, directions = small_session()
    a = write_and_read(nwb_file(spikes, directions, 10, "x", emg=emg), tmp_path / "a.nwb")
    b = write_and_read(nwb_file(spikes, directions, 10, "x", emg=emg), tmp_path / "b.nwb")
    assert (a["start"], a["created"], a["identifier"]) == (b["start"], b["created"], "x")
    assert a["trials"].equals(b["trials"])
    for ua, ub in zip(a["units"], b["units"], strict=True):
        np.testing.assert_array_equal(ua, ub)
    np.testing.assert_array_equal(a["emg"], b["emg"])


def test_nwb_file_refuses_mismatched_inputs():
    spikes, emg, directions = small_session()
    with pytest.raises(ValueError, match="directions_rad"):
        nwb_file(spikes, directions[:2], 10, "x")
    with pytest.raises(ValueError, match="emg must have shape"):
        nwb_file(spikes, directions, 10, "x", emg=emg[:, :3])
    with pytest.raises(ValueError, match="timezone-aware"):
        nwb_file(spikes, directions, 10, "x", session_start_time=datetime(2000, 1, 1))
    with pytest.raises(ValueError, match="unique non-negative"):
        nwb_file(spikes, directions, 10, "x", neuron_ids=np.array([1, 1, 2, 3]))


# ----------------------------------------------------------------------------------------------
# a run's recording and its co-smoothing scores


def recorded_rates(seed, n_cond=3, n_times=20, n_neurons=10):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, n_times)[None, :, None]
    phase = rng.uniform(0, 2 * np.pi, size=(n_cond, 1, n_neurons))
    return 30.0 + 25.0 * np.sin(2 * np.pi * t + phase)


def test_an_exact_recording_is_the_rates_sorted_by_neuron_with_nothing_held_out():
    rates = recorded_rates(40)
    order = np.array([7, 2, 9, 0, 4, 5, 1, 8, 3, 6])
    rec = record_neurons(rates, order, 12, 10, RecordingParams())
    np.testing.assert_array_equal(rec.neurons, np.sort(order))
    np.testing.assert_array_equal(rec.psth, rates[:, :, np.argsort(order)])
    assert not rec.held_out.any() and rec.spikes is None and rec.halves is None
    np.testing.assert_array_equal(rec.hints([2, 0]), rec.psth[[2, 0]])


def test_a_spike_recording_holds_out_the_last_recorded_and_is_nested_across_fractions():
    """Held out: the last round(0.2 K) in recording order. A neuron's spikes are the same
    whoever else is recorded (a larger fraction records a superset)."""
    rates = recorded_rates(41)
    order = np.array([7, 2, 9, 0, 4, 5, 1, 8, 3, 6])
    params = RecordingParams(n_trials=6)
    rng_of = dict(zip(order, neuron_rngs(41, order), strict=True))
    rec = record_neurons(rates, order, 12, 10, params, [rng_of[k] for k in order])
    np.testing.assert_array_equal(rec.neurons[rec.held_out], [3, 6])
    np.testing.assert_array_equal(rec.hint_units, [0, 1, 2, 4, 5, 7, 8, 9])
    np.testing.assert_array_equal(rec.psth, psth(rec.spikes, 10, 30.0))
    for half, trials in zip(rec.halves, trial_halves(6), strict=True):
        np.testing.assert_array_equal(half, psth(rec.spikes.select(trials=trials), 10, 30.0))
    fewer = record_neurons(rates[:, :, :6], order[:6], 12, 10, params, neuron_rngs(41, order[:6]))
    for k in order[:6]:
        a = fewer.spikes.counts[..., np.flatnonzero(fewer.neurons == k)[0]]
        b = rec.spikes.counts[..., np.flatnonzero(rec.neurons == k)[0]]
        np.testing.assert_array_equal(a, b)


def test_a_recording_round_trips_through_its_arrays():
    rates = recorded_rates(42)
    order = np.arange(10)[::-1]
    rec = record_neurons(rates, order, 12, 10, RecordingParams(n_trials=4), neuron_rngs(42, order))
    arrays = {name: data for name, (_, data) in rec.arrays().items()}
    back = Recording.from_arrays(arrays, rec.n_circuit_neurons)
    for name in ("neurons", "held_out", "psth", "halves"):
        np.testing.assert_array_equal(getattr(back, name), getattr(rec, name))
    np.testing.assert_array_equal(back.spikes.counts, rec.spikes.counts)
    del arrays["counts"]
    assert Recording.from_arrays(arrays, 12).spikes is None


def test_score_models_is_co_smoothing_of_each_models_pcs_and_the_smoothing_baseline():
    """A model whose units are the true rates beats one of unrelated smooth activity; every
    score equals co_smoothing / smoothing_baseline called on the same halves and PCs."""
    rates = recorded_rates(43, n_cond=4, n_times=30, n_neurons=10)
    order = np.arange(10)
    params = RecordingParams(n_trials=10, held_out_fraction=0.3, n_pcs=3)
    rec = record_neurons(rates, order, 10, 10, params, neuron_rngs(43, order))
    mixing = np.random.default_rng(44).normal(size=(10, 15))
    models = {
        "truth": rates @ mixing,
        "unrelated": smooth_features(45, 4, 30, 15),
    }
    directions = np.array([0, 1, 3])
    scores, scored = score_models(models, rec, directions, 10, params)
    np.testing.assert_array_equal(scored, [7, 8, 9])
    assert scores["truth"] > 0.05 > scores["unrelated"]
    counts = rec.spikes.select(neurons=[7, 8, 9]).binned(10)[directions]
    first, second = trial_halves(10)
    x = models["truth"][directions].reshape(-1, 15)
    x = x - x.mean(axis=0)
    pcs = (x @ np.linalg.svd(x, full_matrices=False)[2][:3].T).reshape(3, 30, 3)
    assert scores["truth"] == pytest.approx(
        co_smoothing(pcs, counts[:, first], counts[:, second], params.alpha), rel=1e-9
    )
    hint = Spikes(rec.spikes.select(neurons=np.arange(7)).counts[directions])
    baseline = smoothing_baseline(
        hint.select(trials=first),
        hint.select(trials=second),
        counts[:, first],
        counts[:, second],
        10,
        30.0,
        params.alpha,
    )
    assert scores["smoothing"] == pytest.approx(baseline, rel=1e-12)


def test_score_models_leaves_out_a_held_out_neuron_without_spikes():
    rates = recorded_rates(46, n_neurons=6)
    rates[:, :, 5] = 0.0  # the last recorded, held out, never fires
    order = np.arange(6)
    params = RecordingParams(n_trials=4, held_out_fraction=0.34)
    rec = record_neurons(rates, order, 6, 10, params, neuron_rngs(46, order))
    _, scored = score_models({"m": rates}, rec, np.arange(3), 10, params)
    np.testing.assert_array_equal(scored, [4])
    with pytest.raises(ValueError, match="needs a spike recording"):
        score_models(
            {"m": rates}, record_neurons(rates, order, 6, 10, RecordingParams()), [0], 10, params
        )
