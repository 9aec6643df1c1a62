"""Sparse observation: which SOC neurons and which muscles a seed gets to "record".

Per (seed, fraction) a random subset of ``round(neuron_fraction * n_neurons)`` neurons and
``round(muscle_fraction * n_muscles)`` muscles is observed (DESIGN.md, "Observation"). One
permutation of the neurons and one of the muscles are drawn from the generator and the subset
is a prefix of each, so for the same generator state the subsets of a fraction sweep are nested:
a larger fraction's subset contains every smaller one's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Observation", "n_selected", "observe"]


def _frozen_index_array(values: np.ndarray, name: str) -> np.ndarray:
    arr = np.array(values, dtype=np.int64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of indices, got shape {arr.shape}")
    if arr.size and (np.any(np.diff(arr) <= 0) or arr[0] < 0):
        raise ValueError(f"{name} must hold sorted, unique, non-negative indices, got {arr}")
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True)
class Observation:
    """Indices of the observed units of one (seed, fraction).

    Attributes
    ----------
    neurons : ndarray of int64, shape (n_observed_neurons,)
        Observed SOC neuron indices, sorted ascending, unique, read-only.
    muscles : ndarray of int64, shape (n_observed_muscles,)
        Observed muscle indices, sorted ascending, unique, read-only.
    """

    neurons: np.ndarray
    muscles: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "neurons", _frozen_index_array(self.neurons, "neurons"))
        object.__setattr__(self, "muscles", _frozen_index_array(self.muscles, "muscles"))


def n_selected(n_units: int, fraction: float, name: str = "fraction", unit: str = "units") -> int:
    """Number of units a fraction selects: Python's ``round(fraction * n_units)``.

    Parameters
    ----------
    n_units : int
        Population size, >= 1.
    fraction : float
        Observed fraction, in (0, 1].
    name, unit : str
        Parameter name and unit noun used in error messages.

    Returns
    -------
    int
        ``round(fraction * n_units)`` (half to even), at least 1.

    Raises
    ------
    ValueError
        If ``n_units < 1``, ``fraction`` is outside (0, 1] or the count rounds to zero.
    """
    if int(n_units) != n_units or n_units < 1:
        raise ValueError(f"number of {unit} must be a positive integer, got {n_units}")
    if not (0.0 < fraction <= 1.0):
        raise ValueError(f"{name} must be in (0, 1], got {fraction}")
    count = round(fraction * n_units)
    if count < 1:
        raise ValueError(
            f"{name}={fraction} selects 0 of {n_units} {unit}; "
            f"it must select at least one (use {name} >= {0.5 / n_units:.4g})"
        )
    return int(count)


def observe(
    n_neurons: int,
    n_muscles: int,
    neuron_fraction: float,
    muscle_fraction: float,
    rng: np.random.Generator,
) -> Observation:
    """Draw the observed neurons and muscles of one seed.

    Draws exactly one permutation of ``range(n_neurons)`` and then one of ``range(n_muscles)``
    from ``rng`` and keeps the first ``round(fraction * n)`` entries of each (sorted). The draws
    do not depend on the fractions, so for the same generator state the subsets are nested
    across fractions.

    Parameters
    ----------
    n_neurons : int
        Number of ground-truth neurons (200 in the study).
    n_muscles : int
        Number of muscles (10 in the study).
    neuron_fraction : float
        Observed fraction of neurons, in (0, 1] (0.3 -> 60 of 200).
    muscle_fraction : float
        Observed fraction of muscles, in (0, 1] (0.4 -> 4 of 10).
    rng : numpy.random.Generator
        Source of the two permutations.

    Returns
    -------
    Observation

    Raises
    ------
    ValueError
        If a fraction is outside (0, 1] or selects zero units, or a population is empty.
    """
    n_obs_neurons = n_selected(n_neurons, neuron_fraction, "neuron_fraction", "neurons")
    n_obs_muscles = n_selected(n_muscles, muscle_fraction, "muscle_fraction", "muscles")
    neuron_order = rng.permutation(int(n_neurons))
    muscle_order = rng.permutation(int(n_muscles))
    return Observation(
        neurons=np.sort(neuron_order[:n_obs_neurons]),
        muscles=np.sort(muscle_order[:n_obs_muscles]),
    )
