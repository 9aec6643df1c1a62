"""Tests for the synthetic EMG targets (hintforce.emg)."""

import math

import numpy as np
import pytest

from hintforce.emg import (
    EMG,
    EMGParams,
    angle_kernel,
    envelope,
    sample_emg,
    time_kernel,
)

SEEDS = range(5)


@pytest.fixture(scope="module")
def params():
    return EMGParams()


@pytest.fixture(scope="module")
def samples(params):
    return [sample_emg(params, np.random.default_rng(seed)) for seed in SEEDS]


@pytest.fixture(scope="module")
def emg(samples):
    return samples[0]


def test_emg_is_condition_by_time_by_muscle(emg):
    assert isinstance(emg, EMG)
    assert emg.emg.shape == (8, 80, 10)
    assert emg.emg.dtype == np.float64
    assert np.all(np.isfinite(emg.emg))


def test_time_grid_runs_from_0_to_790_ms_in_10_ms_bins(emg):
    np.testing.assert_array_equal(emg.time_ms, np.arange(0.0, 800.0, 10.0))


def test_conditions_are_evenly_spaced_reach_angles(emg):
    np.testing.assert_allclose(emg.angle_rad, 2 * np.pi * np.arange(8) / 8, rtol=0, atol=1e-15)


def test_each_muscle_peaks_at_exactly_one(samples):
    for sample in samples:
        np.testing.assert_array_equal(sample.emg.max(axis=(0, 1)), np.ones(10))


def test_traces_start_and_end_at_a_baseline_in_the_allowed_range(params, samples):
    for sample in samples:
        first = sample.emg[:, 0, :]  # (condition, muscle)
        last = sample.emg[:, -1, :]
        baseline = first[0]  # one baseline per muscle, shared by all conditions
        np.testing.assert_allclose(first, np.broadcast_to(baseline, first.shape), atol=1e-12)
        np.testing.assert_allclose(last, np.broadcast_to(baseline, last.shape), atol=1e-12)
        assert np.all(baseline >= params.baseline_low - 1e-12)
        assert np.all(baseline <= params.baseline_high + 1e-12)


def test_activity_never_drops_below_the_muscle_baseline(samples):
    for sample in samples:
        baseline = sample.emg[0, 0, :]
        assert np.all(sample.emg >= baseline - 1e-12)


def test_activity_rises_well_above_baseline_in_every_condition(samples):
    # bursts: every muscle is active somewhere, and most condition traces are not flat
    for sample in samples:
        rise = sample.emg.max(axis=1) - sample.emg[:, 0, :]  # (condition, muscle)
        assert np.all(rise.max(axis=0) > 0.8)
        assert np.mean(rise > 0.1) > 0.7


def _direction_correlations(sample):
    """Mean over muscles and conditions of corr over time, for each angular offset."""
    x = sample.emg - sample.emg.mean(axis=1, keepdims=True)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    n_conditions = x.shape[0]
    return np.array(
        [
            np.mean(np.sum(x * np.roll(x, -offset, axis=0), axis=1))
            for offset in range(n_conditions // 2 + 1)
        ]
    )


def test_neighbouring_directions_correlate_and_opposite_ones_weakly(samples):
    corr = np.mean([_direction_correlations(sample) for sample in samples], axis=0)
    neighbour, opposite = corr[1], corr[-1]
    assert 0.55 < neighbour < 0.85
    assert opposite < 0.4
    assert neighbour - opposite > 0.3
    # similarity falls with angular distance
    assert np.all(np.diff(corr) < 0)


def test_kernels_have_their_closed_form_values():
    t = np.array([0.0, 80.0, 160.0])
    kt = time_kernel(t, 80.0)
    np.testing.assert_allclose(kt[0], [1.0, math.exp(-0.5), math.exp(-2.0)], rtol=1e-15)
    theta = 2 * np.pi * np.arange(8) / 8
    ka = angle_kernel(theta, 1.0)
    assert ka[0, 1] == pytest.approx(math.exp(-2 * math.sin(math.pi / 8) ** 2), rel=1e-14)
    assert ka[0, 4] == pytest.approx(math.exp(-2.0), rel=1e-14)
    np.testing.assert_allclose(ka, ka.T, rtol=0, atol=0)
    np.testing.assert_allclose(ka[1, 2], ka[0, 1], rtol=1e-14)  # stationary on the circle
    np.testing.assert_allclose(ka[0, 7], ka[0, 1], rtol=1e-14)  # periodic


def test_envelope_is_zero_at_both_ends_one_in_the_middle_and_bounded():
    t = np.arange(0.0, 800.0, 10.0)
    env = envelope(t, 150.0)
    assert env[0] == 0.0
    assert env[-1] == 0.0
    assert np.all((env >= 0) & (env <= 1))
    np.testing.assert_array_equal(env[(t >= 150.0) & (t <= 640.0)], 1.0)
    # smooth: no jump larger than a sin^2 ramp over 15 bins allows
    assert np.abs(np.diff(env)).max() < math.pi / 2 / 15 + 1e-12


def test_same_seed_gives_bit_identical_emg(params, emg):
    again = sample_emg(params, np.random.default_rng(0))
    np.testing.assert_array_equal(again.emg, emg.emg)


def test_different_seed_gives_different_emg(samples):
    assert not np.array_equal(samples[0].emg, samples[1].emg)


def test_sizes_follow_the_parameters():
    params = EMGParams(n_muscles=3, n_conditions=5, n_times=40, dt_ms=20.0)
    sample = sample_emg(params, np.random.default_rng(0))
    assert sample.emg.shape == (5, 40, 3)
    np.testing.assert_array_equal(sample.time_ms, 20.0 * np.arange(40))
    np.testing.assert_array_equal(sample.emg.max(axis=(0, 1)), np.ones(3))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("n_muscles", 0),
        ("n_muscles", 2.5),
        ("n_conditions", -1),
        ("n_times", 0),
        ("n_times", 2),
        ("dt_ms", 0.0),
        ("dt_ms", float("nan")),
        ("length_time_ms", -80.0),
        ("length_time_ms", float("inf")),
        ("length_angle_rad", 0.0),
        ("softplus_beta", 0.0),
        ("softplus_beta", float("nan")),
        ("baseline_low", -0.1),
        ("baseline_low", 0.2),  # above baseline_high
        ("baseline_high", 1.0),
        ("baseline_high", float("nan")),
        ("envelope_ramp_ms", 0.0),
        ("envelope_ramp_ms", 500.0),  # longer than half the trial
        ("jitter", 0.0),
        ("jitter", 0.5),
    ],
)
def test_bad_parameter_raises_value_error_naming_it(name, value):
    with pytest.raises(ValueError, match=name):
        EMGParams(**{name: value})
