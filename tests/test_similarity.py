import logging

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from hintforce import study
from hintforce.similarity import (
    RunSimilarity,
    SimilarityParams,
    canonical_correlations,
    canonical_variates,
    compare_run,
    condition_component,
    condition_folds,
    linear_cka,
    max_k,
    pca_scores,
    predictivity,
    procrustes_angular,
    ridge_loco_errors,
    stack_conditions,
)
from hintforce.similarity.engine import _split_halves as split_halves

#: The validations of a run whose task holds no direction out.
TRAINING_VALIDATIONS = tuple(v for v in study.VALIDATIONS if v != study.HELD_OUT_DIRECTIONS)

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


# ---------------------------------------------------------------------------------------------
# parameters, components, folds and limits


def test_similarity_params_defaults_and_sequences():
    params = SimilarityParams()
    assert params.ks == (5, 10)
    assert params.n_permutations >= 19
    assert SimilarityParams(ks=[3, 7]).ks == (3, 7)  # a YAML list is accepted
    grid = params.penalty_grid
    assert grid.size == params.n_penalties
    assert grid[0] == pytest.approx(params.penalty_min)
    assert grid[-1] == pytest.approx(params.penalty_max)
    np.testing.assert_allclose(np.diff(np.log(grid)), np.log(grid[1] / grid[0]))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"ks": ()}, "ks"),
        ({"ks": (0, 5)}, "ks"),
        ({"ks": (5, 5)}, "ks"),
        ({"ks": (2.5,)}, "ks"),
        ({"ks": 5}, "ks"),
        ({"n_permutations": 0}, "n_permutations"),
        ({"n_permutations": True}, "n_permutations"),
        ({"n_predictor_pcs": 0}, "n_predictor_pcs"),
        ({"n_penalties": 0}, "n_penalties"),
        ({"penalty_min": 0.0}, "penalty_min"),
        ({"penalty_min": float("nan")}, "penalty_min"),
        ({"penalty_min": 1.0, "penalty_max": 0.5}, "penalty_max"),
        ({"n_penalties": 1, "penalty_min": 1.0, "penalty_max": 2.0}, "penalty_max"),
    ],
)
def test_similarity_params_refuse_bad_values_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SimilarityParams(**kwargs)


def test_condition_component_removes_the_mean_over_conditions_and_commutes_with_permutations():
    rng = np.random.default_rng(0)
    rates = rng.standard_normal((6, 5, 4)) + rng.standard_normal((1, 5, 4)) * 10
    part = condition_component(rates)
    np.testing.assert_allclose(part.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(part, rates - rates.mean(axis=0), atol=1e-12)
    perm = rng.permutation(6)
    np.testing.assert_allclose(condition_component(rates[perm]), part[perm], atol=1e-12)


def test_condition_folds_hold_out_opposite_conditions():
    folds = condition_folds(8)
    assert [f.tolist() for f in folds] == [[0, 4], [1, 5], [2, 6], [3, 7]]
    assert [f.tolist() for f in condition_folds(5)] == [[0, 2, 4], [1, 3]]
    assert [f.tolist() for f in condition_folds(4)] == [[0, 2], [1, 3]]
    with pytest.raises(ValueError, match="n_conditions >= 4"):
        condition_folds(3)


def test_max_k_is_the_smallest_half_population_unit_count_or_training_fold():
    # default study: halves of 60 observed / 140 unobserved / 140 held out / 200 neurons
    assert max_k(200, 60, 140, 300, 8, 80) == 30
    assert max_k(200, 60, 140, 20, 8, 80) == 20  # the model units
    assert max_k(200, 100, 100, 300, 4, 10) == 19  # 2 training conditions x 10 bins - 1
    assert max_k(200, 100, 60, 300, 8, 80) == 30  # half of the held-out set
    with pytest.raises(ValueError, match="n_conditions >= 4"):
        max_k(200, 60, 140, 300, 3, 80)
    with pytest.raises(ValueError, match="n_observed"):
        max_k(200, 200, 1, 300, 8, 80)
    with pytest.raises(ValueError, match="n_held_out"):
        max_k(200, 60, 141, 300, 8, 80)


# ---------------------------------------------------------------------------------------------
# ridge regression: leave-one-condition-out


def _brute_force_loco(X, Y, n_groups, penalty):
    """Refit the ridge (with its intercept) without each group and predict the group."""
    n = X.shape[0]
    size = n // n_groups
    sse = np.zeros(Y.shape[1])
    for g in range(n_groups):
        left = np.arange(g * size, (g + 1) * size)
        rest = np.setdiff1d(np.arange(n), left)
        x_mean, y_mean = X[rest].mean(axis=0), Y[rest].mean(axis=0)
        Xr, Yr = X[rest] - x_mean, Y[rest] - y_mean
        beta = np.linalg.solve(Xr.T @ Xr + penalty * np.eye(X.shape[1]), Xr.T @ Yr)
        sse += ((Y[left] - y_mean - (X[left] - x_mean) @ beta) ** 2).sum(axis=0)
    return sse


@pytest.mark.parametrize(("n_units", "n_groups"), [(6, 4), (40, 5)])
def test_ridge_loco_shortcut_equals_brute_force_refitting(n_units, n_groups):
    rng = np.random.default_rng(n_units)
    X = rng.standard_normal((n_groups * 9, n_units)) + 5.0  # more units than samples too
    Y = X[:, :3] @ rng.standard_normal((3, 4)) + rng.standard_normal((X.shape[0], 4)) + 2.0
    penalties = np.array([1e-3, 0.1, 10.0, 1e3])
    shortcut = ridge_loco_errors(X, Y, n_groups, penalties)
    for i, penalty in enumerate(penalties):
        np.testing.assert_allclose(
            shortcut[i], _brute_force_loco(X, Y, n_groups, penalty), rtol=1e-8
        )


def test_penalty_criterion_equals_the_weighted_brute_force_errors():
    # compare_run chooses the penalty from a closed-form refit per left-out condition on the
    # fit's principal components; it must equal refitting on those components
    rng = np.random.default_rng(3)
    X = rng.standard_normal((6 * 7, 12)) @ rng.standard_normal((12, 12))
    Y = X[:, :4] @ rng.standard_normal((4, 5)) + rng.standard_normal((42, 5))
    _, s, Vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    scores = (X - X.mean(axis=0)) @ Vt[:7].T
    weights = rng.uniform(0.1, 2.0, 5)
    penalties = s[0] ** 2 * np.array([1e-4, 1e-2, 1.0])
    criterion = predictivity._loco_criterion(
        scores, s[:7] ** 2, Y - Y.mean(axis=0), 6, penalties, weights
    )
    expected = [_brute_force_loco(scores, Y, 6, p) @ weights for p in penalties]
    np.testing.assert_allclose(criterion, expected, rtol=1e-9)


# ---------------------------------------------------------------------------------------------
# compare_run: structure

N_COND, N_TIME, N_SOC, N_MODEL = 8, 20, 40, 30
KS = (3, 5)
PARAMS = SimilarityParams(ks=KS, n_permutations=9)


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # the similarity job runs on one thread; many small decompositions are slower on more
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def run_inputs():
    rng = np.random.default_rng(11)
    soc = _smooth_population(rng, N_COND, N_TIME, N_SOC)
    models = {
        "ff": _smooth_population(rng, N_COND, N_TIME, N_MODEL),
        "ffh": np.concatenate([soc, _smooth_population(rng, N_COND, N_TIME, N_MODEL - 10)], axis=2)[
            :, :, : N_SOC + 5
        ],
        "floor": _smooth_population(rng, N_COND, N_TIME, N_MODEL),
    }
    observed = np.sort(rng.choice(N_SOC, 16, replace=False))
    unobserved = np.setdiff1d(np.arange(N_SOC), observed)
    held_out = unobserved[:14]
    return soc, models, observed, held_out


@pytest.fixture(scope="module")
def run(run_inputs):
    soc, models, observed, held_out = run_inputs
    return compare_run(soc, models, observed, held_out, PARAMS, np.random.default_rng(12))


def _rows(table, **keys):
    mask = np.ones(len(table), dtype=bool)
    for column, value in keys.items():
        mask &= (table[column] == value).to_numpy()
    return table[mask]


def _value(table, column="value", **keys):
    return _rows(table, **keys)[column].item()


METRIC_NAMES = tuple(m.name for m in study.METRICS)


def _expected_keys(models, ks):
    groups = [(m, p) for m in models for p in study.POPULATIONS]
    groups += [(study.CEILING, p) for p in study.POPULATIONS]
    groups += [(study.BASELINE, p) for p in ("unobserved", study.HELD_OUT)]
    groups += [(study.RELIABILITY, p) for p in study.POPULATIONS]
    keys = []
    for model, population in groups:
        for metric in METRIC_NAMES:
            for k in ks if metric != "predictivity" else (max(ks),):
                for component in study.COMPONENTS:
                    for validation in TRAINING_VALIDATIONS:
                        keys.append((model, population, metric, k, component, validation))
    return keys


def test_compare_run_table_has_exactly_the_specified_columns_and_rows_in_order(run):
    assert isinstance(run, RunSimilarity)
    table = run.table
    assert list(table.columns) == [*study.ROW_KEYS, "value", "null_mean", "null_p", "above_null"]
    rows = list(table[list(study.ROW_KEYS)].itertuples(index=False, name=None))
    assert rows == _expected_keys(["ff", "ffh", "floor"], KS)
    assert table["k"].dtype == np.int64
    for column in ("value", "null_mean", "null_p", "above_null"):
        assert table[column].dtype == np.float64


def test_compare_run_values_lie_in_their_ranges(run):
    table = run.table
    assert np.all(np.isfinite(table[["value", "null_mean", "null_p", "above_null"]]))
    in_sample = table.validation == "in_sample"
    for metric, low, high in (("cca", 0, 1), ("cka", 0, 1), ("procrustes", 0, np.pi / 2)):
        values = table[in_sample & (table.metric == metric)].value
        assert np.all((values >= low) & (values <= high + 1e-12)), metric
    cv = table[~in_sample]
    assert np.all(np.abs(cv[cv.metric == "cca"].value) <= 1 + 1e-12)  # held-out Pearson
    assert np.all((cv[cv.metric == "cka"].value >= 0) & (cv[cv.metric == "cka"].value <= 1))
    angles = cv[cv.metric == "procrustes"].value
    assert np.all((angles >= 0) & (angles <= np.pi))
    assert np.all(table[table.metric == "predictivity"].value <= 1)


def test_null_p_and_above_null_follow_their_definitions(run):
    table = run.table
    n = PARAMS.n_permutations
    p = table.null_p.to_numpy()
    assert np.all((p >= 1 / (n + 1) - 1e-12) & (p <= 1 + 1e-12))
    np.testing.assert_allclose(p * (n + 1), np.round(p * (n + 1)), atol=1e-9)
    distance = (table.metric == "procrustes").to_numpy()
    margin = np.where(distance, table.null_mean - table.value, table.value - table.null_mean)
    np.testing.assert_allclose(table.above_null, margin, atol=1e-12)


def test_compare_run_spectra_are_sorted_and_average_to_the_in_sample_cca_rows(run):
    spectra = run.spectra
    assert list(spectra.columns) == [*study.SPECTRUM_KEYS, "index", "value"]
    table = _rows(run.table, metric="cca", validation="in_sample")
    for (model, population, k, component), group in spectra.groupby(
        list(study.SPECTRUM_KEYS), sort=False
    ):
        assert list(group["index"]) == list(range(k))
        assert np.all(np.diff(group.value.to_numpy()) <= 1e-12)
        cca = _value(table, model=model, population=population, k=k, component=component)
        assert group.value.mean() == pytest.approx(cca, abs=1e-12)
    assert len(spectra) == len(table) // len(KS) * sum(KS)


def test_compare_run_is_reproducible_for_the_same_rng_seed(run_inputs, run):
    soc, models, observed, held_out = run_inputs
    again = compare_run(soc, models, observed, held_out, PARAMS, np.random.default_rng(12))
    pd.testing.assert_frame_equal(run.table, again.table)
    pd.testing.assert_frame_equal(run.spectra, again.spectra)
    other = compare_run(soc, models, observed, held_out, PARAMS, np.random.default_rng(13))
    # another seed draws other halves and permutations: the models' values do not change
    halves = run.table.model == study.RELIABILITY
    pd.testing.assert_series_equal(
        run.table[~halves].value, other.table[~halves].value, check_exact=False, rtol=1e-10
    )
    assert not np.allclose(run.table[halves].value, other.table[halves].value)
    assert not np.allclose(run.table.null_mean, other.table.null_mean)


def test_a_model_equal_to_the_soc_recovers_it_fully(run_inputs):
    soc, _, observed, held_out = run_inputs
    models = {"copy": soc.copy(), "observed_copy": soc[:, :, observed]}
    table = compare_run(soc, models, observed, held_out, PARAMS, np.random.default_rng(0)).table
    for validation in TRAINING_VALIDATIONS:
        for component in study.COMPONENTS:
            rows = _rows(
                table, model="copy", population="all", validation=validation, component=component
            )
            np.testing.assert_allclose(_rows(rows, metric="cca").value, 1.0, atol=1e-8)
            np.testing.assert_allclose(_rows(rows, metric="cka").value, 1.0, atol=1e-8)
            np.testing.assert_allclose(_rows(rows, metric="procrustes").value, 0.0, atol=1e-6)
    obs = _rows(table, model="observed_copy", population="observed", metric="cca")
    np.testing.assert_allclose(obs.value, 1.0, atol=1e-8)
    # the SOC scored as a model is the same matrix as population "all"
    ceiling = _rows(table, model=study.CEILING, population="all", validation="in_sample")
    np.testing.assert_allclose(_rows(ceiling, metric="cca").value, 1.0, atol=1e-8)
    np.testing.assert_allclose(_rows(ceiling, metric="procrustes").value, 0.0, atol=1e-6)


def test_cross_validated_cca_of_a_rotated_copy_is_one(run_inputs):
    soc, _, observed, held_out = run_inputs
    rng = np.random.default_rng(5)
    rotated = soc @ _random_orthogonal(rng, N_SOC) * 3.0 + 7.0
    table = compare_run(
        soc, {"rotated": rotated}, observed, held_out, PARAMS, np.random.default_rng(0)
    ).table
    rows = _rows(table, model="rotated", population="all", validation="cross_validated")
    np.testing.assert_allclose(_rows(rows, metric="cca").value, 1.0, atol=1e-8)
    np.testing.assert_allclose(_rows(rows, metric="cka").value, 1.0, atol=1e-8)
    np.testing.assert_allclose(_rows(rows, metric="procrustes").value, 0.0, atol=1e-6)


def test_the_hinted_model_beats_unrelated_models_on_the_neurons_it_contains(run):
    # ffh carries the SOC's own rates among its units; ff and floor are unrelated draws
    cca = _rows(run.table, metric="cca", population="all")
    by_model = cca.groupby("model").value.mean()
    assert by_model["ffh"] > by_model["ff"]
    assert by_model["ffh"] > by_model["floor"]


def test_reference_rows_are_scored_on_their_own_neurons(run_inputs, run):
    soc, _, observed, held_out = run_inputs
    table = run.table
    assert set(_rows(table, model=study.BASELINE).population) == {"unobserved", study.HELD_OUT}
    # the split halves come first from the rng, one population at a time
    rng = np.random.default_rng(12)
    unobserved = np.setdiff1d(np.arange(N_SOC), observed)
    populations = dict(
        zip(study.POPULATIONS, [np.arange(N_SOC), observed, unobserved, held_out], strict=True)
    )
    X = stack_conditions(soc)
    for population, neurons in populations.items():
        half0, half1 = split_halves(neurons, rng)
        for k in KS:
            expected = canonical_correlations(X[:, half0], X[:, half1], k).mean()
            got = _value(
                table,
                model=study.RELIABILITY,
                population=population,
                metric="cca",
                k=k,
                component="full",
                validation="in_sample",
            )
            assert got == pytest.approx(expected, abs=1e-10)
        expected = canonical_correlations(X[:, observed], X[:, neurons], 3).mean()
        if population in ("unobserved", study.HELD_OUT):
            got = _rows(table, model=study.BASELINE, population=population, metric="cca", k=3)
            got = _value(got, component="full", validation="in_sample")
            assert got == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("size", [7, 8, 140])
def test_split_halves_are_disjoint_and_cover_the_population(size):
    population = np.sort(np.random.default_rng(0).choice(1000, size, replace=False))
    first, second = split_halves(population, np.random.default_rng(1))
    assert (first.size, second.size) == (size // 2, size - size // 2)
    assert np.intersect1d(first, second).size == 0
    assert np.array_equal(np.union1d(first, second), population)


# ---------------------------------------------------------------------------------------------
# compare_run: values and nulls against independent computations


def _draw(rng, populations, n_conditions, n_permutations):
    """The draws of compare_run: one split per population, then the permutations."""
    for neurons in populations:
        rng.permutation(neurons)
    return [rng.permutation(n_conditions) for _ in range(n_permutations)]


def _relabel(rates, perm):
    """The model whose condition c is compared with the SOC's condition perm[c]."""
    out = np.empty_like(rates)
    out[perm] = rates
    return out


def test_in_sample_nulls_are_the_scores_of_the_relabelled_model(run_inputs, run):
    soc, models, observed, held_out = run_inputs
    unobserved = np.setdiff1d(np.arange(N_SOC), observed)
    perms = _draw(
        np.random.default_rng(12),
        [np.arange(N_SOC), observed, unobserved, held_out],
        N_COND,
        PARAMS.n_permutations,
    )
    for component, transform in (("full", np.asarray), ("condition", condition_component)):
        Y = stack_conditions(transform(soc))
        for k in KS:
            null = [
                canonical_correlations(
                    stack_conditions(transform(_relabel(models["ff"], p))), Y, k
                ).mean()
                for p in perms
            ]
            got = _rows(
                run.table, model="ff", population="all", metric="cca", k=k, component=component
            )
            got = _rows(got, validation="in_sample")
            assert got.null_mean.item() == pytest.approx(np.mean(null), abs=1e-10)
            value = got.value.item()
            assert got.null_p.item() == pytest.approx(
                (1 + np.sum(np.array(null) >= value)) / (len(null) + 1)
            )


def _reference_cv(model, soc, k, pairing):
    """Cross-validated CCA, CKA and Procrustes computed directly, one fold at a time.

    The pair (model condition c, SOC condition pairing[c]) is held out in the fold of c.
    """
    C = model.shape[0]
    values = []
    for test in condition_folds(C):
        train = np.setdiff1d(np.arange(C), test)
        scores = []
        for rates, conditions in ((model, (train, test)), (soc, (pairing[train], pairing[test]))):
            X_train = stack_conditions(rates[conditions[0]])
            X_test = stack_conditions(rates[conditions[1]])
            mean = X_train.mean(axis=0)
            _, _, Vt = np.linalg.svd(X_train - mean, full_matrices=False)
            scores.append(((X_train - mean) @ Vt[:k].T, (X_test - mean) @ Vt[:k].T))
        (x_train, x_test), (y_train, y_test) = scores
        whiten_x = np.linalg.inv(scipy.linalg.sqrtm(x_train.T @ x_train))
        whiten_y = np.linalg.inv(scipy.linalg.sqrtm(y_train.T @ y_train))
        U, _, Vt = np.linalg.svd(whiten_x @ x_train.T @ y_train @ whiten_y)
        u, v = x_test @ whiten_x @ U, y_test @ whiten_y @ Vt.T
        cca = np.mean([np.corrcoef(u[:, j], v[:, j])[0, 1] for j in range(k)])
        xc, yc = x_test - x_test.mean(axis=0), y_test - y_test.mean(axis=0)
        n = xc.shape[0]
        H = np.eye(n) - 1.0 / n
        K, L = H @ xc @ xc.T @ H, H @ yc @ yc.T @ H
        cka = np.trace(K @ L) / np.sqrt(np.trace(K @ K) * np.trace(L @ L))
        R, _ = scipy.linalg.orthogonal_procrustes(
            x_train / np.linalg.norm(x_train), y_train / np.linalg.norm(y_train)
        )
        cosine = np.sum((xc / np.linalg.norm(xc)) @ R * (yc / np.linalg.norm(yc)))
        values.append((cca, cka, np.arccos(np.clip(cosine, -1, 1))))
    return np.mean(values, axis=0)


def test_cross_validated_values_and_nulls_match_a_direct_computation(run_inputs, run):
    soc, models, observed, held_out = run_inputs
    unobserved = np.setdiff1d(np.arange(N_SOC), observed)
    perms = _draw(
        np.random.default_rng(12),
        [np.arange(N_SOC), observed, unobserved, held_out],
        N_COND,
        PARAMS.n_permutations,
    )
    model, target = models["ff"], soc[:, :, observed]
    for k in KS:
        rows = _rows(
            run.table, model="ff", population="observed", k=k, validation="cross_validated"
        )
        rows = _rows(rows, component="full").set_index("metric")
        value = _reference_cv(model, target, k, np.arange(N_COND))
        null = np.mean([_reference_cv(model, target, k, p) for p in perms], axis=0)
        for i, metric in enumerate(("cca", "cka", "procrustes")):
            assert rows.loc[metric, "value"] == pytest.approx(value[i], abs=1e-8), metric
            assert rows.loc[metric, "null_mean"] == pytest.approx(null[i], abs=1e-8), metric


def _reference_ridge(model, targets, n_pcs, grid, pairing, penalties=None):
    """In-sample and cross-validated ridge R^2 of every target by brute-force refitting.

    The penalty of each fit is chosen by refitting without each condition (best mean R^2),
    unless given (the penalties chosen for the identity pairing, as the nulls reuse them).
    """
    C, T = model.shape[:2]
    Y_all = stack_conditions(targets[pairing])  # rows in the model's condition order
    sst = ((Y_all - Y_all.mean(axis=0)) ** 2).sum(axis=0)
    fits = [np.arange(C)] + [np.setdiff1d(np.arange(C), t) for t in condition_folds(C)]
    chosen, predictions = [], np.zeros_like(Y_all)
    in_sample = None
    for i, train in enumerate(fits):
        X = stack_conditions(model[train])
        mean = X.mean(axis=0)
        _, s, Vt = np.linalg.svd(X - mean, full_matrices=False)
        S = (X - mean) @ Vt[:n_pcs].T
        Y = stack_conditions(targets[pairing[train]])
        if penalties is None:
            candidates = grid * s[0] ** 2
            weights = 1 / ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
            loco = [_brute_force_loco(S, Y, train.size, p) @ weights for p in candidates]
            penalty = candidates[int(np.argmin(loco))]
        else:
            penalty = penalties[i]
        chosen.append(penalty)
        Sc, Yc = S - S.mean(axis=0), Y - Y.mean(axis=0)
        beta = np.linalg.solve(Sc.T @ Sc + penalty * np.eye(S.shape[1]), Sc.T @ Yc)
        if i == 0:
            fitted = Y.mean(axis=0) + Sc @ beta
            in_sample = 1 - ((Y - fitted) ** 2).sum(axis=0) / sst
        else:
            test = condition_folds(C)[i - 1]
            x_test = (stack_conditions(model[test]) - mean) @ Vt[:n_pcs].T
            rows = (test[:, None] * T + np.arange(T)).ravel()
            predictions[rows] = Y.mean(axis=0) + (x_test - S.mean(axis=0)) @ beta
    cross_validated = 1 - ((Y_all - predictions) ** 2).sum(axis=0) / sst
    return in_sample, cross_validated, chosen


@pytest.mark.parametrize("n_pcs", [4, 50])
def test_predictivity_and_its_nulls_match_brute_force_ridge(n_pcs):
    rng = np.random.default_rng(21)
    C, T, N = 6, 8, 12
    soc = _smooth_population(rng, C, T, N, n_latents=5)
    model = soc[:, :, :6] @ rng.standard_normal((6, 7)) + 0.3 * rng.standard_normal((C, T, 7))
    observed = np.array([0, 3, 5, 7])
    held_out = np.array([1, 2, 4, 6])
    params = SimilarityParams(ks=(2,), n_permutations=4, n_predictor_pcs=n_pcs, n_penalties=5)
    table = compare_run(soc, {"m": model}, observed, held_out, params, np.random.default_rng(2))
    table = table.table
    unobserved = np.setdiff1d(np.arange(N), observed)
    perms = _draw(np.random.default_rng(2), [np.arange(N), observed, unobserved, held_out], C, 4)
    identity = np.arange(C)
    in_sample, cv, chosen = _reference_ridge(model, soc, n_pcs, params.penalty_grid, identity)
    nulls = [_reference_ridge(model, soc, n_pcs, params.penalty_grid, p, chosen)[:2] for p in perms]
    for population, neurons in (("all", np.arange(N)), ("observed", observed)):
        rows = _rows(table, model="m", population=population, metric="predictivity")
        rows = _rows(rows, component="full").set_index("validation")
        for validation, value, index in (("in_sample", in_sample, 0), ("cross_validated", cv, 1)):
            assert rows.loc[validation, "value"] == pytest.approx(
                np.median(value[neurons]), abs=1e-9
            )
            null = np.mean([np.median(n[index][neurons]) for n in nulls])
            assert rows.loc[validation, "null_mean"] == pytest.approx(null, abs=1e-9)


# ---------------------------------------------------------------------------------------------
# compare_run: planted structure

PLANTED_C, PLANTED_T, PLANTED_N = 8, 30, 40


def _walks(rng, shape):
    walks = rng.standard_normal(shape).cumsum(axis=-2)
    return walks - walks.mean(axis=-2, keepdims=True)


@pytest.fixture(scope="module")
def planted():
    """SOC rates = a condition-independent time course (3 latents) + a condition-specific
    part (4 latents, zero mean over conditions) + a little noise, and models built from known
    pieces of it."""
    rng = np.random.default_rng(31)
    C, T, N = PLANTED_C, PLANTED_T, PLANTED_N
    shared = 10.0 * _walks(rng, (1, T, 3))
    specific = _walks(rng, (C, T, 4))
    specific -= specific.mean(axis=0)
    soc = (
        shared @ rng.standard_normal((3, N))
        + specific @ rng.standard_normal((4, N))
        + 0.05 * rng.standard_normal((C, T, N))
    )
    U = 30
    models = {
        "timing": np.broadcast_to(shared @ rng.standard_normal((3, U)), (C, T, U))
        + 0.05 * rng.standard_normal((C, T, U)),
        "specific": specific @ rng.standard_normal((4, U)) + 0.05 * rng.standard_normal((C, T, U)),
        "permuted": soc[np.roll(np.arange(C), 3)],
        "mixture": soc @ rng.standard_normal((N, 50)),
        "unrelated": _walks(rng, (C, T, 10)) @ rng.standard_normal((10, U))
        + 0.05 * rng.standard_normal((C, T, U)),
    }
    observed = np.sort(rng.choice(N, 14, replace=False))
    held_out = np.setdiff1d(np.arange(N), observed)
    params = SimilarityParams(ks=(3,), n_permutations=19, n_predictor_pcs=50)
    result = compare_run(soc, models, observed, held_out, params, np.random.default_rng(32))
    return result.table, params


def _planted(table, model, metric, component, validation, population="all"):
    rows = _rows(table, model=model, population=population, metric=metric, component=component)
    return _rows(rows, validation=validation).iloc[0]


def test_a_shared_time_course_scores_high_on_full_and_at_its_null_on_condition(planted):
    table, params = planted
    specific = _planted(table, "specific", "cca", "condition", "cross_validated")
    for validation in TRAINING_VALIDATIONS:
        full = _planted(table, "timing", "cca", "full", validation)
        assert full.value > 0.95
        # nothing condition-specific: permuting the conditions changes nothing
        assert abs(full.above_null) < 0.02
        condition = _planted(table, "timing", "cca", "condition", validation)
        assert abs(condition.above_null) < 0.2 * specific.above_null
    assert _planted(table, "timing", "cca", "condition", "cross_validated").value < 0.2


def test_the_condition_specific_part_scores_clearly_above_its_null(planted):
    table, params = planted
    smallest_p = 1 / (params.n_permutations + 1)
    for metric in ("cca", "cka", "procrustes", "predictivity"):
        for validation in TRAINING_VALIDATIONS:
            row = _planted(table, "specific", metric, "condition", validation)
            assert row.above_null > 0.3, (metric, validation)
            assert row.null_p == pytest.approx(smallest_p), (metric, validation)


def test_a_condition_permuted_copy_of_the_soc_scores_at_chance_on_condition(planted):
    table, params = planted
    for metric in ("cca", "cka", "predictivity"):
        ceiling = _planted(table, study.CEILING, metric, "condition", "cross_validated")
        permuted = _planted(table, "permuted", metric, "condition", "cross_validated")
        assert ceiling.above_null > 0.3
        assert abs(permuted.above_null) < 0.25 * ceiling.above_null, metric
        assert permuted.null_p > 1 / (params.n_permutations + 1), metric


def test_unrelated_activity_scores_near_zero_cross_validated_but_not_in_sample():
    # Independent random walks correlate spuriously in sample (Yule's nonsense correlations)
    # and CCA picks the best such directions; held out, the correlation of independent
    # populations averages 0. The condition component removes the mean over *all* conditions,
    # which ties the held-out conditions to the training ones (their sums cancel): its
    # cross-validated scores keep a small positive bias, which the null shares.
    # 4 circuits x 6 independent models of smooth random activity:
    C, T, N, U = 8, 30, 40, 30
    params = SimilarityParams(ks=(5,), n_permutations=9)
    tables = []
    for seed in range(4):
        rng = np.random.default_rng(40 + seed)
        soc = _walks(rng, (C, T, 8)) @ rng.standard_normal((8, N))
        models = {
            f"unrelated{i}": _walks(rng, (C, T, 8)) @ rng.standard_normal((8, U))
            + 0.05 * rng.standard_normal((C, T, U))
            for i in range(6)
        }
        table = compare_run(soc, models, np.arange(14), np.arange(14, N), params, rng).table
        tables.append(_rows(table, population="all", metric="cca"))
    table = pd.concat(tables)
    table = table[table.model.str.startswith("unrelated")]
    for component in study.COMPONENTS:
        in_sample = _rows(table, component=component, validation="in_sample")
        cross_validated = _rows(table, component=component, validation="cross_validated")
        assert in_sample.value.mean() > 0.3
        assert np.all(in_sample.value.to_numpy() > cross_validated.value.to_numpy())
        assert abs(cross_validated.above_null.mean()) < 0.1
    assert abs(_rows(table, component="full", validation="cross_validated").value.mean()) < 0.1


def test_predictivity_of_a_linear_mixture_is_one_and_of_unrelated_activity_at_most_zero(planted):
    table, _ = planted
    for component in study.COMPONENTS:
        for population in study.POPULATIONS:
            mixture = _planted(
                table, "mixture", "predictivity", component, "cross_validated", population
            )
            assert mixture.value == pytest.approx(1.0, abs=1e-3)
            unrelated = _planted(
                table, "unrelated", "predictivity", component, "cross_validated", population
            )
            assert unrelated.value < 0.05


# ---------------------------------------------------------------------------------------------
# compare_run: limits and bad input


def test_compare_run_refuses_k_above_max_k_and_accepts_max_k(run_inputs):
    soc, models, _, _ = run_inputs
    observed, held_out = np.arange(6), np.arange(6, 40)
    limit = max_k(N_SOC, 6, 34, N_MODEL, N_COND, N_TIME)
    assert limit == 3  # half of the 6 observed neurons
    with pytest.raises(ValueError, match=r"k=4 .*'observed'.*limit 3"):
        compare_run(
            soc,
            models,
            observed,
            held_out,
            SimilarityParams(ks=(4,), n_permutations=1),
            np.random.default_rng(0),
        )
    result = compare_run(
        soc,
        {"ff": models["ff"]},
        observed,
        held_out,
        SimilarityParams(ks=(3,), n_permutations=1),
        np.random.default_rng(0),
    )
    assert np.all(np.isfinite(result.table.value))


def test_compare_run_refuses_k_above_the_numerical_rank(run_inputs):
    soc, _, observed, held_out = run_inputs
    rng = np.random.default_rng(0)
    low_rank = rng.standard_normal((N_COND, N_TIME, 2)) @ rng.standard_normal((2, N_MODEL))
    with pytest.raises(ValueError, match=r"k=3 exceeds the numerical rank of low.*limit 2"):
        compare_run(
            soc,
            {"low": low_rank},
            observed,
            held_out,
            SimilarityParams(ks=(3,), n_permutations=1),
            rng,
        )


def test_compare_run_drops_silent_neurons_and_reports_them(run_inputs):
    soc, models, observed, held_out = run_inputs
    soc = soc.copy()
    silent = held_out[:2]
    soc[:, :, silent] = 0.0
    result = compare_run(soc, models, observed, held_out, PARAMS, np.random.default_rng(0))
    assert np.all(np.isfinite(result.table.value))
    for label in ("soc/all", "soc/unobserved", f"soc/{study.HELD_OUT}"):
        assert result.dropped[label] == 2
        assert result.dropped[f"{label}/condition"] == 2
    assert "soc/observed" not in result.dropped
    # a silent neuron has no R^2: the median is over the others
    assert np.all(np.isfinite(_rows(result.table, metric="predictivity").value))


def test_compare_run_drops_condition_independent_units_from_the_condition_component(run_inputs):
    soc, models, observed, held_out = run_inputs
    ff = models["ff"].copy()
    ff[:, :, :3] = ff[:1, :, :3]  # three units identical in every condition
    result = compare_run(soc, {"ff": ff}, observed, held_out, PARAMS, np.random.default_rng(0))
    assert result.dropped == {"ff/condition": 3}


@pytest.mark.parametrize(
    ("observed", "held_out", "message"),
    [
        (np.array([1, 1, 2]), np.array([5]), "repeat"),
        (np.array([0, N_SOC]), np.array([5]), "indices"),
        (np.arange(N_SOC), np.array([5]), "between 1"),
        (np.array([0.0, 1.0]), np.array([5]), "integer"),
        (np.arange(10), np.array([], dtype=int), "at least one"),
        (np.arange(10), np.array([9, 10]), "disjoint"),
    ],
)
def test_compare_run_refuses_bad_neuron_indices(run_inputs, observed, held_out, message):
    soc, models, _, _ = run_inputs
    with pytest.raises(ValueError, match=message):
        compare_run(soc, models, observed, held_out, PARAMS, np.random.default_rng(0))


def test_compare_run_refuses_bad_models_and_too_few_conditions(run_inputs):
    soc, models, observed, held_out = run_inputs
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="conditions, times"):
        compare_run(soc, {"ff": models["ff"][:, :-1]}, observed, held_out, PARAMS, rng)
    with pytest.raises(ValueError, match="reserved"):
        compare_run(soc, {study.CEILING: models["ff"]}, observed, held_out, PARAMS, rng)
    with pytest.raises(ValueError, match="at least one model"):
        compare_run(soc, {}, observed, held_out, PARAMS, rng)
    with pytest.raises(ValueError, match="n_conditions >= 4"):
        compare_run(soc[:3], {"ff": models["ff"][:3]}, observed, held_out, PARAMS, rng)


def test_compare_run_at_the_default_size_gives_all_rows():
    rng = np.random.default_rng(14)
    soc = _smooth_population(rng, 8, 80, 200)
    names = study.MODEL_NAMES
    models = {m: _smooth_population(rng, 8, 80, 300) for m in names}
    observed = np.sort(rng.choice(200, 60, replace=False))
    held_out = np.setdiff1d(np.arange(200), observed)
    params = SimilarityParams(n_permutations=1)
    result = compare_run(soc, models, observed, held_out, params, rng)
    assert len(result.table) == len(_expected_keys(names, params.ks))
    assert np.all(np.isfinite(result.table.value))


def test_a_recording_gives_the_baseline_from_its_psths_and_a_trial_split_row(run_inputs, run):
    """With the exact rates as the recording, every row is the run's without one, and the
    trial-split row of two identical halves is a perfect match; the baseline follows the
    recorded PSTHs (a model made of them scores as the baseline does)."""
    soc, models, observed, held_out = run_inputs
    exact = soc[:, :, observed]
    same = compare_run(
        soc,
        models,
        observed,
        held_out,
        PARAMS,
        np.random.default_rng(12),
        recording=(exact, np.stack([exact, exact])),
    ).table
    split = same.model == study.TRIAL_SPLIT
    merged = run.table.merge(same[~split], on=list(study.ROW_KEYS), suffixes=("", "_rec"))
    assert len(merged) == len(run.table) == (~split).sum()
    np.testing.assert_allclose(merged.value_rec, merged.value, rtol=1e-9, atol=1e-12)
    trial_split = same[split]
    assert set(trial_split.population) == {"observed"}
    cca = _rows(trial_split, metric="cca", validation="in_sample")
    np.testing.assert_allclose(cca.value, 1.0, atol=1e-8)

    noisy = exact + np.random.default_rng(3).normal(0, 2.0, exact.shape)
    halves = np.stack([noisy, exact + np.random.default_rng(4).normal(0, 2.0, exact.shape)])
    recorded = compare_run(
        soc,
        {**models, "psth": noisy},
        observed,
        held_out,
        PARAMS,
        np.random.default_rng(12),
        recording=(noisy, halves),
    ).table
    for population in ("unobserved", study.HELD_OUT):
        base = _rows(recorded, model=study.BASELINE, population=population)
        as_model = _rows(recorded, model="psth", population=population)
        np.testing.assert_allclose(base.value.to_numpy(), as_model.value.to_numpy(), rtol=1e-9)
    ceiling = _rows(recorded, model=study.TRIAL_SPLIT, metric="cca", validation="in_sample")
    assert (ceiling.value < 1.0 - 1e-6).all()
    with pytest.raises(ValueError, match="recording must hold PSTHs"):
        compare_run(
            soc,
            models,
            observed,
            held_out,
            PARAMS,
            np.random.default_rng(0),
            recording=(exact[:, :, :3], np.stack([exact, exact])),
        )
