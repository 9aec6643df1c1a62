"""Similarity of population dynamics between each model and the SOC ground truth.

One module per family of metrics, behind one run engine:

* :mod:`~hintforce.similarity.subspace`: CCA on PCA latent factors, linear CKA and an angular
  Procrustes distance of the top-``k`` principal component scores (Sussillo et al. 2015);
* :mod:`~hintforce.similarity.predictivity`: neural predictivity, cross-validated ridge from a
  model's units to each SOC neuron;
* :mod:`~hintforce.similarity.validation`: the activity components (full, condition-specific),
  the folds over conditions and the largest ``k`` a study supports;
* :mod:`~hintforce.similarity.nulls`: the permutation nulls (condition labels permuted);
* :mod:`~hintforce.similarity.interface`: the metric interface (fit on training conditions,
  score on test conditions) and its generic relabel-and-rescore null, through which a metric
  without a fast path enters a run (:func:`compare_run`'s ``metrics``);
* :mod:`~hintforce.similarity.decompositions`: cached PCA of any set of conditions' samples;
* :mod:`~hintforce.similarity.engine`: :func:`compare_run`, one run's whole table.

A population's activity is a matrix of samples x units: all (condition, time bin) pairs of the
movement window stacked condition by condition (:func:`stack_conditions`), the columns neurons
or network units. In-sample scores of a high-dimensional model are permissive (unrelated
activity shares timing with the SOC), so every score is also given on the condition-specific
part of the activity, cross-validated over conditions, on held-out directions when the task
has some, and next to its permutation null.
"""

from hintforce.similarity.engine import (
    SPECTRUM_COLUMNS,
    TABLE_COLUMNS,
    RunSimilarity,
    SimilarityParams,
    compare_run,
)
from hintforce.similarity.interface import GenericMetric, Metric, relabel_scores
from hintforce.similarity.predictivity import ridge_loco_errors
from hintforce.similarity.subspace import (
    PCAScores,
    canonical_correlations,
    canonical_variates,
    linear_cka,
    pca_scores,
    procrustes_angular,
    stack_conditions,
)
from hintforce.similarity.validation import condition_component, condition_folds, max_k
from hintforce.study import BASELINE, CEILING, POPULATIONS, RELIABILITY

__all__ = [
    "BASELINE",
    "CEILING",
    "POPULATIONS",
    "RELIABILITY",
    "SPECTRUM_COLUMNS",
    "TABLE_COLUMNS",
    "GenericMetric",
    "Metric",
    "PCAScores",
    "RunSimilarity",
    "SimilarityParams",
    "canonical_correlations",
    "canonical_variates",
    "compare_run",
    "condition_component",
    "condition_folds",
    "linear_cka",
    "max_k",
    "pca_scores",
    "procrustes_angular",
    "relabel_scores",
    "ridge_loco_errors",
    "stack_conditions",
]
