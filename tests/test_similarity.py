import logging

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from hintforce.similarity import (
    RunSimilarity,
    canonical_correlations,
    canonical_variates,
    compare_run,
    linear_cka,
    pca_scores,
    procrustes_angular,
    stack_conditions,
)
from hintforce.similarity import _split_halves as split_halves

PROPERTY = settings(max_examples=40, deadline=None)


def _random_orthogonal(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def _smooth_population(rng, n_conditions, n_times, n_units, n_latents=12):
    """Low-dimensional smooth trajectories mixed into many units, plus a little noise."""
    latents = rng.standard_normal((n_conditions, n_times, n_latents)).cumsum(axis=1)
    mixing = rng.standard_normal((n_latents, n_units))
    noise = 0.1 * rng.standard_normal((n_conditions, n_times, n_units))
    return latents @ mixing + noise


# ---------------------------------------------------------------------------------------------
# stack_conditions and pca_scores


def test_stack_conditions_makes_condition_major_samples():
    rates = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    X = stack_conditions(rates)
    assert X.shape == (6, 4)
    for c in range(2):
        for t in range(3):
            assert np.array_equal(X[c * 3 + t], rates[c, t])


def test_stack_conditions_refuses_a_matrix():
    with pytest.raises(ValueError, match="n_conditions, n_times, n_units"):
        stack_conditions(np.zeros((6, 4)))


def test_pca_score_variances_are_the_top_covariance_eigenvalues():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 15)) @ rng.standard_normal((15, 15)) + 5.0
    result = pca_scores(X, 6)
    eigenvalues = np.linalg.eigvalsh(np.cov(X, rowvar=False))[::-1][:6]
    np.testing.assert_allclose(result.scores.var(axis=0, ddof=1), eigenvalues, rtol=1e-10)
    np.testing.assert_allclose(result.scores.mean(axis=0), 0.0, atol=1e-10)
    gram = result.scores.T @ result.scores
    np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0.0, atol=1e-8)
    assert result.n_dropped == 0


def test_pca_scores_of_fewer_components_are_the_leading_columns():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((80, 12))
    np.testing.assert_allclose(pca_scores(X, 3).scores, pca_scores(X, 7).scores[:, :3])


@pytest.mark.parametrize(
    ("shape", "k", "limit"),
    [((5, 10), 5, 4), ((50, 6), 7, 6)],
)
def test_k_above_the_available_components_is_refused(shape, k, limit):
    X = np.random.default_rng(2).standard_normal(shape)
    with pytest.raises(ValueError, match=rf"k={k}.*limit {limit}"):
        pca_scores(X, k)
    with pytest.raises(ValueError, match=rf"k={k}.*limit {limit}"):
        canonical_correlations(X, X, k)


def test_k_above_the_numerical_rank_is_refused():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 3)) @ rng.standard_normal((3, 10))
    with pytest.raises(ValueError, match=r"k=5.*numerical rank.*limit 3"):
        pca_scores(X, 5)


@pytest.mark.parametrize("k", [0, -1, 2.0, True])
def test_k_must_be_a_positive_integer(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        pca_scores(np.random.default_rng(0).standard_normal((20, 5)), k)


def test_constant_units_are_dropped_and_reported_not_turned_into_nan(caplog):
    rng = np.random.default_rng(4)
    varying = rng.standard_normal((70, 8))
    silent = np.zeros((70, 1))
    saturated = np.full((70, 2), 100.0)
    X = np.hstack([silent, varying[:, :4], saturated, varying[:, 4:]])
    with caplog.at_level(logging.WARNING, logger="hintforce.similarity"):
        result = pca_scores(X, 5)
    assert result.n_dropped == 3
    assert "dropped 3 constant" in caplog.text
    assert np.array_equal(result.kept, [1, 2, 3, 4, 7, 8, 9, 10])
    np.testing.assert_allclose(result.scores, pca_scores(varying, 5).scores, atol=1e-10)
    Y = rng.standard_normal((70, 6))
    assert np.all(np.isfinite(canonical_correlations(X, Y, 5)))
    assert np.isfinite(linear_cka(X, Y, 5))
    assert np.isfinite(procrustes_angular(X, Y, 5))


def test_constant_units_do_not_count_towards_the_limit():
    rng = np.random.default_rng(5)
    X = np.hstack([rng.standard_normal((40, 5)), np.ones((40, 3))])
    with pytest.raises(ValueError, match=r"k=6.*limit 5"):
        pca_scores(X, 6)


def test_non_finite_activity_is_refused():
    X = np.random.default_rng(0).standard_normal((20, 5))
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pca_scores(X, 2)


def test_populations_must_share_their_samples():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="same number of samples"):
        canonical_correlations(rng.standard_normal((30, 5)), rng.standard_normal((31, 5)), 2)


# ---------------------------------------------------------------------------------------------
# canonical correlations


@PROPERTY
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(1, 6),
    extra_units=st.integers(1, 10),
    extra_samples=st.integers(2, 50),
)
def test_cca_is_one_for_an_invertible_transform_plus_offset_of_a_rank_k_matrix(
    seed, k, extra_units, extra_samples
):
    # With the data of rank k, the k PCs span its whole (centred) column space, which any
    # invertible map of the units preserves. (For full-rank data a general invertible map changes
    # which k directions have the most variance, so no such identity holds.)
    rng = np.random.default_rng(seed)
    n, units = k + extra_samples, k + extra_units
    X = rng.standard_normal((n, k)) @ rng.standard_normal((k, units))
    A = _random_orthogonal(rng, units) @ np.diag(rng.uniform(0.2, 5.0, units))
    A = A @ _random_orthogonal(rng, units)
    Y = X @ A + rng.normal(0, 10, units)
    np.testing.assert_allclose(canonical_correlations(X, Y, k), 1.0, atol=1e-8)


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 8), scale=st.floats(1e-3, 1e3))
def test_cca_cka_and_procrustes_see_an_orthogonal_scaled_shifted_copy_as_identical(seed, k, scale):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((60, 12)) @ np.diag(np.linspace(3.0, 0.5, 12))
    Y = scale * X @ _random_orthogonal(rng, 12) + rng.normal(0, 10, 12)
    np.testing.assert_allclose(canonical_correlations(X, Y, k), 1.0, atol=1e-8)
    assert linear_cka(X, Y, k) == pytest.approx(1.0, abs=1e-8)
    assert procrustes_angular(X, Y, k) == pytest.approx(0.0, abs=1e-6)


@PROPERTY
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(1, 6),
    ux=st.integers(6, 15),
    uy=st.integers(6, 15),
    n=st.integers(10, 60),
)
def test_cca_is_symmetric_sorted_and_within_zero_and_one(seed, k, ux, uy, n):
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal((n, 2))
    X = shared @ rng.standard_normal((2, ux)) + rng.standard_normal((n, ux))
    Y = shared @ rng.standard_normal((2, uy)) + rng.standard_normal((n, uy))
    rho_xy = canonical_correlations(X, Y, k)
    rho_yx = canonical_correlations(Y, X, k)
    assert rho_xy.shape == (k,)
    np.testing.assert_allclose(rho_xy, rho_yx, atol=1e-12)
    assert np.all((rho_xy >= 0.0) & (rho_xy <= 1.0))
    assert np.all(np.diff(rho_xy) <= 0.0)


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 6))
def test_cca_is_invariant_to_permuting_units(seed, k):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((50, 10)) @ rng.standard_normal((10, 10))
    Y = X[:, :7] + 0.5 * rng.standard_normal((50, 7))
    perm = rng.permutation(10)
    np.testing.assert_allclose(
        canonical_correlations(X[:, perm], Y, k), canonical_correlations(X, Y, k), atol=1e-10
    )
    np.testing.assert_allclose(pca_scores(X[:, perm], k).scores, pca_scores(X, k).scores)


def test_cca_matches_the_generalized_eigenproblem_on_the_same_scores():
    rng = np.random.default_rng(6)
    n, k = 400, 8
    shared = rng.standard_normal((n, 5))
    X = shared @ rng.standard_normal((5, 30)) + rng.standard_normal((n, 30))
    Y = shared @ rng.standard_normal((5, 25)) + rng.standard_normal((n, 25))
    Sx, Sy = pca_scores(X, k).scores, pca_scores(Y, k).scores
    Sxx, Syy, Sxy = Sx.T @ Sx, Sy.T @ Sy, Sx.T @ Sy
    # Sxy Syy^-1 Syx v = rho^2 Sxx v
    rho2 = scipy.linalg.eigh(Sxy @ np.linalg.solve(Syy, Sxy.T), Sxx, eigvals_only=True)
    expected = np.sqrt(np.clip(rho2, 0.0, None))[::-1]
    np.testing.assert_allclose(canonical_correlations(X, Y, k), expected, atol=1e-8)


def test_cca_of_independent_gaussian_populations_matches_random_subspace_theory():
    # The top-k PC subspace of centred iid Gaussian data is a uniformly random k-dim subspace
    # of the (n-1)-dim space orthogonal to the all-ones vector. For two independent such
    # subspaces E[sum rho_i^2] = E tr(P_x P_y) = k^2 / (n-1) exactly, and the canonical
    # correlations are distributed as those of two independent Gaussian (n-1) x k matrices,
    # whose principal angles scipy.linalg.subspace_angles computes without any PCA.
    rng = np.random.default_rng(7)
    n, units, k, draws = 40, 12, 4, 400
    rho = np.array(
        [
            canonical_correlations(
                rng.standard_normal((n, units)), rng.standard_normal((n, units)), k
            )
            for _ in range(draws)
        ]
    )
    mean_square = (rho**2).mean(axis=1)
    se_square = mean_square.std(ddof=1) / np.sqrt(draws)
    assert abs(mean_square.mean() - k / (n - 1)) < 4 * se_square

    reference = np.array(
        [
            np.cos(
                scipy.linalg.subspace_angles(
                    rng.standard_normal((n - 1, k)), rng.standard_normal((n - 1, k))
                )
            ).mean()
            for _ in range(draws)
        ]
    )
    ours = rho.mean(axis=1)
    se = np.sqrt(ours.var(ddof=1) / draws + reference.var(ddof=1) / draws)
    assert abs(ours.mean() - reference.mean()) < 4 * se


# ---------------------------------------------------------------------------------------------
# CKA and Procrustes


def test_cka_matches_the_centred_gram_matrix_formula_on_the_same_scores():
    rng = np.random.default_rng(8)
    n, k = 90, 5
    X = rng.standard_normal((n, 14))
    Y = X[:, :10] @ rng.standard_normal((10, 9)) + rng.standard_normal((n, 9))
    Sx, Sy = pca_scores(X, k).scores, pca_scores(Y, k).scores
    H = np.eye(n) - 1.0 / n
    K, L = H @ Sx @ Sx.T @ H, H @ Sy @ Sy.T @ H
    expected = np.trace(K @ L) / np.sqrt(np.trace(K @ K) * np.trace(L @ L))
    assert linear_cka(X, Y, k) == pytest.approx(expected, rel=1e-10)
    assert 0.0 < linear_cka(X, Y, k) < 1.0


def test_procrustes_matches_scipy_orthogonal_procrustes_on_the_same_scores():
    rng = np.random.default_rng(9)
    n, k = 90, 6
    X = rng.standard_normal((n, 14))
    Y = X[:, :8] @ rng.standard_normal((8, 11)) + rng.standard_normal((n, 11))
    Sx, Sy = pca_scores(X, k).scores, pca_scores(Y, k).scores
    Xn, Yn = Sx / np.linalg.norm(Sx), Sy / np.linalg.norm(Sy)
    R, _ = scipy.linalg.orthogonal_procrustes(Xn, Yn)
    expected = np.arccos(np.sum((Xn @ R) * Yn))
    assert procrustes_angular(X, Y, k) == pytest.approx(expected, rel=1e-10)


def test_procrustes_is_zero_for_a_rotated_copy_and_positive_for_unrelated_data():
    rng = np.random.default_rng(10)
    X = rng.standard_normal((100, 9)) @ np.diag(np.linspace(2.0, 1.0, 9))
    assert procrustes_angular(X, X @ _random_orthogonal(rng, 9), 5) == pytest.approx(0.0, abs=1e-6)
    unrelated = procrustes_angular(X, rng.standard_normal((100, 9)), 5)
    assert 0.5 < unrelated <= np.pi / 2


# ---------------------------------------------------------------------------------------------
# compare_run

N_COND, N_TIME, N_SOC, N_MODEL = 4, 30, 40, 50
KS = (3, 5)


@pytest.fixture(scope="module")
def run_inputs():
    rng = np.random.default_rng(11)
    soc = _smooth_population(rng, N_COND, N_TIME, N_SOC)
    models = {
        "ff": _smooth_population(rng, N_COND, N_TIME, N_MODEL),
        "ffh": np.concatenate(
            [soc, _smooth_population(rng, N_COND, N_TIME, N_MODEL - N_SOC)], axis=2
        ),
        "floor": _smooth_population(rng, N_COND, N_TIME, N_MODEL),
    }
    observed = rng.choice(N_SOC, 16, replace=False)
    return soc, models, observed


@pytest.fixture(scope="module")
def run(run_inputs):
    soc, models, observed = run_inputs
    return compare_run(soc, models, observed, KS, np.random.default_rng(12))


def test_compare_run_table_has_exactly_the_specified_columns_and_rows(run):
    assert isinstance(run, RunSimilarity)
    assert list(run.table.columns) == ["model", "population", "metric", "k", "value"]
    metrics, pops = ("cca", "cka", "procrustes"), ("all", "observed", "unobserved")
    expected = {
        (model, pop, metric, k)
        for model in ("ff", "ffh", "floor", "soc_split")
        for pop in pops
        for metric in metrics
        for k in KS
    } | {("soc_observed", "unobserved", metric, k) for metric in metrics for k in KS}
    rows = list(run.table[["model", "population", "metric", "k"]].itertuples(index=False))
    assert len(rows) == len(expected)
    assert set(map(tuple, rows)) == expected
    assert run.table["k"].dtype == np.int64
    assert run.table["value"].dtype == np.float64


def test_compare_run_values_lie_in_their_ranges(run):
    table = run.table
    bounded = table[table.metric.isin(["cca", "cka"])].value
    assert np.all((bounded >= 0) & (bounded <= 1))
    angles = table[table.metric == "procrustes"].value
    assert np.all((angles >= 0) & (angles <= np.pi / 2))
    assert np.all(np.isfinite(table.value))


def test_compare_run_spectra_are_sorted_and_average_to_the_cca_rows(run):
    spectra = run.spectra
    assert list(spectra.columns) == ["model", "population", "k", "index", "value"]
    for (model, pop, k), group in spectra.groupby(["model", "population", "k"]):
        assert list(group["index"]) == list(range(k))
        assert np.all(np.diff(group.value.to_numpy()) <= 0)
        t = run.table
        cca = t[(t.model == model) & (t.population == pop) & (t.k == k) & (t.metric == "cca")]
        cca = cca.value.item()
        assert group.value.mean() == pytest.approx(cca, abs=1e-12)
    assert len(spectra) == 13 * sum(KS)


def test_compare_run_is_reproducible_for_the_same_rng_seed(run_inputs, run):
    soc, models, observed = run_inputs
    again = compare_run(soc, models, observed, KS, np.random.default_rng(12))
    pd.testing.assert_frame_equal(run.table, again.table)
    pd.testing.assert_frame_equal(run.spectra, again.spectra)
    other = compare_run(soc, models, observed, KS, np.random.default_rng(13)).table
    split = run.table.model == "soc_split"
    pd.testing.assert_frame_equal(run.table[~split], other[~split])
    assert not np.allclose(run.table[split].value, other[split].value)


def test_a_model_equal_to_the_soc_recovers_it_fully(run_inputs):
    soc, _, observed = run_inputs
    models = {"copy": soc.copy(), "observed_copy": soc[:, :, observed]}
    table = compare_run(soc, models, observed, KS, np.random.default_rng(0)).table
    copy_all = table[(table.model == "copy") & (table.population == "all")]
    np.testing.assert_allclose(copy_all[copy_all.metric == "cca"].value, 1.0, atol=1e-8)
    np.testing.assert_allclose(copy_all[copy_all.metric == "cka"].value, 1.0, atol=1e-8)
    np.testing.assert_allclose(copy_all[copy_all.metric == "procrustes"].value, 0.0, atol=1e-6)
    obs = table[(table.model == "observed_copy") & (table.population == "observed")]
    np.testing.assert_allclose(obs[obs.metric == "cca"].value, 1.0, atol=1e-8)


def test_the_hinted_model_beats_unrelated_models_on_the_neurons_it_contains(run):
    # ffh carries the SOC's own rates among its units; ff and floor are unrelated draws
    cca = run.table[(run.table.metric == "cca") & (run.table.population == "all")]
    by_model = cca.groupby("model").value.mean()
    assert by_model["ffh"] > by_model["ff"]
    assert by_model["ffh"] > by_model["floor"]


@pytest.mark.parametrize("size", [7, 8, 140])
def test_ceiling_halves_are_disjoint_and_cover_the_population(size):
    population = np.sort(np.random.default_rng(0).choice(1000, size, replace=False))
    first, second = split_halves(population, np.random.default_rng(1))
    assert (first.size, second.size) == (size // 2, size - size // 2)
    assert np.intersect1d(first, second).size == 0
    assert np.array_equal(np.union1d(first, second), population)


def test_compare_run_refuses_a_population_smaller_than_k(run_inputs):
    soc, models, _ = run_inputs
    with pytest.raises(ValueError, match=r"k=5.*'observed'.*limit 4"):
        compare_run(soc, models, np.arange(4), KS, np.random.default_rng(0))


def test_compare_run_refuses_a_ceiling_half_smaller_than_k(run_inputs):
    soc, models, _ = run_inputs
    with pytest.raises(ValueError, match=r"k=5.*observed \(ceiling half\).*limit 4"):
        compare_run(soc, models, np.arange(8), KS, np.random.default_rng(0))


def test_compare_run_drops_silent_neurons_and_reports_them(run_inputs):
    soc, models, observed = run_inputs
    soc = soc.copy()
    silent = np.setdiff1d(np.arange(N_SOC), observed)[:2]
    soc[:, :, silent] = 0.0
    result = compare_run(soc, models, observed, KS, np.random.default_rng(0))
    assert np.all(np.isfinite(result.table.value))
    assert result.dropped["soc/all"] == 2
    assert result.dropped["soc/unobserved"] == 2
    assert "soc/observed" not in result.dropped


@pytest.mark.parametrize(
    ("observed", "message"),
    [
        (np.array([1, 1, 2]), "repeat"),
        (np.array([0, N_SOC]), "indices"),
        (np.arange(N_SOC), "between 1"),
        (np.array([0.0, 1.0]), "integer"),
    ],
)
def test_compare_run_refuses_bad_observed_indices(run_inputs, observed, message):
    soc, models, _ = run_inputs
    with pytest.raises(ValueError, match=message):
        compare_run(soc, models, observed, KS, np.random.default_rng(0))


def test_compare_run_refuses_models_on_other_conditions_or_times(run_inputs):
    soc, models, observed = run_inputs
    bad = {"ff": models["ff"][:, :-1]}
    with pytest.raises(ValueError, match="conditions, times"):
        compare_run(soc, bad, observed, KS, np.random.default_rng(0))


def test_compare_run_at_the_default_size_gives_all_rows():
    rng = np.random.default_rng(14)
    soc = _smooth_population(rng, 8, 80, 200)
    models = {m: _smooth_population(rng, 8, 80, 300) for m in ("ff", "ffh", "floor")}
    observed = rng.choice(200, 60, replace=False)
    result = compare_run(soc, models, observed, (5, 10), rng)
    assert len(result.table) == 13 * 3 * 2
    assert np.all(np.isfinite(result.table.value))


def test_canonical_variates_are_orthonormal_and_pair_up_by_the_correlations():
    rng = np.random.default_rng(11)
    latent = rng.standard_normal((200, 3))
    X = latent @ rng.standard_normal((3, 12)) + 0.5 * rng.standard_normal((200, 12))
    Y = latent @ rng.standard_normal((3, 9)) + 0.5 * rng.standard_normal((200, 9))
    Xv, Yv, rho = canonical_variates(X, Y, 4)
    np.testing.assert_allclose(Xv.T @ Xv, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(Yv.T @ Yv, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(Xv.T @ Yv, np.diag(rho), atol=1e-12)
    np.testing.assert_allclose(rho, canonical_correlations(X, Y, 4), atol=1e-12)
