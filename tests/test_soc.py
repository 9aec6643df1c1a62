"""Tests for the stability-optimised circuit (hintforce.soc)."""

import math
import re

import numpy as np
import pytest
import scipy.linalg

from hintforce.soc import (
    SOC,
    SOCParams,
    build_soc,
    initial_connectivity,
    optimise_inhibition,
    spectral_abscissa,
    spectrum_and_gramians,
)

SEED = 20140416
SMALL_N = 60


def _block_mean(W, post, pre):
    return W[np.ix_(post, pre)].mean()


def _numpy_abscissa(W):
    return float(np.linalg.eigvals(W).real.max())


def _reference_optimisation(W, excitatory, params, n_iterations):
    """Plain eigvals + solve_continuous_lyapunov transcription of Stroud's soc_function.m."""
    W = W.copy()
    n = W.shape[0]
    exc, inh = excitatory, ~excitatory
    eye = np.eye(n)
    trace = [_numpy_abscissa(W)]
    for _ in range(n_iterations):
        a = trace[-1]
        A = W - max(1.5 * a, a + 0.2) * eye
        # scipy solves a X + X a^H = q
        Q = scipy.linalg.solve_continuous_lyapunov(A.T, -2 * eye)
        P = scipy.linalg.solve_continuous_lyapunov(A, -2 * eye)
        G = Q @ P / np.trace(Q @ P)
        W[:, inh] -= params.learning_rate * G[:, inh]
        w_inh = W[:, inh]
        w_inh[w_inh > 0] = 0
        W[:, inh] = w_inh
        mean_ee, mean_ei = _block_mean(W, exc, exc), _block_mean(W, inh, exc)
        mean_ie, mean_ii = _block_mean(W, exc, inh), _block_mean(W, inh, inh)
        W[np.ix_(exc, inh)] *= -params.gamma * mean_ee / mean_ie
        W[np.ix_(inh, inh)] *= -params.gamma * mean_ei / mean_ii
        w_inh = W[:, inh].ravel()
        order = np.argsort(w_inh, kind="stable")
        w_inh[order[int(params.inhibitory_density * w_inh.size) :]] = 0
        W[:, inh] = w_inh.reshape(n, -1)
        np.fill_diagonal(W, 0)
        trace.append(_numpy_abscissa(W))
    return W, np.array(trace)


@pytest.fixture(scope="module")
def params():
    return SOCParams()


@pytest.fixture
def initial(params, default_soc_rng):
    return initial_connectivity(params, default_soc_rng)


@pytest.fixture(scope="module")
def optimised(default_soc):
    """The optimisation of ``initial`` (build_soc draws it from the same generator)."""
    return default_soc


@pytest.fixture(scope="module")
def small_params():
    return SOCParams(n_neurons=SMALL_N)


@pytest.fixture(scope="module")
def small_initial(small_params):
    W, excitatory = initial_connectivity(small_params, np.random.default_rng(SEED))
    return W, excitatory, W.copy(), excitatory.copy()


@pytest.fixture(scope="module")
def small_soc(small_params, small_initial):
    W, excitatory, _, _ = small_initial
    return optimise_inhibition(W, excitatory, small_params)


# --- initial connectivity -------------------------------------------------------------------


def test_initial_network_has_exactly_round_p_n_n_minus_1_connections(params, initial):
    W, _ = initial
    n = params.n_neurons
    assert W.shape == (n, n)
    assert np.count_nonzero(W) == round(params.connection_prob * n * (n - 1))


def test_initial_network_has_no_self_loops(initial):
    W, _ = initial
    assert np.all(np.diag(W) == 0)


def test_first_half_of_neurons_is_excitatory(params, initial):
    _, excitatory = initial
    assert excitatory.dtype == bool
    assert np.all(excitatory[: params.n_neurons // 2])
    assert not np.any(excitatory[params.n_neurons // 2 :])


def test_initial_weights_follow_the_hennequin_scaling(params, initial):
    W, excitatory = initial
    n, p, g = params.n_neurons, params.connection_prob, params.gamma
    w0 = math.sqrt(2) * params.radius / math.sqrt(p * (1 - p) * (1 + g**2))
    e_weights = W[:, excitatory][W[:, excitatory] != 0]
    i_weights = W[:, ~excitatory][W[:, ~excitatory] != 0]
    np.testing.assert_allclose(e_weights, w0 / math.sqrt(n), rtol=1e-14)
    np.testing.assert_allclose(i_weights, -g * w0 / math.sqrt(n), rtol=1e-14)


def test_initial_spectral_abscissa_is_within_20_percent_of_radius(params, initial):
    W, _ = initial
    assert abs(_numpy_abscissa(W) - params.radius) < 0.2 * params.radius


# --- optimised network ----------------------------------------------------------------------


@pytest.mark.slow  # the default-size (N=200, ~2000-step) optimisation
def test_optimised_network_is_stable_below_target(params, optimised):
    assert _numpy_abscissa(optimised.W) <= params.target_abscissa + 1e-9


@pytest.mark.slow  # the default-size (N=200, ~2000-step) optimisation
def test_optimised_inhibitory_weights_are_non_positive(optimised):
    assert np.all(optimised.W[:, ~optimised.excitatory] <= 0)


@pytest.mark.slow  # the default-size (N=200, ~2000-step) optimisation
def test_optimised_inhibitory_density_is_at_most_the_limit(params, optimised):
    inh = optimised.W[:, ~optimised.excitatory]
    assert np.count_nonzero(inh) / inh.size <= params.inhibitory_density


@pytest.mark.slow  # the default-size (N=200, ~2000-step) optimisation
def test_optimised_inhibition_is_gamma_times_excitation_onto_both_populations(params, optimised):
    W, exc = optimised.W, optimised.excitatory
    inh = ~exc
    ratio_onto_e = _block_mean(W, exc, inh) / _block_mean(W, exc, exc)
    ratio_onto_i = _block_mean(W, inh, inh) / _block_mean(W, inh, exc)
    assert ratio_onto_e == pytest.approx(-params.gamma, rel=0.01)
    assert ratio_onto_i == pytest.approx(-params.gamma, rel=0.01)


@pytest.mark.slow  # the default-size (N=200, ~2000-step) optimisation
def test_optimisation_leaves_excitatory_weights_unchanged(initial, optimised):
    W0, excitatory = initial
    np.testing.assert_array_equal(optimised.W[:, excitatory], W0[:, excitatory])
    np.testing.assert_array_equal(optimised.excitatory, excitatory)


@pytest.mark.slow  # the default-size (N=200, ~2000-step) optimisation
def test_optimised_network_has_no_self_loops(optimised):
    assert np.all(np.diag(optimised.W) == 0)


@pytest.mark.slow  # the default-size (N=200, ~2000-step) optimisation
def test_abscissa_trace_runs_from_initial_abscissa_to_target(params, initial, optimised):
    trace = optimised.abscissa_trace
    assert trace[0] == pytest.approx(_numpy_abscissa(initial[0]), rel=1e-10)
    assert trace[-1] <= params.target_abscissa
    assert np.all(trace[:-1] > params.target_abscissa)  # stops at the first success
    assert trace[-1] == pytest.approx(_numpy_abscissa(optimised.W), abs=1e-10)


def test_optimisation_does_not_modify_its_input(small_initial, small_soc):
    W, excitatory, W_before, excitatory_before = small_initial
    assert small_soc.W is not W
    np.testing.assert_array_equal(W, W_before)
    np.testing.assert_array_equal(excitatory, excitatory_before)


def test_optimisation_matches_plain_eigvals_and_lyapunov_implementation(
    small_params, small_initial, small_soc
):
    _, _, W0, excitatory = small_initial
    n_iterations = small_soc.abscissa_trace.size - 1
    W_ref, trace_ref = _reference_optimisation(W0, excitatory, small_params, n_iterations)
    np.testing.assert_allclose(small_soc.abscissa_trace, trace_ref, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(small_soc.W, W_ref, rtol=0, atol=1e-8)


# --- Schur-based spectrum and Gramians ------------------------------------------------------


def _random_stable_matrix(n, seed):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n, n)) * 1.5 / math.sqrt(n)
    return M, float(np.linalg.eigvals(M).real.max())


@pytest.mark.parametrize("n", [5, 31, 77, 200])
def test_schur_gramians_match_scipy_lyapunov_solutions(n):
    M, abscissa = _random_stable_matrix(n, seed=n)
    shift = abscissa + 0.3
    eigenvalues, Q, P = spectrum_and_gramians(M, shift)
    A = M - shift * np.eye(n)
    # scipy solves a X + X a^H = q: A^T Q + Q A = -2I is a = A^T, A P + P A^T = -2I is a = A.
    Q_ref = scipy.linalg.solve_continuous_lyapunov(A.T, -2 * np.eye(n))
    P_ref = scipy.linalg.solve_continuous_lyapunov(A, -2 * np.eye(n))
    assert np.linalg.norm(Q - Q_ref) <= 1e-10 * np.linalg.norm(Q_ref)
    assert np.linalg.norm(P - P_ref) <= 1e-10 * np.linalg.norm(P_ref)
    np.testing.assert_allclose(A.T @ Q + Q @ A, -2 * np.eye(n), atol=1e-10 * np.abs(Q).max())
    np.testing.assert_allclose(A @ P + P @ A.T, -2 * np.eye(n), atol=1e-10 * np.abs(P).max())
    expected = np.linalg.eigvals(M)
    np.testing.assert_allclose(np.sort_complex(eigenvalues), np.sort_complex(expected), atol=1e-10)


def test_schur_gramians_are_symmetric_positive_definite():
    M, abscissa = _random_stable_matrix(90, seed=7)
    _, Q, P = spectrum_and_gramians(M, abscissa + 0.5)
    for G in (Q, P):
        np.testing.assert_allclose(G, G.T, atol=1e-12 * np.abs(G).max())
        assert np.linalg.eigvalsh(0.5 * (G + G.T)).min() > 0


def test_spectrum_and_gramians_refuses_a_shift_below_the_abscissa():
    M, abscissa = _random_stable_matrix(20, seed=3)
    with pytest.raises(ValueError, match="shift"):
        spectrum_and_gramians(M, abscissa - 0.1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spectral_abscissa_matches_numpy_eigvals(seed):
    M, abscissa = _random_stable_matrix(50, seed)
    assert spectral_abscissa(M) == pytest.approx(abscissa, abs=1e-12)


def test_spectral_abscissa_of_a_rotation_block_is_its_real_part():
    M = np.array([[0.3, -2.0, 1.0], [2.0, 0.3, 0.0], [0.0, 0.0, -1.0]])
    assert spectral_abscissa(M) == pytest.approx(0.3, abs=1e-14)


# --- determinism ----------------------------------------------------------------------------


def test_same_seed_gives_bit_identical_network(small_params, small_soc):
    again = build_soc(small_params, np.random.default_rng(SEED))
    assert isinstance(again, SOC)
    np.testing.assert_array_equal(again.W, small_soc.W)
    np.testing.assert_array_equal(again.abscissa_trace, small_soc.abscissa_trace)


def test_different_seed_gives_different_network(small_params, small_soc):
    other = build_soc(small_params, np.random.default_rng(SEED + 1))
    assert not np.array_equal(other.W, small_soc.W)


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("n_neurons", 0),
        ("n_neurons", 1),
        ("n_neurons", 20.0),
        ("excitatory_fraction", 0.0),
        ("excitatory_fraction", 1.0),
        ("excitatory_fraction", 0.001),
        ("connection_prob", 0.0),
        ("connection_prob", 1.0),
        ("connection_prob", 1.5),
        ("connection_prob", float("nan")),
        ("radius", 0.0),
        ("radius", -1.0),
        ("radius", float("inf")),
        ("gamma", 0.0),
        ("gamma", -3.0),
        ("learning_rate", 0.0),
        ("learning_rate", float("nan")),
        ("target_abscissa", float("nan")),
        ("target_abscissa", float("-inf")),
        ("inhibitory_density", 0.0),
        ("inhibitory_density", 1.2),
        ("max_iterations", 0),
        ("max_iterations", 2.5),
        ("log_every", 0),
        ("log_every", True),
    ],
)
def test_bad_parameter_raises_value_error_naming_it(name, value):
    with pytest.raises(ValueError, match=name):
        SOCParams(**{name: value})


def test_target_above_initial_abscissa_raises_value_error(small_params):
    W, excitatory = initial_connectivity(small_params, np.random.default_rng(0))
    initial = _numpy_abscissa(W)
    params = SOCParams(n_neurons=SMALL_N, target_abscissa=initial + 1.0)
    with pytest.raises(ValueError, match="target_abscissa") as info:
        optimise_inhibition(W, excitatory, params)
    reported = float(re.search(r"initial spectral abscissa \(([^)]+)\)", str(info.value))[1])
    assert reported == pytest.approx(initial, rel=1e-10)


def test_running_out_of_iterations_raises_runtime_error():
    params = SOCParams(n_neurons=SMALL_N, max_iterations=3)
    W, excitatory = initial_connectivity(params, np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="max_iterations"):
        optimise_inhibition(W, excitatory, params)


def test_optimisation_rejects_a_mask_of_the_wrong_shape(small_params):
    W, excitatory = initial_connectivity(small_params, np.random.default_rng(0))
    with pytest.raises(ValueError, match="excitatory"):
        optimise_inhibition(W, excitatory[:-1], small_params)
