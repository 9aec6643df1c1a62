"""Tests of hintforce.dsa against independent computations and known properties."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hintforce import dsa
from hintforce.dsa import DSAParams


def haar(n: int, rng: np.random.Generator) -> np.ndarray:
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    return Q * np.sign(np.diag(R))


def rotation(omega: float, decay: float = 1.0) -> np.ndarray:
    c, s = math.cos(omega), math.sin(omega)
    return decay * np.array([[c, -s], [s, c]])


def block_diag(*blocks: np.ndarray) -> np.ndarray:
    n = sum(b.shape[0] for b in blocks)
    out = np.zeros((n, n))
    i = 0
    for b in blocks:
        out[i : i + b.shape[0], i : i + b.shape[0]] = b
        i += b.shape[0]
    return out


def simulate(A: np.ndarray, x0: np.ndarray, n_times: int) -> np.ndarray:
    """x_{t+1} = A x_t from each row of x0: (C, T, n)."""
    out = np.empty((x0.shape[0], n_times, A.shape[0]))
    x = x0.copy()
    for t in range(n_times):
        out[:, t] = x
        x = x @ A.T
    return out


def sorted_eigvals(A: np.ndarray) -> np.ndarray:
    lam = np.linalg.eigvals(A)
    return lam[np.lexsort((lam.imag, lam.real))]


def population(
    frequencies, rng: np.random.Generator, n_units=20, n_conditions=6, n_times=60, noise=0.0
):
    """Rotations at the given frequencies (rad/bin, decay 0.99), initial states on a circle in
    each plane, read out by a random (latent, n_units) matrix, plus observation noise."""
    A = block_diag(*[rotation(w, 0.99) for w in frequencies])
    angles = 2 * np.pi * np.arange(n_conditions) / n_conditions
    x0 = np.concatenate(
        [np.stack([np.cos(angles + k), np.sin(angles + k)], 1) for k in range(len(frequencies))],
        axis=1,
    )
    latent = simulate(A, x0, n_times)
    X = latent @ rng.standard_normal((A.shape[0], n_units))
    return X + noise * rng.standard_normal(X.shape)


SMALL = DSAParams(n_components=6, delays=(1, 2, 3), ranks=(2, 4, 6), n_starts=2)


# ----------------------------------------------------------------------------------------------
# PCA, delay embedding, DMD


def test_delay_embed_by_hand():
    Z = np.arange(2 * 5 * 2, dtype=float).reshape(2, 5, 2)
    H = dsa.delay_embed(Z, 3)
    assert H.shape == (2, 3, 6)
    for c in range(2):
        for t in range(3):
            np.testing.assert_array_equal(H[c, t], np.r_[Z[c, t], Z[c, t + 1], Z[c, t + 2]])
    # condition 0, row 1 written out: z_1, z_2, z_3 of condition 0
    np.testing.assert_array_equal(H[0, 1], [2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(dsa.delay_embed(Z, 1), Z)
    assert dsa.delay_embed(Z, 5).shape == (2, 1, 10)
    with pytest.raises(ValueError, match="n_delays"):
        dsa.delay_embed(Z, 6)


def test_pca_trajectories_match_covariance_eigenvectors_and_cap_rank():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 30, 8)) @ np.diag([5, 4, 3, 2, 1, 0.5, 0.2, 0.1]) + 7.0
    Z = dsa.pca_trajectories(X, 3)
    flat = X.reshape(-1, 8) - X.reshape(-1, 8).mean(0)
    w, V = np.linalg.eigh(flat.T @ flat)
    expected = (flat @ V[:, ::-1][:, :3]).reshape(4, 30, 3)
    signs = np.sign(np.sum(Z * expected, axis=(0, 1)))
    np.testing.assert_allclose(Z, expected * signs, atol=1e-9)
    variances = Z.reshape(-1, 3).var(0)
    assert np.all(np.diff(variances) < 0)
    # a rank-2 population in 10 units yields 2 components
    low = rng.standard_normal((3, 20, 2)) @ rng.standard_normal((2, 10))
    assert dsa.pca_trajectories(low, 5).shape == (3, 20, 2)


def test_dmd_recovers_linear_operator():
    rng = np.random.default_rng(1)
    n = 4
    A = block_diag(rotation(0.3, 0.95), np.array([[0.8, 0.3], [0.0, 0.6]]))
    Q = haar(n, rng)
    A = Q @ A @ Q.T
    X = simulate(A, rng.standard_normal((3, n)), 40)
    op, basis = dsa.dmd(dsa.delay_embed(X, 1), n)
    np.testing.assert_allclose(basis.T @ basis, np.eye(n), atol=1e-12)
    np.testing.assert_allclose(basis @ op @ basis.T, A, atol=1e-10)  # the exact operator
    np.testing.assert_allclose(sorted_eigvals(op), sorted_eigvals(A), atol=1e-10)
    # delays span no new directions: the rank-4 operator of the 8-d embedding has A's spectrum
    op2, _ = dsa.dmd(dsa.delay_embed(X, 2), n)
    np.testing.assert_allclose(sorted_eigvals(op2), sorted_eigvals(A), atol=1e-8)


def test_fit_dynamics_recovers_spectrum_and_zero_error():
    rng = np.random.default_rng(2)
    A = block_diag(rotation(0.2, 0.98), rotation(0.5, 0.9))
    x0 = rng.standard_normal((3, 4))
    latent = simulate(A, np.concatenate([x0, -x0]), 50)  # +-x0: zero mean, so PCA is linear
    X = latent @ rng.standard_normal((4, 15))
    fit = dsa.fit_dynamics(X, SMALL)
    assert fit.n_components == 4  # the activity's numerical rank
    assert (fit.n_delays, fit.rank) == (1, 4)
    assert fit.errors[0, 1] < 1e-16
    np.testing.assert_allclose(sorted_eigvals(fit.operator(1, 4)), sorted_eigvals(A), atol=1e-9)
    assert np.isnan(fit.errors[0, 2])  # rank 6 > k d = 4
    assert (1, 6) not in fit.operators
    with pytest.raises(ValueError, match="valid cell"):
        fit.operator(1, 6)


# ----------------------------------------------------------------------------------------------
# choice of the embedding


def test_choice_rule_on_planted_sinusoids():
    n_conditions, t = 8, np.arange(80)
    phases = 2 * np.pi * np.arange(n_conditions) / n_conditions
    wave = np.cos(2 * np.pi * t[None, :] / 20 + phases[:, None])
    params = DSAParams(n_components=4, delays=(1, 2, 3, 4), ranks=(1, 2, 3, 4))
    # one unit: z_{t+1} = 2 cos(w) z_t - z_{t-1} needs two delays and rank 2
    scalar = dsa.fit_dynamics(5.0 * wave[:, :, None], params)
    assert (scalar.n_components, scalar.n_delays, scalar.rank) == (1, 2, 2)
    assert scalar.errors[1, 1] < 1e-12 and scalar.errors[0, 0] > 0.5
    np.testing.assert_allclose(
        np.sort_complex(np.linalg.eigvals(scalar.operator(2, 2))),
        np.sort_complex(np.exp([-2j * np.pi / 20, 2j * np.pi / 20])),
        atol=1e-10,
    )
    # a rotation in 30 units: rank 2 without delays
    plane = np.stack([wave, np.cos(2 * np.pi * t[None, :] / 20 + phases[:, None] - np.pi / 2)], -1)
    rotating = dsa.fit_dynamics(plane @ np.random.default_rng(3).standard_normal((2, 30)), params)
    assert (rotating.n_components, rotating.n_delays, rotating.rank) == (2, 1, 2)


def test_choose_embedding_smallest_rank_then_fewest_delays_within_tolerance():
    errors = np.array(
        [
            [0.90, 0.30, 0.10],
            [0.50, 0.14, 0.10],
            [0.40, 0.12, np.nan],
        ]
    )
    delays, ranks = (1, 2, 4), (2, 4, 8)
    assert dsa.choose_embedding(errors, delays, ranks, 0.0) == (1, 8)
    assert dsa.choose_embedding(errors, delays, ranks, 0.03) == (4, 4)
    assert dsa.choose_embedding(errors, delays, ranks, 0.05) == (2, 4)
    assert dsa.choose_embedding(errors, delays, ranks, 0.5) == (2, 2)
    with pytest.raises(ValueError, match="NaN"):
        dsa.choose_embedding(np.full((2, 2), np.nan), (1, 2), (1, 2), 0.1)


def test_embedding_errors_are_relative_to_persistence():
    # a constant-velocity drift is predicted exactly with two delays; persistence errs by the
    # step, so a forecast that repeats the last bin has error 1
    t = np.arange(30, dtype=float)
    Z = np.stack([np.stack([t, -t], -1) * (c + 1) for c in range(4)])
    errors = dsa.embedding_errors(Z, (1, 2), (1, 2, 4))
    assert errors.shape == (2, 3)
    assert errors[1, 1] < 1e-10  # h = [z_{t-1}, z_t], rank 2 suffices for z_{t+1} = 2 z_t - z_{t-1}
    assert np.isnan(errors[0, 2])  # rank 4 > k d = 2
    assert np.isnan(errors[1, 2])  # rank 4 > the embedding's numerical rank 2


@pytest.mark.parametrize("n_conditions", [2, 3])
def test_few_conditions_are_cross_validated(n_conditions):
    rng = np.random.default_rng(4)
    X = population([0.3], rng, n_conditions=n_conditions, noise=0.01)
    fit = dsa.fit_dynamics(X, SMALL)
    assert np.isfinite(fit.errors[0, 0])
    assert fit.rank == 2


# ----------------------------------------------------------------------------------------------
# distance between operators


def test_cayley_is_a_rotation_and_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(5)
    r = 5
    s = 0.3 * rng.standard_normal(r * (r - 1) // 2)
    S = np.zeros((r, r))
    S[np.triu_indices(r, 1)] = s
    S -= S.T
    C = dsa.cayley(S)
    np.testing.assert_allclose(C @ C.T, np.eye(r), atol=1e-12)
    assert np.linalg.det(C) == pytest.approx(1.0)
    A, B = rng.standard_normal((2, r, r))
    A, B = A / np.linalg.norm(A), B / np.linalg.norm(B)
    C0 = haar(r, rng)
    loss, grad = dsa.alignment_loss(s, A, B, C0)
    Cs = C0 @ C
    assert loss == pytest.approx(1.0 - np.sum(A * (Cs @ B @ Cs.T)), abs=1e-13)
    h = 1e-6
    numeric = np.array(
        [
            (
                dsa.alignment_loss(s + h * e, A, B, C0)[0]
                - dsa.alignment_loss(s - h * e, A, B, C0)[0]
            )
            / (2 * h)
            for e in np.eye(s.size)
        ]
    )
    np.testing.assert_allclose(grad, numeric, atol=1e-8)


@pytest.mark.parametrize("r", [2, 4, 6])
def test_distance_of_orthogonally_similar_operators_is_zero(r):
    rng = np.random.default_rng(6 + r)
    A = 0.9 * np.eye(r) + rng.standard_normal((r, r)) / math.sqrt(r)
    Q = haar(r, rng)
    P = Q.copy()
    P[:, 0] *= -1  # the other component of O(r)
    pairs = [(A, Q @ A @ Q.T), (A, 2.5 * (P @ A @ P.T)), (Q @ A @ Q.T, A)]
    distances = dsa.operator_distances(pairs, SMALL, np.random.default_rng(0))
    np.testing.assert_allclose(distances, 0.0, atol=1e-7)


def test_distance_properties():
    rng = np.random.default_rng(7)
    r = 4
    A, B = 0.9 * np.eye(r) + rng.standard_normal((2, r, r)) / math.sqrt(r)
    Q, P = haar(r, rng), haar(r, rng)

    def d(X, Y):
        return dsa.operator_distance(X, Y, SMALL, np.random.default_rng(1))

    ab = d(A, B)
    assert 0.0 < ab <= math.pi
    assert d(B, A) == pytest.approx(ab, abs=1e-6)  # symmetric
    assert d(Q @ A @ Q.T, B) == pytest.approx(ab, abs=1e-6)  # invariant in either argument
    assert d(A, P @ B @ P.T) == pytest.approx(ab, abs=1e-6)
    assert d(A, 7.0 * B) == pytest.approx(ab, abs=1e-6)  # scale-free
    # the angle itself: no orthogonal C does better than the reported one
    An, Bn = A / np.linalg.norm(A), B / np.linalg.norm(B)
    for _ in range(200):
        C = haar(r, rng)
        assert math.acos(min(1.0, np.sum(An * (C @ Bn @ C.T)))) >= ab - 1e-9
    # a multiple of the identity: every C gives the same angle
    eye_angle = math.acos(np.trace(A) / (math.sqrt(r) * np.linalg.norm(A)))
    assert d(A, 3.0 * np.eye(r)) == pytest.approx(eye_angle, abs=1e-12)


def test_deterministic_starts_cover_both_components():
    rng = np.random.default_rng(13)
    for r in (2, 3, 6):
        A, B = rng.standard_normal((2, r, r))
        starts = dsa._deterministic_starts(A, B)
        assert len(starts) == 2
        for C in starts:
            np.testing.assert_allclose(C @ C.T, np.eye(r), atol=1e-12)
        assert np.linalg.det(starts[0]) * np.linalg.det(starts[1]) == pytest.approx(-1.0)


def test_distance_needs_a_generator_for_random_starts():
    A = np.diag([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="Generator"):
        dsa.operator_distance(A, A, SMALL)
    # deterministic starts only: no generator needed
    assert dsa.operator_distance(A, A, DSAParams(n_starts=0)) == pytest.approx(0.0, abs=1e-7)


# ----------------------------------------------------------------------------------------------
# end to end


def test_rotated_copy_has_zero_distance():
    rng = np.random.default_rng(8)
    X = population([0.2, 0.45], rng, noise=0.05)
    Q = haar(X.shape[2], rng)
    result = dsa.dsa(X, 3.0 * X @ Q.T, SMALL, np.random.default_rng(0))
    assert result.distance == pytest.approx(0.0, abs=1e-6)
    # different numbers of units: a random orthonormal embedding into 35 units
    E = np.linalg.qr(rng.standard_normal((35, X.shape[2])))[0]
    assert dsa.dsa(X, X @ E.T, SMALL, np.random.default_rng(0)).distance < 1e-6


def test_different_dynamics_are_farther_than_different_noise():
    rng = np.random.default_rng(9)
    X = population([0.2, 0.45], np.random.default_rng(10), noise=0.05)
    same = population([0.2, 0.45], np.random.default_rng(10), noise=0.0)
    same = same + 0.05 * rng.standard_normal(same.shape)  # the same system, other noise
    other = population([0.1, 0.9], np.random.default_rng(10), noise=0.05)
    d_same = dsa.dsa(X, same, SMALL, np.random.default_rng(0))
    d_other = dsa.dsa(X, other, SMALL, np.random.default_rng(0))
    assert d_same.distance < 0.5 * d_other.distance
    d_back = dsa.dsa(other, X, SMALL, np.random.default_rng(0))
    assert d_back.distance == pytest.approx(d_other.distance, abs=1e-3)  # symmetric
    assert (d_back.n_delays, d_back.rank) == (d_other.n_delays, d_other.rank)


def test_common_embedding():
    op = {(1, 2): np.eye(2), (2, 2): np.eye(2), (2, 4): np.eye(4), (4, 4): np.eye(4)}

    def fit(d, r, cells, k=4):
        return dsa.DMDFit(d, r, k, (1, 2, 4), (2, 4), np.zeros((3, 2)), {c: op[c] for c in cells})

    full = [(1, 2), (2, 2), (2, 4), (4, 4)]
    assert dsa.common_embedding(fit(1, 2, full), fit(2, 2, full)) == (2, 2)
    assert dsa.common_embedding(fit(2, 2, full), fit(1, 4, full)) == (2, 4)
    # rank 4 invalid at d = 2 for a one-component population: delays raised to 4
    assert dsa.common_embedding(fit(1, 4, full), fit(1, 2, [(1, 2), (2, 2), (4, 4)], 1)) == (
        4,
        4,
    )
    with pytest.raises(ValueError, match="no common embedding"):
        dsa.common_embedding(fit(1, 4, full), fit(1, 2, [(1, 2), (2, 2)], 1))
    other_grid = dsa.DMDFit(1, 2, 4, (1, 2), (2, 4), np.zeros((2, 2)), {(1, 2): np.eye(2)})
    with pytest.raises(ValueError, match="grid"):
        dsa.common_embedding(fit(1, 2, full), other_grid)


def test_dsa_table_rows_columns_and_determinism():
    # enough random starts that every pair reaches its global minimum, whichever draws it gets
    params = DSAParams(n_components=6, delays=(1, 2, 3), ranks=(2, 4, 6), n_starts=10)
    rng = np.random.default_rng(11)
    a = population([0.2, 0.45], rng, noise=0.05)
    b = population([0.1, 0.9], rng, noise=0.05)
    ref = population([0.2, 0.45], rng, noise=0.05)
    sources = {"a": a, "b": b}
    targets = {"ref": ref, "ref_fit": dsa.fit_dynamics(ref, params)}
    table = dsa.dsa_table(sources, targets, params, np.random.default_rng(3))
    assert list(table.columns) == list(dsa.DSA_COLUMNS)
    assert list(zip(table.source, table.target, strict=True)) == [
        ("a", "ref"),
        ("a", "ref_fit"),
        ("b", "ref"),
        ("b", "ref_fit"),
    ]
    np.testing.assert_allclose(table.distance[::2], table.distance[1::2], atol=1e-6)
    for row in table.itertuples():
        single = dsa.dsa(sources[row.source], ref, params, np.random.default_rng(3))
        assert (single.n_delays, single.rank) == (row.n_delays, row.rank)
        assert row.distance == pytest.approx(single.distance, abs=1e-6)
    again = dsa.dsa_table(sources, targets, params, np.random.default_rng(3))
    assert again.equals(table)


def test_dsa_rejects_mismatched_activity():
    rng = np.random.default_rng(12)
    X = population([0.3], rng)
    with pytest.raises(ValueError, match="share"):
        dsa.dsa(X, X[:, :-1], SMALL, rng)
    with pytest.raises(ValueError, match="NaN"):
        dsa.dsa(X, np.where(X > 1.0, np.nan, X), SMALL, rng)
    with pytest.raises(ValueError, match="strictly increasing"):
        DSAParams(delays=(2, 1))
