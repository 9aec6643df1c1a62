import numpy as np
import pandas as pd
import pytest
import scipy.linalg
from sklearn.decomposition import PCA
from threadpoolctl import threadpool_limits

from hintforce import study
from hintforce.similarity import (
    SimilarityParams,
    compare_run,
    condition_component,
    stack_conditions,
)

C, T, N, U = 8, 12, 24, 18
KS = (2, 3)
PARAMS = SimilarityParams(ks=KS, n_permutations=5, n_predictor_pcs=8, n_penalties=4)
HELD = np.array([1, 4, 6])
TRAIN = np.setdiff1d(np.arange(C), HELD)
SEED = 7
HOD = study.HELD_OUT_DIRECTIONS
TRAINING_VALIDATIONS = [v for v in study.VALIDATIONS if v != HOD]
KEYS = [c for c in study.ROW_KEYS if c != "validation"]


def _smooth(rng, n_units, n_latents=6):
    latents = rng.standard_normal((C, T, n_latents)).cumsum(axis=1)
    return latents @ rng.standard_normal((n_latents, n_units)) + 0.1 * rng.standard_normal(
        (C, T, n_units)
    )


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(3)
    soc = _smooth(rng, N)
    q, r = np.linalg.qr(rng.standard_normal((N, N)))
    models = {
        "unrelated": _smooth(rng, U),
        "mixture": soc @ rng.standard_normal((N, U)) + 0.3 * rng.standard_normal((C, T, U)),
        "copy": 3.0 * soc @ (q * np.sign(np.diag(r))),  # a rotated, scaled copy of the SOC
    }
    observed = np.sort(rng.choice(N, 10, replace=False))
    held_out = np.setdiff1d(np.arange(N), observed)[:8]
    return soc, models, observed, held_out


def _run(soc, models, observed, held_out, held=HELD, seed=SEED, params=PARAMS):
    rng = np.random.default_rng(seed)
    return compare_run(soc, models, observed, held_out, params, rng, held_out_directions=held)


@pytest.fixture(scope="module")
def held_run(inputs):
    return _run(*inputs)


def _training(table):
    return table[table.validation.isin(TRAINING_VALIDATIONS)].reset_index(drop=True)


def _held(table, **keys):
    rows = table[table.validation == HOD]
    for column, value in keys.items():
        rows = rows[rows[column] == value]
    return rows


def _one(table, **keys):
    return _held(table, **keys).iloc[0]


def _pca(rates, train, test, k):
    pca = PCA(n_components=k, svd_solver="full").fit(stack_conditions(rates[train]))
    return pca.transform(stack_conditions(rates[train])), pca.transform(
        stack_conditions(rates[test])
    )


def _reference_pca_metrics(model, soc, k, pairing=None):
    """Held-out CCA, CKA and Procrustes: fits on TRAIN, scores on HELD (SOC condition
    pairing[c] against model condition c)."""
    soc = soc if pairing is None else soc[pairing]
    x_train, x_test = _pca(model, TRAIN, HELD, k)
    y_train, y_test = _pca(soc, TRAIN, HELD, k)
    qx, rx = np.linalg.qr(x_train)
    qy, ry = np.linalg.qr(y_train)
    a, _, bt = np.linalg.svd(qx.T @ qy)
    u, v = x_test @ np.linalg.solve(rx, a), y_test @ np.linalg.solve(ry, bt.T)
    cca = np.mean([np.corrcoef(u[:, j], v[:, j])[0, 1] for j in range(k)])
    xc, yc = x_test - x_test.mean(axis=0), y_test - y_test.mean(axis=0)
    cka = np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))
    rotation, _ = scipy.linalg.orthogonal_procrustes(x_train, y_train)
    cosine = np.sum((xc @ rotation) * yc) / (np.linalg.norm(xc) * np.linalg.norm(yc))
    return cca, cka, np.arccos(np.clip(cosine, -1, 1))


def _loco(S, Y, n_groups, penalty):
    size = S.shape[0] // n_groups
    sse = np.zeros(Y.shape[1])
    for g in range(n_groups):
        left = np.arange(g * size, (g + 1) * size)
        rest = np.setdiff1d(np.arange(S.shape[0]), left)
        Sr, Yr = S[rest] - S[rest].mean(axis=0), Y[rest] - Y[rest].mean(axis=0)
        beta = np.linalg.solve(Sr.T @ Sr + penalty * np.eye(S.shape[1]), Sr.T @ Yr)
        pred = Y[rest].mean(axis=0) + (S[left] - S[rest].mean(axis=0)) @ beta
        sse += ((Y[left] - pred) ** 2).sum(axis=0)
    return sse


def _reference_r2(model, soc, n_pcs, grid):
    """Held-out ridge R^2 of every SOC neuron, penalty chosen by brute-force LOCO on TRAIN."""
    X = stack_conditions(model[TRAIN])
    mean = X.mean(axis=0)
    _, s, Vt = np.linalg.svd(X - mean, full_matrices=False)
    S, S_test = (X - mean) @ Vt[:n_pcs].T, (stack_conditions(model[HELD]) - mean) @ Vt[:n_pcs].T
    Y, Y_test = stack_conditions(soc[TRAIN]), stack_conditions(soc[HELD])
    weights = 1.0 / ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
    penalties = grid * s[0] ** 2
    penalty = penalties[np.argmin([_loco(S, Y, TRAIN.size, p) @ weights for p in penalties])]
    beta = np.linalg.solve(S.T @ S + penalty * np.eye(S.shape[1]), S.T @ (Y - Y.mean(axis=0)))
    sse = ((Y_test - Y.mean(axis=0) - S_test @ beta) ** 2).sum(axis=0)
    return 1.0 - sse / ((Y_test - Y_test.mean(axis=0)) ** 2).sum(axis=0)


def _components(rates):
    return {"full": rates, "condition": condition_component(rates, TRAIN)}


def test_every_row_gets_the_three_validations_in_order(held_run):
    # each (model, population, metric, k, component) has in_sample, cross_validated, held-out
    groups = held_run.table.groupby(KEYS, sort=False).validation.apply(list)
    assert all(v == list(study.VALIDATIONS) for v in groups)
    assert np.all(np.isfinite(_held(held_run.table)[["value", "null_mean", "null_p"]]))


def test_training_rows_equal_a_run_on_the_training_conditions_only(inputs, held_run):
    # in_sample / cross_validated values and nulls are those of the training data alone
    soc, models, observed, held_out = inputs
    rng = np.random.default_rng(SEED)
    restricted = compare_run(
        soc[TRAIN], {m: r[TRAIN] for m, r in models.items()}, observed, held_out, PARAMS, rng
    )
    assert set(restricted.table.validation) == set(TRAINING_VALIDATIONS)
    pd.testing.assert_frame_equal(_training(held_run.table), restricted.table, check_exact=True)
    pd.testing.assert_frame_equal(held_run.spectra, restricted.spectra, check_exact=True)


@pytest.mark.parametrize("model", ["unrelated", "mixture"])
def test_held_out_pca_metrics_match_an_independent_computation(inputs, held_run, model):
    # PCA / CCA / Procrustes fitted on the training conditions, scored on the held-out ones
    soc, models, _, held_out = inputs
    sources = _components(models[model])
    for population, neurons in (("all", np.arange(N)), ("held_out", held_out)):
        targets = _components(soc[:, :, neurons])
        for component in study.COMPONENTS:
            for k in KS:
                expected = _reference_pca_metrics(sources[component], targets[component], k)
                for metric, value in zip(("cca", "cka", "procrustes"), expected, strict=True):
                    row = _one(
                        held_run.table,
                        model=model,
                        population=population,
                        metric=metric,
                        k=k,
                        component=component,
                    )
                    assert row.value == pytest.approx(value, abs=1e-8), (population, metric, k)


def test_held_out_predictivity_matches_brute_force_ridge(inputs, held_run):
    # ridge on the training conditions' top PCs, penalty by LOCO, R^2 about the held-out mean
    soc, models, observed, _ = inputs
    for component in study.COMPONENTS:
        model = _components(models["mixture"])[component]
        r2 = _reference_r2(model, _components(soc)[component], 8, PARAMS.penalty_grid)
        for population, neurons in (("all", np.arange(N)), ("observed", observed)):
            row = _one(
                held_run.table,
                model="mixture",
                population=population,
                metric="predictivity",
                component=component,
            )
            assert row.value == pytest.approx(np.median(r2[neurons]), abs=1e-8), population


def test_model_rates_on_held_out_conditions_do_not_reach_training_rows(inputs, held_run):
    # replacing one model's held-out conditions changes only that model's held-out rows
    soc, models, observed, held_out = inputs
    changed = dict(models)
    changed["mixture"] = models["mixture"].copy()
    changed["mixture"][HELD] = np.random.default_rng(0).standard_normal((HELD.size, T, U))
    table = _run(soc, changed, observed, held_out).table
    pd.testing.assert_frame_equal(_training(table), _training(held_run.table), check_exact=True)
    others = held_run.table.model != "mixture"
    pd.testing.assert_frame_equal(table[others], held_run.table[others], check_exact=True)
    before = _held(held_run.table, model="mixture").value.to_numpy()
    after = _held(table, model="mixture").value.to_numpy()
    assert np.max(np.abs(after - before)) > 0.05


def test_soc_rates_on_held_out_conditions_change_only_held_out_rows(inputs, held_run):
    # the SOC's held-out conditions are scored, never fitted or used in training validations
    soc, models, observed, held_out = inputs
    changed = soc.copy()
    changed[HELD] = np.random.default_rng(1).standard_normal((HELD.size, T, N))
    table = _run(changed, models, observed, held_out).table
    pd.testing.assert_frame_equal(_training(table), _training(held_run.table), check_exact=True)
    before, after = _held(held_run.table).value.to_numpy(), _held(table).value.to_numpy()
    assert np.mean(np.abs(after - before) > 1e-6) > 0.9


def test_a_rotated_copy_of_the_soc_scores_perfectly_held_out_and_beats_its_null(held_run):
    # CCA 1, CKA 1, Procrustes 0 on held-out directions; the held-out null is clearly lower
    for model in ("copy", study.CEILING):
        for component in study.COMPONENTS:
            for k in KS:
                keys = dict(model=model, population="all", k=k, component=component)
                cca = _one(held_run.table, metric="cca", **keys)
                cka = _one(held_run.table, metric="cka", **keys)
                procrustes = _one(held_run.table, metric="procrustes", **keys)
                assert cca.value == pytest.approx(1.0, abs=1e-8)
                assert cka.value == pytest.approx(1.0, abs=1e-8)
                assert procrustes.value == pytest.approx(0.0, abs=1e-5)
                assert cca.null_mean < cca.value - 0.05
                assert procrustes.null_mean > procrustes.value + 0.05
    unrelated = _one(held_run.table, model="unrelated", population="all", metric="cca", k=3)
    assert unrelated.value < 0.9


def test_held_out_null_permutes_only_the_held_out_conditions_after_the_other_draws(
    inputs, held_run
):
    # the null is the held-out score with the SOC's held-out conditions permuted, drawn last
    soc, models, observed, held_out = inputs
    rng = np.random.default_rng(SEED)
    unobserved = np.setdiff1d(np.arange(N), observed)
    for neurons in (np.arange(N), observed, unobserved, held_out):
        rng.permutation(neurons)  # the split halves
    for _ in range(PARAMS.n_permutations):
        rng.permutation(TRAIN.size)  # the training validations' null
    pairings = []
    for _ in range(PARAMS.n_permutations):
        pairing = np.arange(C)
        pairing[HELD] = HELD[rng.permutation(HELD.size)]
        pairings.append(pairing)
    model = _components(models["mixture"])["condition"]
    target = _components(soc[:, :, held_out])["condition"]
    for k in KS:
        null = np.array([_reference_pca_metrics(model, target, k, p) for p in pairings])
        rows = _held(held_run.table, model="mixture", population="held_out", k=k)
        rows = rows[rows.component == "condition"].set_index("metric")
        for i, metric in enumerate(("cca", "cka", "procrustes")):
            assert rows.loc[metric, "null_mean"] == pytest.approx(null[:, i].mean(), abs=1e-8)
            value = rows.loc[metric, "value"]
            better = null[:, i] >= value - 1e-12 if i < 2 else null[:, i] <= value + 1e-12
            expected_p = (1 + better.sum()) / (1 + PARAMS.n_permutations)
            assert rows.loc[metric, "null_p"] == pytest.approx(expected_p)


def test_a_single_held_out_condition_has_a_degenerate_null(inputs):
    # one held-out condition cannot be permuted: every null draw scores the value itself
    rows = _held(_run(*inputs, held=np.array([3])).table)
    assert len(rows) > 0
    np.testing.assert_allclose(rows.null_mean, rows.value, rtol=0, atol=1e-7)


def test_identity_null_draws_count_as_ties(inputs):
    # null_p counts nulls "at least as good as" the value: identity draws are exact ties
    rows = _held(_run(*inputs, held=np.array([3])).table)
    np.testing.assert_array_equal(rows.null_p, 1.0)


@pytest.mark.parametrize(
    ("held", "message"),
    [
        (np.array([1, 1]), "must not repeat"),
        (np.array([2, C]), r"must lie in \[0, 8\)"),
        (np.array([-1, 2]), r"must lie in \[0, 8\)"),
        (np.array([], dtype=int), "at least one condition"),
        (np.array([0.0, 1.0]), "1-d integer array"),
        (np.array([[0, 1]]), "1-d integer array"),
        (np.array([0, 1, 2, 3, 4]), r"held_out_directions leaves 3 of 8 conditions"),
        (np.arange(C), "leaves 0 of 8 conditions"),
    ],
)
def test_bad_held_out_directions_are_refused(inputs, held, message):
    # repeats, out-of-range, empty, non-integer, or < 4 training conditions: ValueError
    with pytest.raises(ValueError, match=message):
        _run(*inputs, held=held)
