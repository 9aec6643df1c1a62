"""The metric interface (hintforce.similarity.interface): a metric given only as fit/score
enters every row of a run with the generic relabel-and-rescore null, and the subspace metrics
restated in that form reproduce the engine's fast paths, values and nulls alike."""

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from hintforce import study
from hintforce.similarity import SimilarityParams, compare_run, stack_conditions
from hintforce.similarity.interface import (
    FoldedCCA,
    FoldedCKA,
    FoldedProcrustes,
    GenericMetric,
    relabel_scores,
)

C, T, N, U = 8, 12, 24, 18
PARAMS = SimilarityParams(ks=(2, 3), n_permutations=5, n_predictor_pcs=8, n_penalties=4)
RESTATED = {
    "cca_restated": GenericMetric(FoldedCCA, True),
    "cka_restated": GenericMetric(FoldedCKA, True),
    "procrustes_restated": GenericMetric(FoldedProcrustes, False),
}


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def _smooth(rng, n_units, n_latents=6):
    latents = rng.standard_normal((C, T, n_latents)).cumsum(axis=1)
    return latents @ rng.standard_normal((n_latents, n_units)) + 0.1 * rng.standard_normal(
        (C, T, n_units)
    )


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(5)
    soc = _smooth(rng, N)
    models = {
        "unrelated": _smooth(rng, U),
        "mixture": soc @ rng.standard_normal((N, U)) + 0.3 * rng.standard_normal((C, T, U)),
    }
    observed = np.sort(rng.choice(N, 10, replace=False))
    held_out = np.setdiff1d(np.arange(N), observed)[:8]
    return soc, models, observed, held_out


@pytest.mark.parametrize("held", [None, np.array([1, 4, 6])], ids=["folds", "held_out"])
def test_restated_subspace_metrics_reproduce_the_fast_paths_rows_and_nulls(inputs, held):
    soc, models, observed, held_out = inputs
    run = compare_run(
        soc,
        models,
        observed,
        held_out,
        PARAMS,
        np.random.default_rng(2),
        held_out_directions=held,
        metrics=RESTATED,
    )
    plain = compare_run(
        soc, models, observed, held_out, PARAMS, np.random.default_rng(2), held_out_directions=held
    )
    table = run.table
    fast = table[~table.metric.str.endswith("_restated")].reset_index(drop=True)
    pd.testing.assert_frame_equal(fast, plain.table)  # the extra metrics change nothing else
    keys = [c for c in study.ROW_KEYS if c != "metric"]
    for name in RESTATED:
        mine = table[table.metric == name].drop(columns="metric").set_index(keys)
        theirs = fast[fast.metric == name.removesuffix("_restated")]
        theirs = theirs.drop(columns="metric").set_index(keys)
        assert len(mine) == len(theirs) > 0
        mine = mine.loc[theirs.index]
        # the Procrustes angle of a perfect match is arccos of 1 - rounding: ~1e-8 rad
        np.testing.assert_allclose(mine["value"], theirs["value"], rtol=1e-8, atol=1e-7)
        # The SOC against all of itself has every training canonical correlation 1: its CCA
        # directions are any basis, so a pairing that moves only test conditions gets a
        # basis-dependent CCA null. Every other row's null is defined and must agree.
        itself = (mine.index.get_level_values("model") == study.CEILING) & (
            mine.index.get_level_values("population") == study.POPULATIONS[0]
        )
        defined = ~itself if name == "cca_restated" else np.ones(len(mine), dtype=bool)
        for column in ("null_mean", "null_p"):
            np.testing.assert_allclose(
                mine[column][defined], theirs[column][defined], rtol=1e-8, atol=1e-7
            )


class _MeanAbsoluteDifference:
    """A metric with no fast path and nothing to fit: the mean absolute difference of the two
    populations' first units over the test samples."""

    def __init__(self, k):
        self.k = k

    def fit(self, source, target):
        return None

    def score(self, fitted, source, target):
        return float(np.mean(np.abs(source[:, 0] - target[:, 0])))


def test_a_metric_given_as_fit_and_score_is_scored_with_the_relabel_null():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((6, 5, 3))
    Y = X + 0.01 * rng.standard_normal((6, 5, 3))
    folds = ((np.array([0, 1, 2, 3]), np.array([4, 5])), (np.array([2, 3, 4, 5]), np.array([0, 1])))
    pairings = np.array([np.arange(6), [1, 0, 2, 3, 5, 4], [5, 4, 3, 2, 1, 0]])
    scores = relabel_scores(_MeanAbsoluteDifference(1), X, Y, folds, pairings)
    for p, pairing in enumerate(pairings):
        expected = np.mean(
            [np.mean(np.abs(X[test, :, 0] - Y[pairing[test], :, 0])) for _, test in folds]
        )
        assert scores[p] == pytest.approx(expected, rel=1e-12)
    assert scores[0] < scores[1:].min()  # the true pairing is the close one


def test_a_new_metric_gets_every_row_of_a_run(inputs):
    soc, models, observed, held_out = inputs
    extra = {"mad": GenericMetric(_MeanAbsoluteDifference, False)}
    table = compare_run(
        soc, models, observed, held_out, PARAMS, np.random.default_rng(2), metrics=extra
    ).table
    mine = table[table.metric == "mad"]
    cka = table[table.metric == "cka"]
    assert len(mine) == len(cka)
    assert mine.value.notna().all() and mine.null_p.between(0, 1).all()
    assert list(table.metric.unique()) == [m.name for m in study.METRICS] + ["mad"]


@pytest.mark.parametrize(
    "metrics", [{"cka": GenericMetric(FoldedCKA, True)}, {"new": FoldedCKA}], ids=["name", "type"]
)
def test_a_metric_that_clashes_or_is_not_a_generic_metric_is_refused(inputs, metrics):
    soc, models, observed, held_out = inputs
    with pytest.raises(ValueError, match="metrics must map new names"):
        compare_run(
            soc, models, observed, held_out, PARAMS, np.random.default_rng(2), metrics=metrics
        )


def test_in_sample_restated_cca_is_the_mean_canonical_correlation():
    rng = np.random.default_rng(9)
    X = stack_conditions(_smooth(rng, U))
    Y = stack_conditions(_smooth(rng, N))
    metric = FoldedCCA(3)
    value = metric.score(metric.fit(X, Y), X, Y)
    Qx = np.linalg.qr(_top_scores(X, 3))[0]
    Qy = np.linalg.qr(_top_scores(Y, 3))[0]
    assert value == pytest.approx(np.linalg.svd(Qx.T @ Qy, compute_uv=False).mean(), rel=1e-10)


def _top_scores(X, k):
    centred = X - X.mean(axis=0)
    U_, S, _ = np.linalg.svd(centred, full_matrices=False)
    return U_[:, :k] * S[:k]
