import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hintforce.observe import Observation, n_selected, observe


def test_study_defaults_observe_60_of_200_neurons_and_4_of_10_muscles():
    obs = observe(200, 10, 0.4, np.random.default_rng(0))
    assert obs.neurons(0.3).shape == (60,)
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
    if expected_muscles < 1:
        with pytest.raises(ValueError, match="selects 0 of"):
            observe(n_neurons, n_muscles, muscle_fraction, rng)
        return
    obs = observe(n_neurons, n_muscles, muscle_fraction, rng)
    if expected_neurons < 1:
        with pytest.raises(ValueError, match="selects 0 of"):
            obs.neurons(neuron_fraction)
        return
    for idx, n, expected in (
        (obs.neurons(neuron_fraction), n_neurons, expected_neurons),
        (obs.muscles, n_muscles, expected_muscles),
    ):
        assert idx.size == expected
        assert np.issubdtype(idx.dtype, np.integer)
        assert np.all(np.diff(idx) > 0)  # sorted and unique
        assert idx.min() >= 0 and idx.max() < n


@given(seed=st.integers(0, 2**32 - 1))
def test_larger_fractions_contain_smaller_fractions_subsets(seed):
    obs = observe(200, 10, 0.4, np.random.default_rng(seed))
    subsets = [obs.neurons(f) for f in (0.1, 0.2, 0.3, 0.5, 0.8, 1.0)]
    for small, large in zip(subsets[:-1], subsets[1:], strict=True):
        assert set(small) <= set(large)
    assert np.array_equal(subsets[-1], np.arange(200))
    muscles = [observe(200, 10, m, np.random.default_rng(seed)).muscles for m in (0.2, 0.6, 1.0)]
    assert set(muscles[0]) <= set(muscles[1]) <= set(muscles[2])


def test_neuron_subsets_do_not_depend_on_the_muscle_fraction():
    a = observe(200, 10, 0.2, np.random.default_rng(3))
    b = observe(200, 10, 0.9, np.random.default_rng(3))
    assert np.array_equal(a.neuron_order, b.neuron_order)


def test_same_seed_gives_same_observation_and_different_seeds_differ():
    a = observe(200, 10, 0.4, np.random.default_rng(7))
    b = observe(200, 10, 0.4, np.random.default_rng(7))
    c = observe(200, 10, 0.4, np.random.default_rng(8))
    assert np.array_equal(a.neuron_order, b.neuron_order)
    assert np.array_equal(a.muscles, b.muscles)
    assert not np.array_equal(a.neurons(0.3), c.neurons(0.3))


def test_fraction_rounding_to_zero_units_names_the_fraction():
    obs = observe(200, 10, 0.4, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"neuron_fraction=0\.001 selects 0 of 200 neurons"):
        obs.neurons(0.001)
    with pytest.raises(ValueError, match=r"muscle_fraction=0\.01 selects 0 of 10 muscles"):
        observe(200, 10, 0.01, np.random.default_rng(0))


@pytest.mark.parametrize("n_units", [1, 2, 3, 6, 7, 10, 13, 60, 200, 333])
def test_the_suggested_bounds_are_accepted(n_units):
    """The bound a refusal suggests is itself accepted (round half to even makes 0.5/n fail)."""
    with pytest.raises(ValueError, match=r">= ([0-9.e-]+)\)") as low:
        n_selected(n_units, 0.49 / n_units, "f")
    suggested = float(low.value.args[0].rsplit(">= ", 1)[1].rstrip(")"))
    assert n_selected(n_units, suggested, "f") == 1
    if n_units >= 2:
        with pytest.raises(ValueError, match=r"leaves none unobserved") as high:
            n_selected(n_units, 1.0, "f", keep=1)
        suggested = float(high.value.args[0].rsplit("<= ", 1)[1].rstrip(")"))
        assert n_selected(n_units, suggested, "f", keep=1) == n_units - 1


def test_half_a_unit_rounds_to_even_and_is_refused():
    with pytest.raises(ValueError, match="selects 0 of 6"):
        n_selected(6, 0.5 / 6, "muscle_fraction", "muscles")


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5, float("nan")])
def test_fraction_outside_unit_interval_is_rejected(fraction):
    with pytest.raises(ValueError, match=r"muscle_fraction must be in \(0, 1\]"):
        observe(200, 10, fraction, np.random.default_rng(0))


def test_observation_indices_are_read_only_and_validated():
    obs = observe(200, 10, 0.4, np.random.default_rng(0))
    with pytest.raises(ValueError):
        obs.neuron_order[0] = 5
    with pytest.raises(ValueError, match="sorted, unique"):
        Observation(neuron_order=np.arange(3), muscles=np.array([3, 1]))
    with pytest.raises(ValueError, match="permutation"):
        Observation(neuron_order=np.array([0, 0, 1]), muscles=np.array([0]))


@pytest.mark.parametrize(
    ("fraction", "n_units", "minimum", "keep"),
    [(0.01, 200, 20, 20), (0.95, 200, 20, 20), (0.1, 60, 10, 10), (0.9, 7, 2, 2)],
)
def test_suggested_bounds_with_minimum_and_keep_are_accepted(fraction, n_units, minimum, keep):
    with pytest.raises(ValueError, match=r"\(use f [<>]= ([0-9.]+)\)") as refused:
        n_selected(n_units, fraction, "f", minimum=minimum, keep=keep, why=" (k)")
    suggested = float(refused.value.args[0].rsplit("= ", 1)[1].rstrip(")"))
    count = n_selected(n_units, suggested, "f", minimum=minimum, keep=keep)
    assert minimum <= count <= n_units - keep


def test_a_population_too_small_for_both_sides_says_so():
    with pytest.raises(ValueError, match="cannot be split into at least 20 selected and 20 left"):
        n_selected(30, 0.5, "f", minimum=20, keep=20)


def test_unobserved_neurons_are_the_complement_and_shrink_with_the_fraction():
    obs = observe(200, 10, 0.4, np.random.default_rng(5))
    for fraction in (0.1, 0.3, 0.9):
        unobserved = obs.unobserved(fraction)
        assert np.array_equal(np.sort(np.r_[obs.neurons(fraction), unobserved]), np.arange(200))
    assert set(obs.unobserved(0.5)) <= set(obs.unobserved(0.3))
