"""Random generators keyed by (seed, stage), so every draw is reproducible and independent.

Each stage of the study draws from its own stream, derived by ``numpy.random.SeedSequence``
from the seed and a fixed stage number: results do not depend on job order, core count or on
which other stages ran.
"""

from __future__ import annotations

import numpy as np

__all__ = ["STAGES", "generator"]

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
