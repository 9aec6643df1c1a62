"""Principal-component decompositions of a matrix's rows of some conditions, cached.

The run engine (:mod:`hintforce.similarity.engine`) fits every PCA and ridge regression on
some conditions' samples (all of them in sample, a fold's training conditions otherwise) and
applies it to every sample. A matrix is cut into condition blocks whose sums and Gram
matrices are computed once: the Gram matrix of any set of conditions is a sum of blocks, and
each set's decomposition is cached (:class:`Blocks`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

__all__ = ["GRAM_RTOL", "Blocks", "Eigen"]

# Eigenvalues of a Gram matrix are computed to ~1e-16 of the largest; directions whose variance
# is below this fraction of the largest count as numerically absent (singular values below
# 1e-6 of the largest).
GRAM_RTOL = 1e-12


@dataclass(frozen=True)
class Eigen:
    """PCA of a matrix's rows of some conditions (the training rows), applied to all rows.

    ``scores`` are ``(X - mean) V`` for every row of ``X``, with ``mean`` the training rows'
    mean and ``V`` the eigenvectors of their centred Gram matrix, in order of decreasing
    eigenvalue ``lam`` (so the training rows' scores are centred and orthogonal, with squared
    norms ``lam``). Only eigenvalues above ``GRAM_RTOL`` of the largest are kept.
    """

    lam: np.ndarray
    scores: np.ndarray

    def top(self, n: int) -> Eigen:
        return Eigen(self.lam[:n], self.scores[:, :n])


class Blocks:
    """A samples x units matrix cut into condition blocks, with cached per-condition sums and
    Grams (the Gram matrix of any set of conditions is a sum) and cached decompositions."""

    def __init__(self, X: np.ndarray, n_conditions: int, label: str) -> None:
        self.X = X - X.mean(axis=0)  # a global shift changes nothing below, helps rounding
        self.n, self.u = X.shape
        self.C = n_conditions
        self.T = self.n // n_conditions
        self.label = label
        self._blocks = self.X.reshape(self.C, self.T, self.u)
        self._sums = self._blocks.sum(axis=1)
        self._grams: np.ndarray | None = None
        self._total: np.ndarray | None = None
        self._cache: dict[tuple[int, ...], tuple[int | None, Eigen]] = {}

    def rows(self, conditions: np.ndarray) -> np.ndarray:
        """Row indices of the conditions' samples, condition by condition."""
        return (np.asarray(conditions)[:, None] * self.T + np.arange(self.T)).ravel()

    def eigen(self, conditions: np.ndarray, top: int | None = None) -> Eigen:
        """Decomposition on the given conditions: all components, or at least the top ``top``
        (cached per set of conditions)."""
        key = tuple(sorted(int(c) for c in conditions))
        cached = self._cache.get(key)
        if cached is not None and (cached[0] is None or (top is not None and cached[0] >= top)):
            eig = cached[1]
        else:
            eig = self._eigen(np.array(key), top)
            self._cache[key] = (top, eig)
        return eig if top is None else eig.top(top)

    def _eigen(self, conditions: np.ndarray, top: int | None) -> Eigen:
        n_train = conditions.size * self.T
        mean = self._sums[conditions].sum(axis=0) / n_train
        if self.u <= n_train:
            if self._grams is None:
                self._grams = np.matmul(self._blocks.transpose(0, 2, 1), self._blocks)
                self._total = self._grams.sum(axis=0)
            if 2 * conditions.size > self.C:  # fewer matrices to subtract than to add
                rest = np.setdiff1d(np.arange(self.C), conditions)
                gram = self._total - self._grams[rest].sum(axis=0)
            else:
                gram = self._grams[conditions].sum(axis=0)
            gram -= n_train * np.outer(mean, mean)
            lam, vectors = _top_eigh(gram, top)
        else:  # more units than samples: eigenvectors of the samples' Gram (kernel) matrix
            centred = self.X[self.rows(conditions)] - mean
            lam, vectors = _top_eigh(centred @ centred.T, top)
            vectors = centred.T @ (vectors / np.sqrt(lam))
        return Eigen(lam=lam, scores=self.X @ vectors - mean @ vectors)


def _top_eigh(gram: np.ndarray, top: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of a symmetric PSD matrix, decreasing, above ``GRAM_RTOL`` of the largest;
    the top ``top`` only when given (a partial decomposition only pays off for a few
    components of a large matrix)."""
    size = gram.shape[0]
    if top is not None and size >= max(100, 8 * top):
        lam, vectors = scipy.linalg.eigh(gram, subset_by_index=[size - top, size - 1])
    else:
        lam, vectors = np.linalg.eigh(gram)
    lam, vectors = lam[::-1], vectors[:, ::-1]
    largest = float(lam[0])
    keep = lam > GRAM_RTOL * largest if largest > 0 else np.zeros(lam.size, dtype=bool)
    if top is not None:
        keep[top:] = False
    return lam[keep], np.ascontiguousarray(vectors[:, keep])
