"""Sparse observation: which SOC neurons and which muscles a run gets to "record".

Per run seed, one random permutation of the SOC neurons (the order in which they would be
recorded) and one of the muscles are drawn; at neuron fraction f the observed neurons are the
first ``round(f * n_neurons)`` of the permutation, and at muscle fraction m the observed muscles
the first ``round(m * n_muscles)`` of theirs. The subsets of a fraction sweep are therefore
nested: a larger fraction's subset contains every smaller one's, and one observation serves
every neuron fraction of a run.

:mod:`hintforce.recording` records the observed neurons and muscles: the only data a run's
models are trained on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hintforce import study

__all__ = ["Observation", "n_selected", "observe"]


def _frozen_index_array(values: np.ndarray, name: str, permutation: bool = False) -> np.ndarray:
    arr = np.array(values, dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of indices, got shape {arr.shape}")
    if permutation:
        if not np.array_equal(np.sort(arr), np.arange(arr.size)):
            raise ValueError(f"{name} must be a permutation of range({arr.size})")
    elif arr.size and (np.any(np.diff(arr) <= 0) or arr[0] < 0):
        raise ValueError(f"{name} must hold sorted, unique, non-negative indices, got {arr}")
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True)
class Observation:
    """What one run seed observes.

    Attributes
    ----------
    neuron_order : ndarray of int64, shape (n_neurons,)
        A permutation of the SOC neurons: at neuron fraction f the first
        ``round(f * n_neurons)`` entries are observed (:meth:`neurons`). Read-only.
    muscles : ndarray of int64, shape (n_observed_muscles,)
        Observed muscle indices, sorted ascending, unique, read-only.
    """

    neuron_order: np.ndarray
    muscles: np.ndarray

    def __post_init__(self) -> None:
        order = _frozen_index_array(self.neuron_order, "neuron_order", permutation=True)
        object.__setattr__(self, "neuron_order", order)
        object.__setattr__(self, "muscles", _frozen_index_array(self.muscles, "muscles"))

    def neurons(self, fraction: float) -> np.ndarray:
        """Observed neuron indices at ``fraction``, sorted: a prefix of :attr:`neuron_order`.

        Raises ValueError if the fraction selects no neuron (see :func:`n_selected`).
        """
        return np.sort(self.recording_order(fraction))

    def recording_order(self, fraction: float) -> np.ndarray:
        """The neurons observed at ``fraction`` in the order they are recorded (the prefix of
        :attr:`neuron_order`)."""
        return self.neuron_order[: self._count(fraction)].copy()

    def unobserved(self, fraction: float) -> np.ndarray:
        """Neuron indices left unobserved at ``fraction``, sorted: the rest of
        :attr:`neuron_order`. At the study's largest fraction this is the fixed held-out set
        that every fraction is scored against."""
        return np.sort(self.neuron_order[self._count(fraction) :])

    def populations(self, fraction: float, held_out_fraction: float) -> dict[str, np.ndarray]:
        """The SOC populations of :data:`hintforce.study.POPULATIONS` at ``fraction``: every
        neuron, the observed, the unobserved and the fixed held-out set (the neurons
        unobserved at ``held_out_fraction``, the study's largest fraction)."""
        every = np.arange(self.neuron_order.size)
        sets = (every, self.neurons(fraction), self.unobserved(fraction))
        return dict(
            zip(study.POPULATIONS, (*sets, self.unobserved(held_out_fraction)), strict=True)
        )

    def _count(self, fraction: float) -> int:
        return n_selected(self.neuron_order.size, fraction, study.NEURON_FRACTION, "neurons")


def n_selected(
    n_units: int,
    fraction: float,
    name: str = "fraction",
    unit: str = "units",
    *,
    minimum: int = 1,
    keep: int = 0,
    why: str = "",
) -> int:
    """Number of units a fraction selects: Python's ``round(fraction * n_units)``.

    Parameters
    ----------
    n_units : int
        Population size, >= 1.
    fraction : float
        Observed fraction, in (0, 1].
    name, unit : str
        Parameter name and unit noun used in error messages.
    minimum : int
        Fewest units the fraction must select (>= 1).
    keep : int
        Fewest units it must leave unselected (the unobserved neurons are the study's test
        set).
    why : str
        Reason for ``minimum`` and ``keep``, appended to the error message.

    Returns
    -------
    int
        ``round(fraction * n_units)`` (half to even).

    Raises
    ------
    ValueError
        If ``n_units < 1``, ``fraction`` is outside (0, 1], or the count breaks ``minimum`` or
        ``keep``. The message suggests bounds that are accepted: rounding is half to even, so
        ``0.5 / n_units`` itself selects nothing; the suggestions are ``minimum / n_units`` and
        ``(n_units - keep) / n_units``, rounded inwards to four decimals.
    """
    if int(n_units) != n_units or n_units < 1:
        raise ValueError(f"number of {unit} must be a positive integer, got {n_units}")
    if not (0.0 < fraction <= 1.0):
        raise ValueError(f"{name} must be in (0, 1], got {fraction}")
    minimum = max(1, minimum)
    count = round(fraction * n_units)
    if count >= minimum and n_units - count >= keep:
        return int(count)
    low = math.ceil(1e4 * minimum / n_units) / 1e4
    high = math.floor(1e4 * (n_units - keep) / n_units) / 1e4
    if round(low * n_units) > n_units - keep:
        raise ValueError(
            f"{name}: {n_units} {unit} cannot be split into at least {minimum} selected and "
            f"{keep} left{why}"
        )
    if count < minimum:
        what = f"selects {count} of {n_units} {unit}; it must select at least {minimum}"
    elif count == n_units:
        what = f"selects all {n_units} {unit} and leaves none unobserved"
    else:
        what = f"leaves {n_units - count} of {n_units} {unit} unobserved; it must leave {keep}"
    bound = f"{name} >= {low:g}" if count < minimum else f"{name} <= {high:g}"
    raise ValueError(f"{name}={fraction} {what}{why} (use {bound})")


def observe(
    n_neurons: int, n_muscles: int, muscle_fraction: float, rng: np.random.Generator
) -> Observation:
    """Draw what one run seed observes.

    Draws exactly one permutation of ``range(n_neurons)`` and then one of ``range(n_muscles)``
    from ``rng``; the observed muscles are the first ``round(muscle_fraction * n_muscles)``
    entries of theirs (sorted).

    Parameters
    ----------
    n_neurons : int
        Number of ground-truth neurons (200 in the study).
    n_muscles : int
        Number of muscles (10 in the study).
    muscle_fraction : float
        Observed fraction of muscles, in (0, 1] (0.4 -> 4 of 10).
    rng : numpy.random.Generator
        Source of the two permutations.

    Returns
    -------
    Observation
    """
    if int(n_neurons) != n_neurons or n_neurons < 1:
        raise ValueError(f"number of neurons must be a positive integer, got {n_neurons}")
    n_obs_muscles = n_selected(n_muscles, muscle_fraction, study.MUSCLE_FRACTION, "muscles")
    neuron_order = rng.permutation(int(n_neurons))
    muscle_order = rng.permutation(int(n_muscles))
    return Observation(neuron_order=neuron_order, muscles=np.sort(muscle_order[:n_obs_muscles]))
