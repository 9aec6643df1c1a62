"""The reaching task (hintforce.task): directions, encodings, trial structure and the split."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from hintforce.emg import reach_angles
from hintforce.force import ForceParams, Network, draw_shared, trajectory
from hintforce.task import (
    ENCODINGS,
    INTERLEAVED,
    MIN_TRAINING_DIRECTIONS,
    NONE,
    Angle,
    OneHot,
    Task,
    check_trainable,
    held_out_indices,
)


def test_held_out_settings_name_the_documented_directions():
    assert held_out_indices(NONE, 8) == ()
    assert held_out_indices(INTERLEAVED, 8) == (1, 3, 5, 7)
    assert held_out_indices([5, 2], 8) == (2, 5)
    assert held_out_indices((5, 2), 8) == (2, 5)
    assert held_out_indices(np.array([3, 1]), 8) == (1, 3)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("odd", "must be 'none', 'interleaved' or a list"),
        ([], "lists no direction"),
        ([8], "out of range"),
        ([-1], "out of range"),
        ([1, 1], "must not repeat"),
        ([True], "a list of direction indices"),
        ([1.5], "a list of direction indices"),
    ],
)
def test_bad_held_out_settings_are_refused_naming_the_setting(setting, message):
    with pytest.raises(ValueError, match=message):
        held_out_indices(setting, 8)


def test_a_list_or_tuple_split_is_one_task():
    a = Task(input="angle", held_out_directions=[5, 1])
    b = Task(input="angle", held_out_directions=(1, 5))
    assert a == b and hash(a) == hash(b) and a.held_out_directions == (1, 5)


def test_training_and_held_out_directions_partition_the_circle():
    task = Task(n_directions=16, input="angle", held_out_directions=INTERLEAVED)
    np.testing.assert_array_equal(task.training, np.arange(0, 16, 2))
    np.testing.assert_array_equal(task.held_out, np.arange(1, 16, 2))
    assert Task().held_out.size == 0 and Task().training.size == 8


def test_the_angle_input_is_cos_sin_and_a_constant_channel():
    task = Task(n_directions=6, input="angle")
    trials = task.trials(np.array([0, 2, 5]))
    theta = 2 * np.pi * np.array([0, 2, 5]) / 6
    expected = np.column_stack([np.cos(theta), np.sin(theta), np.ones(3)])
    np.testing.assert_allclose(trials.inputs, expected, atol=1e-15)
    assert task.n_channels == 3 and trials.n_prep == task.n_prep


def test_the_one_hot_input_is_one_channel_per_direction():
    task = Task(n_directions=5)
    np.testing.assert_array_equal(task.trials(np.array([3, 0])).inputs, np.eye(5)[[3, 0]])
    assert task.n_channels == 5


def test_the_trial_structure_counts_bins_of_the_networks_step():
    task = Task(n_times=80, bin_ms=10.0, prep_ms=200.0, rest_ms=300.0)
    assert (task.n_prep, task.n_rest, task.n_window) == (20, 30, 110)
    np.testing.assert_array_equal(task.window_ms, 10.0 * np.arange(110))


def test_rest_targets_hold_each_channels_final_movement_value():
    task = Task(n_directions=3, n_times=4, rest_ms=20.0)
    targets = np.random.default_rng(0).normal(size=(3, 4, 2))
    held = task.with_rest(targets)
    np.testing.assert_array_equal(held[:, :4], targets)
    np.testing.assert_array_equal(held[:, 4:], np.repeat(targets[:, -1:], 2, axis=1))
    np.testing.assert_array_equal(Task(n_directions=3, n_times=4).with_rest(targets), targets)
    with pytest.raises(ValueError, match="targets must have shape"):
        task.with_rest(targets[:, :3])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"prep_ms": 15.0}, "prep_ms must be a multiple"),
        ({"prep_ms": 0.0}, "prep_ms"),
        ({"rest_ms": -10.0}, "rest_ms"),
        ({"rest_ms": 25.0}, "rest_ms must be a multiple"),
        ({"input": "polar"}, "input must be one of"),
        ({"held_out_directions": INTERLEAVED}, "one_hot input cannot encode"),
        ({"input": "angle", "held_out_directions": list(range(8))}, "holds out all 8"),
        ({"n_directions": 0}, "n_directions"),
    ],
)
def test_bad_tasks_are_refused_naming_the_parameter(settings, message):
    with pytest.raises(ValueError, match=message):
        Task(**settings)


def test_a_study_needs_four_training_directions_and_two_held_out():
    check_trainable(Task(n_directions=8, input="angle", held_out_directions=INTERLEAVED))
    with pytest.raises(ValueError, match=f"at least {MIN_TRAINING_DIRECTIONS} must train"):
        check_trainable(Task(n_directions=6, input="angle", held_out_directions=INTERLEAVED))
    with pytest.raises(ValueError, match="hold out at least 2"):
        check_trainable(Task(n_directions=8, input="angle", held_out_directions=[3]))


# ----------------------------------------------------------------------------------------------
# validation of the task's parameters


@pytest.mark.parametrize("n_directions", [0, -3, 2.5, True, "8"])
def test_a_bad_number_of_directions_is_refused(n_directions):
    with pytest.raises(ValueError, match="n_directions must be an integer >= 1"):
        Task(n_directions=n_directions)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"prep_ms": 205.0}, r"prep_ms must be a multiple of the bin width 10 ms, got 205\.0"),
        ({"prep_ms": 0.0}, r"prep_ms must be a finite number in \(0, inf\)"),
        ({"prep_ms": -10.0}, r"prep_ms must be a finite number in \(0, inf\)"),
        ({"prep_ms": float("nan")}, "prep_ms"),
        ({"rest_ms": 5.0}, r"rest_ms must be a multiple of the bin width 10 ms, got 5\.0"),
        ({"rest_ms": -10.0}, r"rest_ms must be a finite number in \[0, inf\)"),
        ({"rest_ms": float("inf")}, "rest_ms"),
        ({"bin_ms": 0.0}, "bin_ms"),
        ({"n_times": 0}, "n_times"),
        ({"input": "One_Hot"}, "input must be one of one_hot, angle, got 'One_Hot'"),
    ],
)
def test_bad_trial_settings_are_refused_with_the_rule(settings, message):
    with pytest.raises(ValueError, match=message):
        Task(**settings)


def test_valid_boundary_settings_are_accepted():
    assert Task(rest_ms=0.0).n_rest == 0
    assert Task(prep_ms=10.0).n_prep == 1
    # 0.3 / 0.1 is 2.9999999999999996 in floating point: still a whole number of bins
    assert Task(bin_ms=0.1, prep_ms=0.3, rest_ms=0.7).n_prep == 3
    assert Task(bin_ms=0.1, prep_ms=0.3, rest_ms=0.7).n_rest == 7


@pytest.mark.parametrize("held_out", [INTERLEAVED, [2, 4], (0,), np.array([1, 7])])
def test_a_one_hot_input_refuses_held_out_directions_naming_the_setting(held_out):
    with pytest.raises(ValueError, match=r"^held_out_directions: a one_hot input cannot encode"):
        Task(input="one_hot", held_out_directions=held_out)
    # the same split is accepted with the input that generalises
    assert Task(input="angle", held_out_directions=held_out).held_out.size > 0


def test_a_one_hot_input_without_held_out_directions_is_accepted():
    task = Task(input="one_hot", held_out_directions=NONE)
    assert task.held_out.size == 0 and task.encoding is ENCODINGS["one_hot"]


@pytest.mark.parametrize("n_directions", [1, 3, 8])
def test_holding_every_direction_out_is_refused(n_directions):
    every = list(range(n_directions))[::-1]
    with pytest.raises(ValueError, match=f"holds out all {n_directions} directions"):
        Task(n_directions=n_directions, input="angle", held_out_directions=every)
    # one direction fewer leaves one to train
    if n_directions > 1:
        task = Task(n_directions=n_directions, input="angle", held_out_directions=every[1:])
        np.testing.assert_array_equal(task.training, [every[0]])


# ----------------------------------------------------------------------------------------------
# held-out directions


@pytest.mark.parametrize("n_directions", [1, 2, 5, 8, 13])
def test_interleaved_holds_out_exactly_the_odd_directions(n_directions):
    expected = tuple(c for c in range(n_directions) if c % 2 == 1)
    assert held_out_indices(INTERLEAVED, n_directions) == expected
    assert held_out_indices(NONE, n_directions) == ()


def test_listed_directions_come_back_sorted_as_python_ints():
    for setting in ([6, 0, 3], (6, 0, 3), np.array([6, 0, 3]), [np.int64(6), 0, np.int32(3)]):
        result = held_out_indices(setting, 7)
        assert result == (0, 3, 6)
        assert isinstance(result, tuple)
        assert all(type(c) is int for c in result)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ([2, 5, 2], r"held_out_directions must not repeat a direction, got \[2, 5, 2\]"),
        ((1, 1), r"held_out_directions must not repeat a direction"),
        ([0, 8, 9], r"held_out_directions: indices \[8, 9\] are out of range; the 8 directions"),
        ([-2, 3], r"held_out_directions: indices \[-2\] are out of range"),
        ([], r"held_out_directions lists no direction; use 'none'"),
        ((), r"held_out_directions lists no direction"),
        (np.array([], dtype=int), r"held_out_directions lists no direction"),
        ([True, 2], r"held_out_directions must be 'none', 'interleaved' or a list"),
        ([False], r"held_out_directions must be 'none', 'interleaved' or a list"),
        ([1.0], r"held_out_directions must be 'none', 'interleaved' or a list"),
        (["1"], r"held_out_directions must be 'none', 'interleaved' or a list"),
        ([None], r"held_out_directions must be 'none', 'interleaved' or a list"),
        ({1, 2}, r"held_out_directions must be 'none', 'interleaved' or a list"),
        (3, r"held_out_directions must be 'none', 'interleaved' or a list"),
        (np.array([[1, 2]]), r"held_out_directions must be 'none', 'interleaved' or a list"),
        (np.array([1.0, 2.0]), r"held_out_directions must be 'none', 'interleaved' or a list"),
        ("Interleaved", r"held_out_directions must be .*got 'Interleaved'"),
    ],
)
def test_bad_held_out_settings_are_refused_with_what_is_allowed(setting, message):
    with pytest.raises(ValueError, match=message):
        held_out_indices(setting, 8)
    with pytest.raises(ValueError, match="held_out_directions"):
        Task(input="angle", held_out_directions=setting)


def test_a_listed_split_is_normalised_to_a_sorted_tuple():
    for setting in ([7, 2, 4], (4, 7, 2), np.array([2, 7, 4])):
        task = Task(input="angle", held_out_directions=setting)
        assert task.held_out_directions == (2, 4, 7)
        assert type(task.held_out_directions) is tuple
    tasks = {Task(input="angle", held_out_directions=s) for s in ([7, 2], (2, 7), np.array([7, 2]))}
    assert len(tasks) == 1
    assert Task(input="angle", held_out_directions=[2, 7]) != Task(
        input="angle", held_out_directions=[2, 6]
    )
    # a named rule is kept as its name
    assert Task(input="angle", held_out_directions=INTERLEAVED).held_out_directions == INTERLEAVED
    assert Task().held_out_directions == NONE


@pytest.mark.parametrize(
    ("n_directions", "held_out", "expected_held"),
    [
        (8, NONE, []),
        (8, INTERLEAVED, [1, 3, 5, 7]),
        (7, INTERLEAVED, [1, 3, 5]),
        (12, [11, 0, 5], [0, 5, 11]),
        (3, (2,), [2]),
    ],
)
def test_training_and_held_out_are_disjoint_and_cover_every_direction(
    n_directions, held_out, expected_held
):
    task = Task(n_directions=n_directions, input="angle", held_out_directions=held_out)
    training, held = task.training, task.held_out
    assert np.intersect1d(training, held).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([training, held])), range(n_directions))
    assert np.all(np.diff(training) > 0) and np.all(np.diff(held) > 0)
    assert training.dtype.kind == "i" and held.dtype.kind == "i"
    np.testing.assert_array_equal(held, np.array(expected_held, dtype=int))
    expected_training = [c for c in range(n_directions) if c not in expected_held]
    np.testing.assert_array_equal(training, np.array(expected_training, dtype=int))


# ----------------------------------------------------------------------------------------------
# encodings


def test_the_encodings_registry():
    assert set(ENCODINGS) == {"one_hot", "angle"}
    assert isinstance(ENCODINGS["one_hot"], OneHot) and isinstance(ENCODINGS["angle"], Angle)
    assert ENCODINGS["one_hot"].generalises is False
    assert ENCODINGS["angle"].generalises is True
    assert all(name == e.name for name, e in ENCODINGS.items())


@pytest.mark.parametrize("n_directions", [1, 4, 7])
def test_one_hot_rows_are_rows_of_the_identity(n_directions):
    task = Task(n_directions=n_directions)
    assert task.n_channels == n_directions == OneHot().channels(n_directions)
    directions = np.arange(n_directions)[::-1]
    inputs = task.trials(directions).inputs
    assert inputs.shape == (n_directions, n_directions)
    for row, c in zip(inputs, directions, strict=True):
        expected = np.zeros(n_directions)
        expected[c] = 1.0
        np.testing.assert_array_equal(row, expected)


@pytest.mark.parametrize("n_directions", [1, 3, 8, 16])
def test_angle_inputs_are_points_on_the_circle_and_the_onset_channel(n_directions):
    task = Task(n_directions=n_directions, input="angle")
    assert task.n_channels == 3 == Angle().channels(n_directions)
    # the angles: hintforce.emg.reach_angles and the design formula 2 pi c / C
    np.testing.assert_array_equal(task.angles, reach_angles(n_directions))
    theta = np.array([2.0 * math.pi * c / n_directions for c in range(n_directions)])
    np.testing.assert_allclose(task.angles, theta, rtol=0, atol=1e-15)
    directions = np.array([c for c in range(n_directions) for _ in range(2)])  # repeats too
    inputs = task.trials(directions).inputs
    assert inputs.shape == (directions.size, 3)
    for row, c in zip(inputs, directions, strict=True):
        t = 2.0 * math.pi * c / n_directions
        np.testing.assert_allclose(row, [math.cos(t), math.sin(t), 1.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.hypot(inputs[:, 0], inputs[:, 1]), 1.0, rtol=0, atol=1e-15)


def test_angle_inputs_of_opposite_directions_are_negatives_in_the_angle_channels():
    task = Task(n_directions=8, input="angle")
    inputs = task.trials(np.arange(8)).inputs
    np.testing.assert_allclose(inputs[4:, :2], -inputs[:4, :2], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(inputs[:, 2], np.ones(8))


def test_trials_keep_the_directions_and_the_preparatory_steps():
    task = Task(n_directions=6, input="angle", prep_ms=70.0)
    trials = task.trials([4, 1, 1])
    np.testing.assert_array_equal(trials.directions, [4, 1, 1])
    assert trials.directions.dtype.kind == "i"
    assert trials.size == 3 and trials.n_prep == 7
    empty = task.trials(np.array([], dtype=int))
    assert empty.size == 0 and empty.inputs.shape == (0, 3)


# ----------------------------------------------------------------------------------------------
# the trial's time structure


@pytest.mark.parametrize(
    ("n_times", "bin_ms", "prep_ms", "rest_ms", "n_prep", "n_rest"),
    [
        (80, 10.0, 200.0, 0.0, 20, 0),
        (5, 2.0, 4.0, 6.0, 2, 3),
        (3, 2.5, 7.5, 1000.0, 3, 400),
    ],
)
def test_bin_counts_and_the_window_grid(n_times, bin_ms, prep_ms, rest_ms, n_prep, n_rest):
    task = Task(n_times=n_times, bin_ms=bin_ms, prep_ms=prep_ms, rest_ms=rest_ms)
    assert (task.n_prep, task.n_rest) == (n_prep, n_rest)
    assert task.n_window == n_times + n_rest
    assert type(task.n_prep) is int and type(task.n_rest) is int
    window = task.window_ms
    assert window.shape == (n_times + n_rest,) and window.dtype == np.float64
    np.testing.assert_allclose(window, [k * bin_ms for k in range(n_times + n_rest)], rtol=1e-15)
    # the window spans the movement and the rest
    assert window[-1] + bin_ms == pytest.approx((n_times * bin_ms) + rest_ms)


def test_with_rest_keeps_the_movement_and_holds_the_last_row():
    task = Task(n_directions=2, n_times=3, rest_ms=40.0)
    targets = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2)
    out = task.with_rest(targets)
    assert out.shape == (2, 7, 2)
    expected = np.array(
        [
            [[0, 1], [2, 3], [4, 5], [4, 5], [4, 5], [4, 5], [4, 5]],
            [[6, 7], [8, 9], [10, 11], [10, 11], [10, 11], [10, 11], [10, 11]],
        ],
        dtype=float,
    )
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(targets, np.arange(12.0).reshape(2, 3, 2))  # input untouched
    # integer and list inputs give float targets
    assert task.with_rest(targets.astype(int).tolist()).dtype == np.float64


def test_with_rest_without_a_rest_window_returns_the_values_unchanged():
    task = Task(n_directions=3, n_times=4)
    targets = np.random.default_rng(1).normal(size=(3, 4, 5))
    out = task.with_rest(targets)
    assert out.shape == targets.shape
    np.testing.assert_array_equal(out, targets)


@pytest.mark.parametrize("shape", [(3, 5, 2), (3, 4), (4,), (1, 3, 4, 2)])
def test_with_rest_refuses_targets_not_on_the_movement_window(shape):
    task = Task(n_directions=3, n_times=4, rest_ms=20.0)
    with pytest.raises(ValueError, match=r"targets must have shape \(C, 4, M\), got shape"):
        task.with_rest(np.zeros(shape))


# ----------------------------------------------------------------------------------------------
# trainability


@pytest.mark.parametrize(
    ("n_directions", "held_out", "n_training"),
    [(6, INTERLEAVED, 3), (5, INTERLEAVED, 3), (5, [0, 1], 3), (4, [0, 2], 2), (3, NONE, 3)],
)
def test_too_few_training_directions_are_refused(n_directions, held_out, n_training):
    task = Task(n_directions=n_directions, input="angle", held_out_directions=held_out)
    assert task.training.size == n_training < MIN_TRAINING_DIRECTIONS
    with pytest.raises(
        ValueError,
        match=f"held_out_directions leaves {n_training} of {n_directions} directions for "
        f"training; at least {MIN_TRAINING_DIRECTIONS} must train",
    ):
        check_trainable(task)


@pytest.mark.parametrize(
    ("n_directions", "held_out"),
    [
        (8, INTERLEAVED),
        (7, INTERLEAVED),
        (6, [0, 3]),
        (4, NONE),
        (16, INTERLEAVED),
        (10, [9, 0, 4, 5, 6, 1]),
    ],
)
def test_enough_training_and_held_out_directions_are_accepted(n_directions, held_out):
    task = Task(n_directions=n_directions, input="angle", held_out_directions=held_out)
    assert task.training.size >= MIN_TRAINING_DIRECTIONS
    assert check_trainable(task) is None


def test_a_single_held_out_direction_is_refused_naming_it():
    assert MIN_TRAINING_DIRECTIONS == 4
    task = Task(n_directions=9, input="angle", held_out_directions=(6,))
    with pytest.raises(ValueError, match=r"held_out_directions holds out one direction \(6\)"):
        check_trainable(task)


# ----------------------------------------------------------------------------------------------
# why the angle input has an onset channel: odd symmetry of a tanh network


def _clean_output(task, shared, net, n_steps, params):
    trials = task.trials(np.arange(task.n_directions))
    states = trajectory(net, trials, shared, n_steps, params)
    return states, np.tanh(states) @ net.W.T


def test_a_tanh_network_driven_by_cos_and_sin_alone_is_odd_symmetric():
    params = ForceParams(n_units=40, tau_ms=50.0, dt_ms=10.0, n_passes=1, n_noisy_starts=1)
    task = Task(n_directions=8, n_times=10, bin_ms=10.0, prep_ms=100.0, input="angle")
    shared = draw_shared(task, 3, 0, params, np.random.default_rng(3))
    net = Network(
        J=shared.J_D,
        W=np.random.default_rng(4).normal(size=(3, params.n_units)),
        output_mse=np.zeros(1),
    )
    # without the onset channel: the trajectory of theta + pi is minus that of theta
    no_onset = dataclasses.replace(shared, u_in=shared.u_in * np.array([1.0, 1.0, 0.0]))
    states, output = _clean_output(task, no_onset, net, 30, params)
    assert np.abs(states).max() > 0.5  # the input drives the network far from x = 0
    np.testing.assert_allclose(states[4:], -states[:4], rtol=0, atol=1e-10)
    np.testing.assert_allclose(output[4:], -output[:4], rtol=0, atol=1e-10)
    # with it, opposite directions are no longer mirror images
    states, output = _clean_output(task, shared, net, 30, params)
    assert np.abs(output[4:] + output[:4]).max() > 0.1 * np.abs(output).max()


def test_a_preparatory_period_shorter_than_a_bin_and_unknown_trial_directions_are_refused():
    with pytest.raises(ValueError, match="prep_ms must be at least one bin"):
        Task(prep_ms=1e-9)
    for bad in ([-1], [4]):
        with pytest.raises(ValueError, match="directions must be indices in 0..3"):
            Task(n_directions=4, input="angle").trials(np.array(bad))
