import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hintforce.observe import Observation, observe


def test_study_defaults_observe_60_of_200_neurons_and_4_of_10_muscles():
    obs = observe(200, 10, 0.3, 0.4, np.random.default_rng(0))
    assert obs.neurons.shape == (60,)
    assert obs.muscles.shape == (4,)


@given(
    seed=st.integers(0, 2**32 - 1),
    n_neurons=st.integers(1, 300),
    n_muscles=st.integers(1, 20),
    neuron_fraction=st.floats(0.01, 1.0),
    muscle_fraction=st.floats(0.01, 1.0),
)
def test_observed_indices_are_sorted_unique_in_range_and_sized_by_rounding(
    seed, n_neurons, n_muscles, neuron_fraction, muscle_fraction
):
    expected_neurons = round(neuron_fraction * n_neurons)
    expected_muscles = round(muscle_fraction * n_muscles)
    rng = np.random.default_rng(seed)
    if expected_neurons < 1 or expected_muscles < 1:
        with pytest.raises(ValueError, match="selects 0 of"):
            observe(n_neurons, n_muscles, neuron_fraction, muscle_fraction, rng)
        return
    obs = observe(n_neurons, n_muscles, neuron_fraction, muscle_fraction, rng)
    for idx, n, expected in (
        (obs.neurons, n_neurons, expected_neurons),
        (obs.muscles, n_muscles, expected_muscles),
    ):
        assert idx.size == expected
        assert np.issubdtype(idx.dtype, np.integer)
        assert np.all(np.diff(idx) > 0)  # sorted and unique
        assert idx.min() >= 0 and idx.max() < n


@given(seed=st.integers(0, 2**32 - 1))
def test_larger_fractions_contain_smaller_fractions_subsets(seed):
    neuron_fractions = [0.1, 0.2, 0.3, 0.5, 0.8, 1.0]
    muscle_fractions = [0.2, 0.4, 0.6, 1.0]
    subsets = [
        observe(200, 10, nf, mf, np.random.default_rng(seed))
        for nf, mf in zip(neuron_fractions, muscle_fractions + [1.0, 1.0], strict=True)
    ]
    for small, large in zip(subsets[:-1], subsets[1:], strict=True):
        assert set(small.neurons) <= set(large.neurons)
        assert set(small.muscles) <= set(large.muscles)
    assert np.array_equal(subsets[-1].neurons, np.arange(200))


def test_muscle_subset_does_not_depend_on_neuron_fraction():
    a = observe(200, 10, 0.1, 0.4, np.random.default_rng(3))
    b = observe(200, 10, 0.9, 0.4, np.random.default_rng(3))
    assert np.array_equal(a.muscles, b.muscles)


def test_same_seed_gives_same_observation_and_different_seeds_differ():
    a = observe(200, 10, 0.3, 0.4, np.random.default_rng(7))
    b = observe(200, 10, 0.3, 0.4, np.random.default_rng(7))
    c = observe(200, 10, 0.3, 0.4, np.random.default_rng(8))
    assert np.array_equal(a.neurons, b.neurons) and np.array_equal(a.muscles, b.muscles)
    assert not np.array_equal(a.neurons, c.neurons)


def test_fraction_rounding_to_zero_units_names_the_fraction():
    with pytest.raises(ValueError, match=r"neuron_fraction=0\.001 selects 0 of 200 neurons"):
        observe(200, 10, 0.001, 0.4, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"muscle_fraction=0\.01 selects 0 of 10 muscles"):
        observe(200, 10, 0.3, 0.01, np.random.default_rng(0))


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5, float("nan")])
def test_fraction_outside_unit_interval_is_rejected(fraction):
    with pytest.raises(ValueError, match=r"neuron_fraction must be in \(0, 1\]"):
        observe(200, 10, fraction, 0.4, np.random.default_rng(0))


def test_observation_indices_are_read_only_and_validated():
    obs = observe(200, 10, 0.3, 0.4, np.random.default_rng(0))
    with pytest.raises(ValueError):
        obs.neurons[0] = 5
    with pytest.raises(ValueError, match="sorted, unique"):
        Observation(neurons=np.array([3, 1]), muscles=np.array([0]))
