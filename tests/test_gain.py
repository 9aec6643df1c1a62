import dataclasses
import logging
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.linalg import expm, solve_continuous_lyapunov

from hintforce.emg import EMGParams, sample_emg
from hintforce.gain import (
    GainParams,
    fit_gains,
    initial_state,
    loss_and_grad,
    phi,
    phi_derivative,
    rates_with_rest,
    simulate,
)
from hintforce.seeding import generator
from hintforce.soc import SOCParams, build_soc

R0, RMAX = 20.0, 100.0

# ----------------------------------------------------------------------------------------------
# independent reference computations


def reference_phi(x, r0, rmax):
    """The study's rate nonlinearity (hintforce.gain), written out one scalar at a time."""
    return np.array(
        [r0 * math.tanh(v / r0) if v < 0 else (rmax - r0) * math.tanh(v / (rmax - r0)) for v in x]
    )


def reference_simulation(W, gains, x0, tau, dt, n_steps, r0, rmax):
    """Forward Euler of tau dx/dt = -x + W phi(g x), one condition at a time, column vectors."""
    out = np.empty((gains.shape[0], n_steps + 1, W.shape[0]))
    for c, g in enumerate(gains):
        x = x0.copy()
        out[c, 0] = x
        for k in range(n_steps):
            x = x + dt / tau * (-x + W @ reference_phi(g * x, r0, rmax))
            out[c, k + 1] = x
    return out


def r_squared(target, fit):
    """Per-muscle R^2 over all conditions and times; arrays (condition, time, muscle)."""
    ss_res = ((target - fit) ** 2).sum(axis=(0, 1))
    ss_tot = ((target - target.mean(axis=(0, 1))) ** 2).sum(axis=(0, 1))
    return 1.0 - ss_res / ss_tot


def random_ei_network(rng, n, n_exc, radius):
    """Random dense E/I network with columns signed by type, scaled so that W - I is stable."""
    W = np.abs(rng.normal(0.0, 1.0, (n, n)))
    W[:, n_exc:] *= -1.5
    np.fill_diagonal(W, 0.0)
    W *= radius / np.max(np.abs(np.linalg.eigvals(W)))
    return W


# ----------------------------------------------------------------------------------------------
# fixtures: the study's default-size ground truth (real SOC and EMG), fitted once


@pytest.fixture(scope="module")
def problem(default_soc):
    emg = sample_emg(EMGParams(), generator(0, "emg")).emg
    return default_soc.W, default_soc.excitatory, emg


@pytest.fixture(scope="module")
def truth(problem):
    W, excitatory, emg = problem
    return fit_gains(W, excitatory, emg, GainParams())


# ----------------------------------------------------------------------------------------------
# parameters and inputs


def test_default_params_are_the_design_values():
    p = GainParams()
    assert (p.tau_ms, p.r0_hz, p.rmax_hz) == (200.0, 20.0, 100.0)
    assert p.dt_ms <= 2.0
    assert p.steps_per_bin * p.dt_ms == p.bin_ms == 10.0
    assert (p.x0_rms_hz, p.tail_ms, p.tail_weight) == (10.0, 200.0, 1.0)
    assert (p.ridge, p.gain_penalty, p.max_iterations, p.tolerance) == (100.0, 0.1, 40, 1e-9)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("tau_ms", 0.0),
        ("tau_ms", math.inf),
        ("r0_hz", -1.0),
        ("rmax_hz", 15.0),
        ("dt_ms", 2.5),
        ("dt_ms", 0.0),
        ("dt_ms", math.nan),
        ("dt_ms", 0.75),
        ("bin_ms", -10.0),
        ("x0_rms_hz", 0.0),
        ("tail_ms", -10.0),
        ("tail_ms", 15.0),
        ("tail_weight", -0.5),
        ("ridge", 0.0),
        ("gain_penalty", math.inf),
        ("gain_penalty", -1.0),
        ("max_iterations", 0),
        ("max_iterations", 2.5),
        ("tolerance", 0.0),
    ],
)
def test_bad_params_raise_naming_the_parameter(name, value):
    with pytest.raises(ValueError, match=name):
        GainParams(**{name: value})


def test_dt_above_two_ms_is_rejected_with_the_allowed_range():
    with pytest.raises(ValueError, match=r"dt_ms must be a finite number in \(0, 2\]"):
        GainParams(dt_ms=10.0)


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(11)
    n, n_exc, c, t, m = 12, 6, 3, 5, 2
    W = random_ei_network(rng, n, n_exc, radius=0.8)
    excitatory = np.arange(n) < n_exc
    emg = rng.uniform(0.1, 1.0, (c, t, m))
    params = GainParams(
        tau_ms=20.0,
        dt_ms=1.0,
        bin_ms=2.0,
        tail_ms=4.0,
        tail_weight=0.5,
        x0_rms_hz=40.0,
        ridge=1.0,
        gain_penalty=0.3,
    )
    x0 = initial_state(W, params)
    u = rng.normal(0.0, 0.5, (c, n))
    return W, excitatory, emg, params, x0, u


@pytest.mark.parametrize(
    ("change", "name"),
    [
        (lambda W, e, emg, x0, u: (W[:, :-1], e, emg, x0, u), "W"),
        (lambda W, e, emg, x0, u: (np.where(W == W[0, 1], np.nan, W), e, emg, x0, u), "W"),
        (lambda W, e, emg, x0, u: (W, e[:-1], emg, x0, u), "excitatory"),
        (lambda W, e, emg, x0, u: (W, e.astype(int), emg, x0, u), "excitatory"),
        (lambda W, e, emg, x0, u: (W, np.zeros_like(e), emg, x0, u), "excitatory"),
        (lambda W, e, emg, x0, u: (W, e, emg[0], x0, u), "emg"),
        (lambda W, e, emg, x0, u: (W, e, np.full_like(emg, 0.1), x0, u), "emg"),
        (lambda W, e, emg, x0, u: (W, e, emg[:2], x0, u), "u"),
        (lambda W, e, emg, x0, u: (W, e, emg, x0, u[:, :-1]), "u"),
        (lambda W, e, emg, x0, u: (W, e, emg, x0[:-1], u), "x0"),
    ],
)
def test_mismatched_inputs_raise_naming_the_input(small, change, name):
    W, excitatory, emg, params, x0, u = small
    W, excitatory, emg, x0, u = change(W, excitatory, emg, x0, u)
    with pytest.raises(ValueError, match=name):
        loss_and_grad(u, W, excitatory, x0, emg, params)


def test_fit_rejects_excitatory_mask_of_wrong_length(small):
    W, excitatory, emg, params, _, _ = small
    with pytest.raises(ValueError, match="excitatory"):
        fit_gains(W, np.ones(W.shape[0] + 1, dtype=bool), emg, params)


# ----------------------------------------------------------------------------------------------
# phi


def test_phi_is_continuous_with_unit_slope_at_zero():
    h = 1e-7
    assert phi(0.0, R0, RMAX) == 0.0
    left, right = phi(-h, R0, RMAX), phi(h, R0, RMAX)
    assert abs(left) < 2 * h and abs(right) < 2 * h
    assert (phi(h, R0, RMAX) - phi(0.0, R0, RMAX)) / h == pytest.approx(1.0, abs=1e-6)
    assert (phi(0.0, R0, RMAX) - phi(-h, R0, RMAX)) / h == pytest.approx(1.0, abs=1e-6)
    assert phi_derivative(0.0, R0, RMAX) == 1.0
    assert phi_derivative(-h, R0, RMAX) == pytest.approx(1.0, abs=1e-12)


def test_phi_matches_the_design_formula_on_both_sides():
    x = np.linspace(-150.0, 300.0, 901)
    np.testing.assert_allclose(phi(x, R0, RMAX), reference_phi(x, R0, RMAX), rtol=1e-14, atol=0)


def test_phi_derivative_matches_finite_differences():
    x = np.concatenate([np.linspace(-100.0, -0.5, 200), np.linspace(0.5, 250.0, 200)])
    h = 1e-5
    fd = (phi(x + h, R0, RMAX) - phi(x - h, R0, RMAX)) / (2 * h)
    np.testing.assert_allclose(phi_derivative(x, R0, RMAX), fd, rtol=1e-7, atol=1e-9)


@given(st.floats(-15.0, 15.0), st.floats(1.0, 50.0), st.floats(1.5, 5.0))
def test_phi_keeps_rates_strictly_between_zero_and_rmax(y, r0, ratio):
    # y is the input in units of the branch's saturation scale; beyond |y| ~ 19, tanh rounds
    # to +-1 in float64 and the bounds are reached exactly
    rmax = ratio * r0
    x = y * (r0 if y < 0 else rmax - r0)
    value = float(phi(x, r0, rmax))
    assert -r0 < value < rmax - r0
    assert 0.0 < float(phi_derivative(x, r0, rmax)) <= 1.0


@given(st.floats(-1e300, 1e300))
def test_phi_never_leaves_its_closed_bounds(x):
    value = float(phi(x, R0, RMAX))
    assert -R0 <= value <= RMAX - R0


def test_phi_saturates_at_its_bounds():
    assert phi(-1e4, R0, RMAX) == pytest.approx(-R0)
    assert phi(1e4, R0, RMAX) == pytest.approx(RMAX - R0)


# ----------------------------------------------------------------------------------------------
# initial state


@pytest.mark.slow
def test_initial_state_is_the_top_eigenvector_of_the_observability_gramian(problem):
    W = problem[0]
    n = W.shape[0]
    params = GainParams()
    x0 = initial_state(W, params)
    A = W - np.eye(n)
    Q = solve_continuous_lyapunov(A.T, -2.0 * np.eye(n))
    residual = A.T @ Q + Q @ A + 2.0 * np.eye(n)
    assert np.max(np.abs(residual)) < 1e-8 * np.max(np.abs(Q))
    evals, evecs = np.linalg.eigh(0.5 * (Q + Q.T))
    direction = x0 / np.linalg.norm(x0)
    assert abs(direction @ evecs[:, -1]) == pytest.approx(1.0, abs=1e-8)
    np.testing.assert_allclose(Q @ direction, evals[-1] * direction, atol=1e-8 * evals[-1])
    assert np.sqrt(np.mean(x0**2)) == pytest.approx(params.x0_rms_hz)
    assert x0[np.argmax(np.abs(x0))] > 0


def test_initial_state_maximises_the_energy_of_the_linear_response():
    # Q = 2 int_0^inf exp(A^T s) exp(A s) ds, so x^T Q x is twice the energy of x's response
    rng = np.random.default_rng(5)
    n = 16
    W = random_ei_network(rng, n, n // 2, radius=0.9)  # E/I sign structure: non-normal
    A = W - np.eye(n)
    x0 = initial_state(W, GainParams())
    direction = x0 / np.linalg.norm(x0)
    s = np.linspace(0.0, 100.0, 10001)
    step = expm(A * (s[1] - s[0]))

    def energy(v):
        norms = np.empty(s.size)
        for i in range(s.size):
            norms[i] = v @ v
            v = step @ v
        return 2.0 * np.trapezoid(norms, s)

    best = energy(direction)
    others = [energy(v / np.linalg.norm(v)) for v in rng.normal(size=(20, n))]
    assert best > max(others)
    Q = solve_continuous_lyapunov(A.T, -2.0 * np.eye(n))
    assert best == pytest.approx(np.linalg.eigvalsh(Q)[-1], rel=1e-3)


# ----------------------------------------------------------------------------------------------
# simulation


def test_simulate_matches_a_step_by_step_euler_reference(small):
    W, _, _, params, x0, u = small
    gains = np.exp(u)
    states = simulate(W, gains, x0, params, 25)
    assert states.shape == (gains.shape[0], 26, W.shape[0])
    np.testing.assert_array_equal(states[:, 0], np.broadcast_to(x0, states[:, 0].shape))
    expected = reference_simulation(W, gains, x0, params.tau_ms, params.dt_ms, 25, R0, RMAX)
    np.testing.assert_allclose(states, expected, rtol=1e-12, atol=1e-10)


def test_simulate_is_linear_euler_for_small_states_and_approaches_the_linear_flow():
    # phi is linear to third order around 0, so tiny states follow x <- (I + h (W g - I)) x,
    # which in turn approximates exp((W g - I) t / tau) x0 to first order in h = dt / tau
    rng = np.random.default_rng(2)
    n = 10
    W = random_ei_network(rng, n, n // 2, radius=0.7)
    gains = np.exp(rng.normal(0.0, 0.3, (2, n)))
    x0 = 1e-6 * rng.normal(size=n)
    params = GainParams(dt_ms=0.5)
    h = params.dt_ms / params.tau_ms
    n_steps = 400  # 200 ms = one time constant
    states = simulate(W, gains, x0, params, n_steps)
    for c in range(2):
        jac = W * gains[c] - np.eye(n)
        euler = np.linalg.matrix_power(np.eye(n) + h * jac, n_steps) @ x0
        np.testing.assert_allclose(states[c, -1], euler, rtol=1e-9, atol=1e-9 * np.abs(x0).max())
        flow = expm(jac * n_steps * h) @ x0
        assert np.linalg.norm(states[c, -1] - flow) < 1e-2 * np.linalg.norm(flow)


# ----------------------------------------------------------------------------------------------
# gradient


def test_backprop_gradient_matches_central_finite_differences(small):
    W, excitatory, emg, params, x0, u = small
    # the test network must visit both branches of phi, well into their curvature
    s = np.exp(u)[:, None, :] * simulate(W, np.exp(u), x0, params, 12)
    assert s.min() < -0.5 * R0 and s.max() > 0.5 * (RMAX - R0)
    _, grad = loss_and_grad(u, W, excitatory, x0, emg, params)
    eps = 1e-6
    fd = np.empty_like(u)
    for idx in np.ndindex(u.shape):
        step = np.zeros_like(u)
        step[idx] = eps
        plus, _ = loss_and_grad(u + step, W, excitatory, x0, emg, params)
        minus, _ = loss_and_grad(u - step, W, excitatory, x0, emg, params)
        fd[idx] = (plus - minus) / (2 * eps)
    assert np.linalg.norm(grad - fd) / np.linalg.norm(fd) < 1e-5


def test_loss_without_tail_ridge_or_penalty_is_mean_one_minus_r2(small):
    W, excitatory, emg, params, x0, u = small
    plain = GainParams(
        tau_ms=params.tau_ms,
        dt_ms=params.dt_ms,
        bin_ms=params.bin_ms,
        x0_rms_hz=params.x0_rms_hz,
        tail_ms=0.0,
        ridge=1e-9,
        gain_penalty=0.0,
    )
    loss, _ = loss_and_grad(u, W, excitatory, x0, emg, plain)
    # independent least squares fit of the readout from the simulated excitatory rates
    states = simulate(W, np.exp(u), x0, plain, (emg.shape[1] - 1) * plain.steps_per_bin)
    sampled = states[:, :: plain.steps_per_bin]
    rates = phi(np.exp(u)[:, None, :] * sampled, R0, RMAX)[:, :, excitatory]
    design = np.concatenate(
        [rates.reshape(-1, rates.shape[2]), np.ones((rates[..., 0].size, 1))], 1
    )
    coef, *_ = np.linalg.lstsq(design, emg.reshape(-1, emg.shape[2]), rcond=None)
    fit = (design @ coef).reshape(emg.shape)
    assert loss == pytest.approx(np.mean(1.0 - r_squared(emg, fit)), rel=1e-6)


def test_loss_with_tail_ridge_and_penalty_matches_an_independent_weighted_ridge(small):
    """The full loss: weighted squared error over the movement and the post-movement tail
    (where the target is each condition's final EMG value), the ridge on the readout and the
    gain penalty, against an augmented least-squares fit of the same problem."""
    W, excitatory, emg, params, x0, u = small
    full = GainParams(
        tau_ms=params.tau_ms,
        dt_ms=params.dt_ms,
        bin_ms=params.bin_ms,
        x0_rms_hz=params.x0_rms_hz,
        tail_ms=3 * params.bin_ms,
        tail_weight=0.7,
        ridge=50.0,
        gain_penalty=0.2,
    )
    assert full.tail_bins == 3
    loss, _ = loss_and_grad(u, W, excitatory, x0, emg, full)
    n_move = emg.shape[1]
    n_samples = n_move + full.tail_bins
    states = simulate(W, np.exp(u), x0, full, (n_samples - 1) * full.steps_per_bin)
    sampled = states[:, :: full.steps_per_bin]
    rates = phi(np.exp(u)[:, None, :] * sampled, R0, RMAX)[:, :, excitatory]  # (C, S, NE)
    targets = np.concatenate(
        [emg, np.repeat(emg[:, -1:, :], full.tail_bins, axis=1)], axis=1
    )  # (C, S, M)
    weights = np.concatenate([np.ones(n_move), np.full(full.tail_bins, 0.7)])
    root_w = np.sqrt(np.broadcast_to(weights, rates.shape[:2])).reshape(-1, 1)
    n_exc = rates.shape[2]
    design = np.concatenate([rates.reshape(-1, n_exc), np.ones((root_w.size, 1))], 1) * root_w
    target = targets.reshape(-1, emg.shape[2]) * root_w
    penalty = np.sqrt(50.0) * np.eye(n_exc, n_exc + 1)  # the bias is not penalised
    coef, *_ = np.linalg.lstsq(
        np.concatenate([design, penalty]),
        np.concatenate([target, np.zeros((n_exc, emg.shape[2]))]),
        rcond=None,
    )
    residual = target - design @ coef
    centred = emg - emg.mean(axis=(0, 1))
    ss_tot = (centred**2).sum(axis=(0, 1))
    per_muscle = ((residual**2).sum(axis=0) + 50.0 * (coef[:n_exc] ** 2).sum(axis=0)) / ss_tot
    expected = per_muscle.mean() + 0.2 * np.mean(u**2)
    assert loss == pytest.approx(expected, rel=1e-6)
    no_tail = dataclasses.replace(full, tail_ms=0.0)
    assert loss_and_grad(u, W, excitatory, x0, emg, no_tail)[0] != pytest.approx(loss, rel=1e-3)


# ----------------------------------------------------------------------------------------------
# the default-size ground truth


@pytest.mark.slow
def test_readout_reproduces_every_muscle(truth, problem):
    emg = problem[2]
    r2 = r_squared(emg, truth.emg_fit)
    assert np.median(r2) >= 0.98
    assert np.min(r2) >= 0.95
    np.testing.assert_allclose(truth.r2, r2, rtol=1e-10)


@pytest.mark.slow
def test_emg_fit_is_the_shared_readout_of_the_excitatory_rates(truth, problem):
    excitatory = problem[1]
    rate_dev = truth.rates[:, :, excitatory] - GainParams().r0_hz
    np.testing.assert_allclose(
        truth.emg_fit, rate_dev @ truth.readout.T + truth.bias, rtol=1e-10, atol=1e-10
    )


@pytest.mark.slow
def test_rates_are_the_simulated_network_on_the_emg_grid(truth, problem):
    W, _, emg = problem
    params = GainParams()
    n_steps = (emg.shape[1] - 1) * params.steps_per_bin
    states = simulate(W, truth.gains, truth.x0, params, n_steps)[:, :: params.steps_per_bin]
    rates = params.r0_hz + phi(truth.gains[:, None, :] * states, R0, RMAX)
    np.testing.assert_allclose(truth.rates, rates, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(truth.x0, initial_state(W, params))


@pytest.mark.slow
def test_gains_are_positive_finite_and_condition_specific(truth, problem):
    emg = problem[2]
    assert truth.gains.shape == (emg.shape[0], problem[0].shape[0])
    assert np.all(np.isfinite(truth.gains)) and np.all(truth.gains > 0)
    np.testing.assert_allclose(np.log(truth.gains), truth.log_gains, rtol=1e-12, atol=1e-12)
    assert np.ptp(truth.log_gains, axis=0).max() > 0.1


@pytest.mark.slow
def test_rates_stay_in_range_and_swing_tens_of_hz(truth):
    assert truth.rates.shape == (8, 80, 200)
    assert truth.rates.min() > 0.0 and truth.rates.max() < 100.0
    assert np.max(np.abs(truth.rates - 20.0)) >= 10.0


@pytest.mark.slow
def test_activity_decays_after_the_movement(truth, problem):
    W, _, emg = problem
    params = GainParams()
    per_bin = params.steps_per_bin
    end_move = (emg.shape[1] - 1) * per_bin
    end_tail = end_move + params.tail_bins * per_bin
    extra = round(1000.0 / params.dt_ms)
    states = simulate(W, truth.gains, truth.x0, params, end_tail + extra)
    norm = np.linalg.norm(states, axis=2)  # (condition, step)
    assert np.all(norm[:, end_tail] < norm[:, end_move])
    # over the second after the tail the activity keeps shrinking: no sustained or growing mode
    first = norm[:, end_tail : end_tail + extra // 2].max(axis=1)
    second = norm[:, end_tail + extra // 2 :].max(axis=1)
    assert np.all(second < first)
    assert np.all(norm[:, -1] < 0.5 * norm[:, end_tail])


@pytest.mark.slow
def test_each_condition_is_linearly_stable_at_baseline(truth, problem):
    W = problem[0]
    for gains in truth.gains:
        assert np.max(np.linalg.eigvals(W * gains).real) < 1.0


@pytest.mark.slow
def test_loss_trace_decreases(truth):
    trace = truth.loss_trace
    assert trace.size >= 2
    assert np.all(np.diff(trace) <= 1e-12 * np.abs(trace[:-1]))
    assert trace[-1] < 0.1 * trace[0]


@pytest.mark.slow
def test_fit_logs_progress(problem, caplog):
    W, excitatory, emg = problem
    with caplog.at_level(logging.INFO, logger="hintforce.gain"):
        fit_gains(W, excitatory, emg, GainParams(max_iterations=2))
    assert any("median R^2" in record.getMessage() for record in caplog.records)


@pytest.mark.slow
def test_same_inputs_give_bit_identical_fits(problem):
    W, excitatory, emg = problem
    params = GainParams(max_iterations=4)
    a = fit_gains(W, excitatory, emg, params)
    b = fit_gains(W.copy(), excitatory.copy(), emg.copy(), params)
    np.testing.assert_array_equal(a.gains, b.gains)
    np.testing.assert_array_equal(a.rates, b.rates)
    np.testing.assert_array_equal(a.readout, b.readout)


@pytest.mark.slow
def test_different_soc_seeds_give_different_ground_truths():
    emg = sample_emg(
        EMGParams(n_conditions=3, n_times=20, n_muscles=2, envelope_ramp_ms=50.0),
        generator(1, "emg"),
    ).emg
    fits = []
    for seed in (1, 2):
        soc = build_soc(SOCParams(n_neurons=60), generator(seed, "soc"))
        fits.append(fit_gains(soc.W, soc.excitatory, emg, GainParams(max_iterations=4)))
    assert not np.allclose(fits[0].gains, fits[1].gains)
    assert not np.allclose(fits[0].rates, fits[1].rates)


# ----------------------------------------------------------------------------------------------
# rates past the movement window (rates_with_rest)


@pytest.fixture(scope="module")
def rested():
    """A small SOC with gains fitted by a few L-BFGS-B iterations: W, the fit, its parameters.
    The 12 ms movement window is short against tau = 20 ms, so it ends far from baseline."""
    rng = np.random.default_rng(23)
    n, n_exc, c, t, m = 12, 6, 3, 6, 2
    W = random_ei_network(rng, n, n_exc, radius=0.8)
    emg = rng.uniform(0.1, 1.0, (c, t, m))
    params = GainParams(
        tau_ms=20.0,
        dt_ms=1.0,
        bin_ms=2.0,
        tail_ms=4.0,
        x0_rms_hz=30.0,
        ridge=1.0,
        gain_penalty=0.3,
        max_iterations=5,
    )
    truth = fit_gains(W, np.arange(n) < n_exc, emg, params)
    return W, truth, params


def reference_rates(W, gains, x0, params, n_bins):
    """Rates r0 + phi(g x) of reference_simulation from the start, on the bin grid:
    (C, n_bins, N)."""
    stride = params.steps_per_bin
    n_steps = (n_bins - 1) * stride
    states = reference_simulation(
        W, gains, x0, params.tau_ms, params.dt_ms, n_steps, params.r0_hz, params.rmax_hz
    )[:, ::stride]
    drive = gains[:, None, :] * states
    dev = reference_phi(drive.ravel(), params.r0_hz, params.rmax_hz).reshape(drive.shape)
    return params.r0_hz + dev


def test_the_fitted_rates_are_the_reference_simulation_on_the_bin_grid(rested):
    W, truth, params = rested
    assert truth.rates.shape == (3, 6, 12)
    expected = reference_rates(W, truth.gains, truth.x0, params, 6)
    np.testing.assert_allclose(truth.rates, expected, rtol=0, atol=1e-9)
    # both branches of phi are visited: the check below is not of a linear network
    assert truth.rates.min() < 0.5 * R0 and truth.rates.max() > R0 + 0.5 * (RMAX - R0)


def test_rates_with_no_rest_are_the_stored_rates_themselves(rested):
    W, truth, params = rested
    rates = truth.rates.copy()
    out = rates_with_rest(W, truth.gains, truth.x0, rates, params, 0)
    assert out is rates
    np.testing.assert_array_equal(out, truth.rates)
    listed = rates_with_rest(W, truth.gains, truth.x0, rates.tolist(), params, 0)
    assert listed.dtype == np.float64
    np.testing.assert_array_equal(listed, truth.rates)


@pytest.mark.parametrize("n_rest", [1, 2, 7, 60])
def test_the_rest_window_continues_the_simulation_from_the_start(rested, n_rest):
    W, truth, params = rested
    n_times = truth.rates.shape[1]
    rates = truth.rates.copy()
    out = rates_with_rest(W, truth.gains, truth.x0, rates, params, n_rest)
    assert out.shape == (3, n_times + n_rest, 12)
    np.testing.assert_array_equal(out[:, :n_times], truth.rates)
    expected = reference_rates(W, truth.gains, truth.x0, params, n_times + n_rest)
    np.testing.assert_allclose(out[:, n_times:], expected[:, n_times:], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(rates, truth.rates)  # the stored rates are not modified
    # the rest is a continuation: the step from the movement's last bin into the rest is of
    # the size of the steps within the movement, not a jump
    steps = np.abs(np.diff(out, axis=1)).max(axis=(0, 2))
    assert steps[n_times - 1] <= 2.0 * steps[: n_times - 1].max()


def test_a_longer_rest_extends_a_shorter_one(rested):
    W, truth, params = rested
    short = rates_with_rest(W, truth.gains, truth.x0, truth.rates, params, 5)
    long = rates_with_rest(W, truth.gains, truth.x0, truth.rates, params, 30)
    np.testing.assert_array_equal(long[:, : short.shape[1]], short)


def test_the_movement_window_keeps_the_stored_rates_not_the_recomputed_ones(rested):
    # a difference below the tolerance (1e-9 Hz relative to the largest rate) is accepted and
    # the stored values come back unchanged
    W, truth, params = rested
    rates = truth.rates + 1e-11 * np.sign(np.sin(np.arange(truth.rates.size))).reshape(
        truth.rates.shape
    )
    assert not np.array_equal(rates, truth.rates)
    out = rates_with_rest(W, truth.gains, truth.x0, rates, params, 4)
    np.testing.assert_array_equal(out[:, : rates.shape[1]], rates)


def _one_rate_off(truth):
    rates = truth.rates.copy()
    rates[1, 3, 5] += 1e-6
    return rates


def _with_params(**changes):
    """A change of the fit's parameters only."""
    return lambda W, truth, p: (
        W,
        truth.gains,
        truth.x0,
        truth.rates,
        dataclasses.replace(p, **changes),
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda W, truth, p: (W, truth.gains, truth.x0, _one_rate_off(truth), p),
        lambda W, truth, p: (W, truth.gains, truth.x0, truth.rates[::-1], p),
        lambda W, truth, p: (W, truth.gains * 1.001, truth.x0, truth.rates, p),
        lambda W, truth, p: (W, truth.gains[::-1], truth.x0, truth.rates, p),
        lambda W, truth, p: (W, truth.gains, 0.999 * truth.x0, truth.rates, p),
        lambda W, truth, p: (W * 1.001, truth.gains, truth.x0, truth.rates, p),
        lambda W, truth, p: (W.T, truth.gains, truth.x0, truth.rates, p),
        _with_params(tau_ms=21.0),
        _with_params(bin_ms=4.0),
        _with_params(r0_hz=19.0),
        _with_params(rmax_hz=90.0),
    ],
    ids=[
        "one-rate",
        "conditions-swapped",
        "gains",
        "gains-swapped",
        "x0",
        "W",
        "W-transposed",
        "tau",
        "bin",
        "r0",
        "rmax",
    ],
)
def test_stored_rates_inconsistent_with_the_network_are_refused(rested, change):
    W, gains, x0, rates, params = change(*rested)
    with pytest.raises(
        ValueError, match="the stored rates are not those of the stored W, gains and x0"
    ):
        rates_with_rest(W, gains, x0, rates, params, 3)


def test_the_refusal_reports_the_largest_difference(rested):
    W, truth, params = rested
    rates = truth.rates.copy()
    rates[0, 2, 1] += 0.25
    rates[2, 5, 7] -= 0.125
    with pytest.raises(ValueError, match=r"largest difference 0\.25 Hz"):
        rates_with_rest(W, truth.gains, truth.x0, rates, params, 1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda W, g, x0, r: (W, g, x0, r[:2]), r"rates must have shape \(3, n_times, 12\)"),
        (lambda W, g, x0, r: (W, g, x0, r[..., :-1]), r"rates must have shape \(3, n_times, 12\)"),
        (lambda W, g, x0, r: (W, g, x0, r[0]), r"rates must have shape \(3, n_times, 12\)"),
        (lambda W, g, x0, r: (W, g[:, :-1], x0, r), r"gains must have shape \(n_conditions, 12\)"),
        (lambda W, g, x0, r: (W, -g, x0, r), "gains must be finite and positive"),
        (lambda W, g, x0, r: (W, g, x0[:-1], r), r"x0 must have shape \(12,\)"),
        (lambda W, g, x0, r: (W, g, np.full_like(x0, np.nan), r), "x0 must be finite"),
        (lambda W, g, x0, r: (W[:-1], g, x0, r), "W must be a square 2-D array"),
    ],
)
def test_malformed_inputs_are_refused_naming_the_input(rested, change, message):
    W, truth, params = rested
    W, gains, x0, rates = change(W, truth.gains, truth.x0, truth.rates)
    with pytest.raises(ValueError, match=message):
        rates_with_rest(W, gains, x0, rates, params, 2)


@pytest.mark.parametrize("n_rest", [-1, 2.5, True, None, "3"])
def test_a_bad_rest_length_is_refused(rested, n_rest):
    W, truth, params = rested
    with pytest.raises(ValueError, match="n_rest must be an integer >= 0"):
        rates_with_rest(W, truth.gains, truth.x0, truth.rates, params, n_rest)


def test_the_rest_decays_toward_baseline_for_a_stable_network(rested):
    W, truth, params = rested
    for gains in truth.gains:  # every condition's network is linearly stable at baseline
        assert np.max(np.linalg.eigvals(W * gains).real) < 1.0
    n_times, n_rest = truth.rates.shape[1], 200  # 400 ms of rest: 20 time constants
    out = rates_with_rest(W, truth.gains, truth.x0, truth.rates, params, n_rest)
    deviation = np.linalg.norm(out - params.r0_hz, axis=2)  # (condition, bin), Hz
    at_movement_end = deviation[:, n_times - 1]
    assert np.all(at_movement_end > 10.0)
    assert np.all(deviation[:, -1] < 1e-2 * at_movement_end)
    # and it keeps shrinking: the second half of the rest stays below the first
    half = n_times + n_rest // 2
    assert np.all(deviation[:, half:].max(axis=1) < deviation[:, n_times:half].max(axis=1))
    np.testing.assert_allclose(out[:, -1], params.r0_hz, rtol=0, atol=0.05)


def test_the_rest_of_an_unstable_network_does_not_return_to_baseline(rested):
    # the contrast to the stable case: W scaled past stability at baseline keeps its activity
    W, truth, params = rested
    unstable = 4.0 * W
    assert np.max(np.linalg.eigvals(unstable).real) > 1.0
    gains = np.ones((1, W.shape[0]))
    n_times, n_rest = truth.rates.shape[1], 200
    rates = reference_rates(unstable, gains, truth.x0, params, n_times)
    out = rates_with_rest(unstable, gains, truth.x0, rates, params, n_rest)
    expected = reference_rates(unstable, gains, truth.x0, params, n_times + n_rest)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-8)
    assert np.linalg.norm(out[0, -1] - params.r0_hz) > 10.0
