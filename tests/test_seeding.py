import numpy as np
import pytest

from hintforce.seeding import STAGES, generator, generators


def test_same_seed_and_stage_give_the_same_stream():
    assert np.array_equal(generator(3, "force").random(5), generator(3, "force").random(5))


def test_streams_differ_between_stages_and_seeds():
    draws = {(s, st): generator(s, st).random(4).tobytes() for s in (0, 1) for st in STAGES}
    assert len(set(draws.values())) == len(draws)


@pytest.mark.parametrize(("seed", "stage"), [(-1, "emg"), (1.5, "emg"), (0, "nope")])
def test_bad_seed_or_stage_is_refused(seed, stage):
    with pytest.raises(ValueError, match="seed|stage"):
        generator(seed, stage)


def test_stage_numbers_are_append_only():
    # renumbering a stage would silently change every result drawn from it
    assert STAGES == {
        "emg": 0,
        "soc": 1,
        "gain": 2,
        "observe": 3,
        "force": 4,
        "similarity": 5,
        "sham": 6,
        "dynamics": 7,
        "soc_dynamics": 8,
        "spikes": 9,
        "emg_noise": 10,
    }


def test_the_sham_stream_is_not_the_training_stream():
    assert not np.array_equal(generator(4, "sham").random(3), generator(4, "force").random(3))


def test_keyed_generators_are_independent_of_the_other_keys():
    """A key's stream is the same whoever else is drawn, differs between keys and seeds, and
    is SeedSequence([seed, stage, key])."""
    a = [g.integers(2**63) for g in generators(3, "spikes", [4, 9, 1])]
    b = [g.integers(2**63) for g in generators(3, "spikes", [9])]
    assert a[1] == b[0] and len(set(a)) == 3
    assert generators(4, "spikes", [9])[0].integers(2**63) != b[0]
    expected = np.random.default_rng(np.random.SeedSequence([3, STAGES["spikes"], 9]))
    assert expected.integers(2**63) == b[0]
    with pytest.raises(ValueError, match="non-negative integers"):
        generators(3, "spikes", [-1])
