"""The hint kinds of the hinted models, and the derangement of the shuffled hints."""

from collections import Counter

import numpy as np
import pytest

from hintforce.force import scale_hints
from hintforce.hints import MEAN, OBSERVED, SHUFFLED, derangement


@pytest.mark.parametrize("n", [2, 3, 4, 8, 9])
def test_derangement_is_a_permutation_without_fixed_points(n):
    rng = np.random.default_rng(n)
    for _ in range(200):
        d = derangement(n, rng)
        assert sorted(d.tolist()) == list(range(n))
        assert np.all(d != np.arange(n))


def test_derangement_is_deterministic_and_two_items_are_swapped():
    a = [derangement(7, np.random.default_rng(3)).tolist() for _ in range(2)]
    assert a[0] == a[1]
    assert derangement(2, np.random.default_rng(0)).tolist() == [1, 0]


def test_derangement_is_uniform_over_the_nine_derangements_of_four():
    rng = np.random.default_rng(0)
    counts = Counter(tuple(derangement(4, rng).tolist()) for _ in range(9000))
    assert len(counts) == 9  # !4 = 9; a binomial count of 1000 has SD ~ 30
    assert all(850 < c < 1150 for c in counts.values())


@pytest.mark.parametrize("n", [-1, 0, 1, 2.0, True])
def test_derangement_refuses_fewer_than_two_items(n):
    with pytest.raises(ValueError, match="n >= 2"):
        derangement(n, np.random.default_rng(0))


def test_the_hint_kinds_are_the_hints_another_conditions_or_their_condition_mean():
    f_hint = scale_hints(np.random.default_rng(0).normal(size=(5, 7, 3)))
    same, none = OBSERVED.targets(f_hint)
    np.testing.assert_array_equal(same, f_hint)
    assert none is None
    shuffled, d = SHUFFLED.targets(f_hint, np.random.default_rng(1))
    np.testing.assert_array_equal(d, derangement(5, np.random.default_rng(1)))
    for c in range(5):
        np.testing.assert_array_equal(shuffled[c], f_hint[d[c]])
    mean, none = MEAN.targets(f_hint)
    assert none is None and mean.shape == f_hint.shape
    for c in range(5):
        np.testing.assert_allclose(mean[c], f_hint.mean(axis=0), rtol=0, atol=1e-15)
        np.testing.assert_array_equal(mean[c], mean[0])
    with pytest.raises(ValueError, match="sham_rng"):
        SHUFFLED.targets(f_hint)
    with pytest.raises(ValueError, match="shape"):
        OBSERVED.targets(f_hint[0])


def test_only_the_shuffled_hints_draw_from_the_sham_generator():
    f_hint = np.random.default_rng(2).normal(size=(4, 3, 2))
    for kind in (OBSERVED, MEAN, SHUFFLED):
        rng = np.random.default_rng(5)
        kind.targets(f_hint, rng)
        untouched = rng.bit_generator.state == np.random.default_rng(5).bit_generator.state
        assert untouched is not kind.uses_sham_rng
