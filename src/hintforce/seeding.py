"""Random generators keyed by (seed, stage), so every draw is reproducible and independent.

Each stage of the study draws from its own stream, derived by ``numpy.random.SeedSequence``
from the seed and a fixed stage number: results do not depend on job order, core count or on
which other stages ran.
"""

from __future__ import annotations

import numpy as np

__all__ = ["STAGES", "generator", "generators"]

#: Stable stage numbers: never renumber, only append (renumbering changes every result).
STAGES = {
    "emg": 0,
    "soc": 1,
    "gain": 2,
    "observe": 3,
    "force": 4,
    "similarity": 5,
    "sham": 6,  # the derangement of the conditions of shuffled hints (per run seed)
    "dynamics": 7,  # the mechanism measures' fixed-point and DSA starts (per run seed)
    "soc_dynamics": 8,  # the SOC's fixed-point starts (per circuit seed)
    "spikes": 9,  # the recorded neurons' spike trains (per run seed and neuron)
    "emg_noise": 10,  # the recorded EMG's noise (per run seed)
}


def generator(seed: int, stage: str) -> np.random.Generator:
    """The generator of ``stage`` for ``seed``.

    Parameters
    ----------
    seed : int
        Non-negative seed (the ground-truth seed or a run seed).
    stage : str
        One of :data:`STAGES`.
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {sorted(STAGES)}, got {stage!r}")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), STAGES[stage]]))


def generators(seed: int, stage: str, keys) -> list[np.random.Generator]:
    """One generator of ``stage`` for ``seed`` per key (e.g. per neuron), each from
    ``SeedSequence([seed, stage number, key])``: a key's stream does not depend on which
    other keys are drawn.

    Parameters
    ----------
    seed : int
    stage : str
    keys : iterable of int
        Non-negative integers.
    """
    generator(seed, stage)  # checks the seed and the stage
    out = []
    for key in keys:
        if not isinstance(key, int | np.integer) or key < 0:
            raise ValueError(f"keys must be non-negative integers, got {key!r}")
        out.append(
            np.random.default_rng(np.random.SeedSequence([int(seed), STAGES[stage], int(key)]))
        )
    return out
