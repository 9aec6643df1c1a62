"""Permutation nulls of the similarity scores.

Every score of a run comes with the same score of the model with its condition labels
permuted: pairing ``p`` compares the model's condition ``c`` with the SOC's condition
``pairings[p, c]`` (row 0, the identity, is the value itself). A model that shares only the
SOC's condition-independent time course scores at its null. The pairings of one run are
shared by every row; the run engine scores all of them at once without retraining or
refitting the model (:mod:`hintforce.similarity.engine`).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["draw_pairings", "summarise_null"]


def draw_pairings(
    n_conditions: int,
    n_permutations: int,
    rng: np.random.Generator,
    movable: np.ndarray | None = None,
) -> np.ndarray:
    """The identity and ``n_permutations`` random pairings of the conditions.

    Parameters
    ----------
    n_conditions : int
    n_permutations : int
    rng : numpy.random.Generator
        One ``permutation`` draw per pairing, in order.
    movable : ndarray of int, optional
        Only these conditions are permuted (among themselves); the others stay paired with
        themselves. Default: all.

    Returns
    -------
    ndarray of int, shape (1 + n_permutations, n_conditions)
        Row 0 the identity.
    """
    identity = np.arange(n_conditions)
    if movable is None:
        rows = [rng.permutation(n_conditions) for _ in range(n_permutations)]
        return np.vstack([identity, *rows])
    movable = np.asarray(movable, dtype=int)
    pairings = np.tile(identity, (1 + n_permutations, 1))
    for p in range(1, 1 + n_permutations):
        pairings[p, movable] = movable[rng.permutation(movable.size)]
    return pairings


def summarise_null(scores: np.ndarray, higher_is_better: bool) -> tuple[float, float, float, float]:
    """``(value, null_mean, null_p, above_null)`` of a row's scores (value first, then nulls).

    ``null_p = (1 + #{null at least as good as value}) / (1 + n_null)`` ("as good": ``>=``
    where higher is better, ``<=`` otherwise) and ``above_null`` is the value's margin over
    the null mean in the metric's direction (positive = better than chance). A NaN value gives
    NaN for all three.
    """
    value, null = float(scores[0]), scores[1:]
    if np.isnan(value):
        return value, math.nan, math.nan, math.nan
    null_mean = float(np.mean(null))
    as_good = np.count_nonzero(null >= value if higher_is_better else null <= value)
    null_p = (1 + as_good) / (1 + null.size)
    above = value - null_mean if higher_is_better else null_mean - value
    return value, null_mean, null_p, above
