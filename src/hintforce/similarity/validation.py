"""How a run's similarity scores are validated: the activity components, the folds over
conditions, and the largest ``k`` a study supports.

* **Component** ``full`` is the activity itself; ``condition`` is its condition-specific part:
  each unit's mean over conditions, per time bin, removed from model and SOC alike (Kaufman et
  al. 2016; :func:`condition_component`).
* **Validation** (:data:`hintforce.study.VALIDATIONS`): ``in_sample`` fits and scores on all
  training directions; ``cross_validated`` fits every PCA, CCA weight, rotation and regression
  on some training directions and scores the others (:func:`condition_folds`);
  ``held_out_directions`` fits on the training directions and scores the directions no model
  was trained on (present when the task holds some out). A :class:`Scheme` is one of the
  engine's passes over a run: the conditions it sees, its folds and its pairings of conditions
  for the permutation null.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hintforce._validate import check_integer
from hintforce.study import N_UNITS, POPULATIONS

__all__ = [
    "Scheme",
    "check_conditions",
    "condition_component",
    "condition_folds",
    "k_limits",
    "max_k",
]

_ALL, _OBSERVED, _UNOBSERVED, _HELD_OUT = POPULATIONS


def condition_component(rates: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Condition-specific part of activity: each unit's mean over conditions removed.

    Parameters
    ----------
    rates : ndarray, shape (n_conditions, n_times, n_units)
    reference : ndarray of int, optional
        The conditions whose mean is removed (default: all). A score fitted on some conditions
        and tested on others removes the fitted conditions' mean from all of them, so that
        nothing of the test conditions enters the fit.

    Returns
    -------
    ndarray, same shape, float64
        ``rates[c, t] - mean_{c' in reference} rates[c', t]`` (Kaufman et al. 2016). With the
        default reference it is invariant to, and commutes with, any permutation of the
        conditions; with a reference, with any permutation that maps the reference onto
        itself.
    """
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 3:
        raise ValueError(
            f"rates must have shape (n_conditions, n_times, n_units), got shape {rates.shape}"
        )
    if reference is None:
        return rates - rates.mean(axis=0, keepdims=True)
    return rates - rates[np.asarray(reference)].mean(axis=0, keepdims=True)


def check_conditions(n_conditions: int) -> None:
    check_integer("n_conditions", n_conditions)
    if n_conditions < 4:
        raise ValueError(
            f"cross-validation over conditions needs n_conditions >= 4 (n_conditions // 2 >= 2 "
            f"folds, each training set with >= 2 conditions for the leave-one-condition-out "
            f"penalty choice), got {n_conditions}"
        )


def condition_folds(n_conditions: int) -> tuple[np.ndarray, ...]:
    """Held-out conditions of each cross-validation fold.

    With ``C`` conditions there are ``C // 2`` folds and condition ``c`` is held out in fold
    ``c % (C // 2)``: for 8 reach directions, folds {0, 4}, {1, 5}, {2, 6}, {3, 7}, so every
    training set covers the circle of directions. Requires ``C >= 4``.

    Returns
    -------
    tuple of ndarray of int
        One ascending array of held-out conditions per fold.
    """
    check_conditions(n_conditions)
    n_folds = n_conditions // 2
    return tuple(np.arange(f, n_conditions, n_folds) for f in range(n_folds))


def k_limits(
    n_neurons: int,
    n_observed: int,
    n_held_out: int,
    n_units: int,
    n_conditions: int,
    n_times: int,
) -> dict[str, int]:
    """Upper bound on ``k`` from each structural constraint, with a description of each."""
    for name, value in (
        ("n_neurons", n_neurons),
        ("n_observed", n_observed),
        ("n_held_out", n_held_out),
        (N_UNITS, n_units),
        ("n_times", n_times),
    ):
        check_integer(name, value)
    check_conditions(n_conditions)
    if n_observed >= n_neurons:
        raise ValueError(
            f"n_observed must leave at least one of n_neurons={n_neurons} neurons unobserved, "
            f"got {n_observed}"
        )
    if n_held_out > n_neurons - n_observed:
        raise ValueError(
            f"n_held_out must not exceed the {n_neurons - n_observed} unobserved neurons, got "
            f"{n_held_out}"
        )
    sizes = {
        _ALL: n_neurons,
        _OBSERVED: n_observed,
        _UNOBSERVED: n_neurons - n_observed,
        _HELD_OUT: n_held_out,
    }
    limits = {
        f"population {p!r} (split half of {size // 2} neurons)": size // 2
        for p, size in sizes.items()
    }
    limits[f"the model units ({n_units})"] = n_units
    n_train = n_conditions - max(f.size for f in condition_folds(n_conditions))
    limits[
        f"a cross-validation training fold ({n_train} conditions x {n_times} time bins, "
        f"minus 1 for centring)"
    ] = n_train * n_times - 1
    return limits


def max_k(
    n_neurons: int,
    n_observed: int,
    n_held_out: int,
    n_units: int,
    n_conditions: int,
    n_times: int,
) -> int:
    """Largest ``k`` every population, every split half and every CV training fold supports.

    The binding constraints are the smaller half of each population (``size // 2`` neurons,
    the split-half reliability row), the model units, and the samples of the smallest
    cross-validation training set (``(C - largest fold) * n_times - 1`` after centring; it
    also bounds the ``condition`` component, whose in-sample rank is ``(C - 1) * n_times``).
    The data can have a lower numerical rank; :func:`compare_run` then raises.

    Parameters
    ----------
    n_neurons : int
        SOC neurons.
    n_observed : int
        Observed SOC neurons, ``1 <= n_observed < n_neurons``.
    n_held_out : int
        Neurons of the fixed held-out set, at most the unobserved.
    n_units : int
        Units of each model.
    n_conditions, n_times : int
        Conditions (>= 4) and time bins.

    Returns
    -------
    int
        The limit (0 when some population has a single neuron, so no split half exists).
    """
    return min(k_limits(n_neurons, n_observed, n_held_out, n_units, n_conditions, n_times).values())


@dataclass(frozen=True)
class Scheme:
    """One pass of the run engine: which conditions of the data it uses and how it validates.

    Attributes
    ----------
    in_sample : bool
        Score every row in sample on all conditions (validation ``in_sample``), besides the
        folds.
    folds : tuple of (ndarray, ndarray)
        ``(train, test)`` condition indices of each fold: fitted on ``train``, scored on
        ``test``. Their scores pool into the validation ``fold_validation``.
    fold_validation : str
        ``cross_validated`` (folds over all conditions: every condition is tested once) or
        ``held_out_directions`` (one fold: the training directions, then the held-out ones).
    pairings : ndarray of int, shape (1 + n_permutations, C)
        ``pairings[p, c]``: the SOC condition paired with model condition ``c`` by pairing
        ``p``; row 0 is the identity (the value), the others the permutation null.
    reference : ndarray of int or None
        The conditions whose mean the condition component removes (None: all).
    """

    in_sample: bool
    folds: tuple[tuple[np.ndarray, np.ndarray], ...]
    fold_validation: str
    pairings: np.ndarray
    reference: np.ndarray | None = None

    @property
    def trains(self) -> list[np.ndarray]:
        return [train for train, _ in self.folds]

    @property
    def tests(self) -> list[np.ndarray]:
        return [test for _, test in self.folds]
