import numpy as np
import pytest

from hintforce.seeding import STAGES, generator


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
    }


def test_the_sham_stream_is_not_the_training_stream():
    assert not np.array_equal(generator(4, "sham").random(3), generator(4, "force").random(3))
