"""The metric interface: fit on training conditions, score on test conditions, and a generic
relabel-and-rescore permutation null.

A metric (:class:`Metric`) is two steps on samples x units matrices (the time bins of some
conditions stacked condition by condition, :func:`~hintforce.similarity.stack_conditions`):
``fit(source, target)`` on the training conditions' samples of the two populations, and
``score(fitted, source, target)`` on the test conditions' samples, a float. In sample, both
steps see every condition.

:func:`relabel_scores` scores any metric under a validation's folds for every pairing of
conditions: pairing ``p`` gives the source's condition ``c`` the target's condition
``pairings[p, c]`` (row 0 is the identity, the value; the others are the permutation null),
and the metric is refitted on every fold of every pairing and its test scores averaged over
the folds, the way :func:`scipy.stats.permutation_test` takes any statistic. That costs a fit
per pairing and fold, which the run engine's fast paths avoid for the study's own metrics
(:mod:`hintforce.similarity.engine` shares decompositions and cross-products across
pairings). A new metric needs only this interface: :func:`~hintforce.similarity.compare_run`'s
``metrics`` scores it for every row, population, ``k``, component and validation of a run,
next to the others, with this null.

The subspace metrics' definitions are implemented here in this form too (:class:`FoldedCCA`,
:class:`FoldedCKA`, :class:`FoldedProcrustes`): they restate what the fast paths compute,
one fit at a time, and the tests check the engine's rows against them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from hintforce.similarity.subspace import stack_conditions

__all__ = [
    "FoldedCCA",
    "FoldedCKA",
    "FoldedProcrustes",
    "GenericMetric",
    "Metric",
    "relabel_scores",
]


class Metric(Protocol):
    """Fit on training samples, score on test samples (module docstring)."""

    def fit(self, source: np.ndarray, target: np.ndarray) -> Any:
        """Whatever ``score`` needs, from the training samples ``source`` (n, N_x) and
        ``target`` (n, N_y) of the same conditions and bins, row for row."""

    def score(self, fitted: Any, source: np.ndarray, target: np.ndarray) -> float:
        """The score of the test samples (m, N_x) and (m, N_y) under ``fitted``."""


@dataclass(frozen=True)
class GenericMetric:
    """A metric without a fast path, as :func:`~hintforce.similarity.compare_run` takes it.

    Attributes
    ----------
    make : callable
        ``make(k)``: the :class:`Metric` at ``k`` principal components.
    higher_is_better : bool
        Direction of the metric (the null's "at least as good").
    """

    make: Callable[[int], Metric]
    higher_is_better: bool


def relabel_scores(
    metric: Metric,
    source: np.ndarray,
    target: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    pairings: np.ndarray,
) -> np.ndarray:
    """A metric's value and permutation null under a validation's folds.

    Parameters
    ----------
    metric : Metric
    source, target : ndarray, shape (C, T, N_x) and (C, T, N_y)
        The two populations' activity on the same conditions and bins.
    folds : sequence of (ndarray, ndarray)
        ``(train, test)`` condition indices of each fold (of the source's conditions).
    pairings : ndarray of int, shape (n_pairings, C)
        ``pairings[p, c]``: the target condition paired with source condition ``c``.

    Returns
    -------
    ndarray, shape (n_pairings,)
        For each pairing the mean over folds of the test score of the metric fitted on the
        fold's training conditions, the target relabelled by the pairing.
    """
    scores = np.empty(len(pairings))
    for p, pairing in enumerate(pairings):
        relabelled = target[pairing]
        fold_scores = [
            metric.score(
                metric.fit(stack_conditions(source[train]), stack_conditions(relabelled[train])),
                stack_conditions(source[test]),
                stack_conditions(relabelled[test]),
            )
            for train, test in folds
        ]
        scores[p] = np.mean(fold_scores)
    return scores


def _pca(samples: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Training mean (N,) and top-``k`` loadings (N, k) of samples (n, N)."""
    mean = samples.mean(axis=0)
    _, _, Vt = np.linalg.svd(samples - mean, full_matrices=False)
    return mean, Vt[:k].T


def _projections(samples: np.ndarray, loadings: np.ndarray) -> np.ndarray:
    """Samples projected on the loadings, centred on the samples' own mean."""
    scores = samples @ loadings
    return scores - scores.mean(axis=0)


@dataclass(frozen=True)
class _Subspace:
    """The top-``k`` training PCs of both populations: what every subspace metric fits first."""

    k: int

    def _loadings(self, source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, ...]:
        (mx, Vx), (my, Vy) = _pca(source, self.k), _pca(target, self.k)
        return (source - mx) @ Vx, (target - my) @ Vy, Vx, Vy


@dataclass(frozen=True)
class FoldedCCA(_Subspace):
    """Mean canonical correlation: CCA directions of the training PC scores, the Pearson
    correlation of each canonical pair of the test projections, averaged over the ``k``
    pairs."""

    def fit(self, source, target):
        Sx, Sy, Vx, Vy = self._loadings(source, target)
        Qx, Rx = np.linalg.qr(Sx)
        Qy, Ry = np.linalg.qr(Sy)
        U, _, Wt = np.linalg.svd(Qx.T @ Qy)
        return Vx @ np.linalg.solve(Rx, U), Vy @ np.linalg.solve(Ry, Wt.T)

    def score(self, fitted, source, target):
        a, b = _projections(source, fitted[0]), _projections(target, fitted[1])
        denom = np.sqrt(np.sum(a * a, axis=0) * np.sum(b * b, axis=0))
        corr = np.divide(np.sum(a * b, axis=0), denom, out=np.zeros(denom.shape), where=denom > 0)
        return float(np.mean(corr))


@dataclass(frozen=True)
class FoldedCKA(_Subspace):
    """Linear CKA of the test samples' projections on the training PCs."""

    def fit(self, source, target):
        return self._loadings(source, target)[2:]

    def score(self, fitted, source, target):
        x, y = _projections(source, fitted[0]), _projections(target, fitted[1])
        cka = np.sum((x.T @ y) ** 2) / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))
        return float(np.clip(cka, 0.0, 1.0))


@dataclass(frozen=True)
class FoldedProcrustes(_Subspace):
    """Angular Procrustes distance (radians): the rotation that best aligns the training PC
    scores, applied to the test projections, ``arccos <x R, y> / (||x|| ||y||)``."""

    def fit(self, source, target):
        Sx, Sy, Vx, Vy = self._loadings(source, target)
        U, _, Wt = np.linalg.svd(Sx.T @ Sy)
        return Vx, Vy, U @ Wt

    def score(self, fitted, source, target):
        Vx, Vy, rotation = fitted
        x, y = _projections(source, Vx), _projections(target, Vy)
        cosine = np.sum((x @ rotation) * y) / (np.linalg.norm(x) * np.linalg.norm(y))
        return float(np.arccos(np.clip(cosine, -1.0, 1.0)))
