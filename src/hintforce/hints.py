"""What a hinted model's teacher receives as hints: the registry's hint kinds, each with what
it does.

A hinted model (:data:`hintforce.study.MODELS`) is trained exactly like FFH; the models differ
only in the information their hints carry. Each kind maps the observed neurons' scaled hints
``f_hint`` (shape ``(C, T, K)``: conditions, time bins, hint units) to the hints its teacher
receives:

* :data:`OBSERVED`: the hints themselves (FFH);
* :data:`SHUFFLED`: condition c receives those of condition ``d[c]``, with d a
  :func:`derangement` of the conditions drawn from the run's sham generator;
* :data:`MEAN`: every condition receives their mean over conditions (per unit and time bin:
  the condition-independent part).

A new sham is one :class:`Hints` here and one model entry in :mod:`hintforce.study`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["MEAN", "OBSERVED", "SHUFFLED", "Hints", "derangement"]


def derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation of ``range(n)`` without fixed points, uniform over all such permutations.

    Uniform permutations are drawn from ``rng`` until one has no fixed point (on average about
    e = 2.72 draws).

    Parameters
    ----------
    n : int
        Number of items, >= 2 (one item cannot be deranged).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of int64, shape (n,)
        ``d`` with ``d[i] != i`` for every i.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
        raise ValueError(f"a derangement needs an integer n >= 2, got {n!r}")
    identity = np.arange(n)
    while True:
        d = rng.permutation(n)
        if not np.any(d == identity):
            return d.astype(np.int64)


Transform = Callable[[np.ndarray, np.random.Generator | None], tuple[np.ndarray, np.ndarray | None]]


@dataclass(frozen=True)
class Hints:
    """A kind of hints.

    Attributes
    ----------
    name : str
        How logs name it.
    transform : callable
        ``transform(f_hint, sham_rng) -> (hints, derangement)``: see :meth:`targets`.
    uses_sham_rng : bool
        Whether it draws from the run's sham generator (which the others leave untouched).
    """

    name: str
    transform: Transform
    uses_sham_rng: bool = False

    def targets(
        self, f_hint: np.ndarray, sham_rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The hints the teacher receives, from the observed neurons' scaled hints.

        Parameters
        ----------
        f_hint : ndarray, shape (C, T, K)
            :func:`hintforce.force.scale_hints` of the observed neurons' rates.
        sham_rng : numpy.random.Generator, optional
            The run's sham generator; required when :attr:`uses_sham_rng`.

        Returns
        -------
        hints : ndarray, shape (C, T, K)
        derangement : ndarray of int64, shape (C,), or None
            The derangement of shuffled hints, else None.
        """
        f_hint = np.asarray(f_hint, dtype=np.float64)
        if f_hint.ndim != 3:
            raise ValueError(f"f_hint must have shape (C, T, K), got shape {f_hint.shape}")
        if self.uses_sham_rng and sham_rng is None:
            raise ValueError(f"{self.name} hints need sham_rng")
        return self.transform(f_hint, sham_rng)


def _observed(f_hint, _sham_rng):
    return f_hint.copy(), None


def _shuffled(f_hint, sham_rng):
    d = derangement(f_hint.shape[0], sham_rng)
    return f_hint[d], d


def _mean(f_hint, _sham_rng):
    mean = f_hint.mean(axis=0, keepdims=True)
    return np.repeat(mean, f_hint.shape[0], axis=0), None


OBSERVED = Hints("observed", _observed)
SHUFFLED = Hints("shuffled", _shuffled, uses_sham_rng=True)
MEAN = Hints("mean", _mean)
