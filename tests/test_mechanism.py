"""Tests of hintforce.mechanism against independent computations and known properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
from scipy.optimize import brentq, minimize_scalar

from hintforce import mechanism
from hintforce.gain import phi, phi_derivative
from hintforce.mechanism import MechanismParams, RateSystem


def numeric_jacobian(system: RateSystem, x: np.ndarray, h: float) -> np.ndarray:
    """Central finite differences of F / tau (s^-1) at x, column by column."""
    n = x.size
    out = np.empty((n, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = h
        out[:, j] = (system.flow(x + e) - system.flow(x - e)) / (2 * h)
    return out / (1e-3 * system.tau_ms)


def sigma(A: np.ndarray, t: float) -> float:
    return float(np.linalg.norm(scipy.linalg.expm(A * t), 2))


def brute_peak(A: np.ndarray, t_max: float, n: int = 4001) -> tuple[float, float]:
    times = np.linspace(0.0, t_max, n)
    values = [sigma(A, t) for t in times]
    best = int(np.argmax(values))
    return values[best], float(times[best])


# ----------------------------------------------------------------------------------------------
# the network


def test_rnn_flow_and_jacobian_match_hand_and_finite_differences():
    rng = np.random.default_rng(0)
    n = 12
    J = 1.3 * rng.standard_normal((n, n)) / math.sqrt(n)
    system = RateSystem.rnn(J, tau_ms=50.0)
    x = rng.standard_normal(n)
    np.testing.assert_allclose(system.flow(x), -x + J @ np.tanh(x), rtol=1e-13, atol=1e-13)
    expected = (-np.eye(n) + J @ np.diag(1.0 - np.tanh(x) ** 2)) / 0.05
    np.testing.assert_allclose(system.jacobian(x), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(system.jacobian(x), numeric_jacobian(system, x, 1e-6), atol=1e-6)


def test_soc_jacobian_matches_phi_form_and_finite_differences():
    rng = np.random.default_rng(1)
    n, r0, rmax = 10, 20.0, 100.0
    W = rng.standard_normal((n, n)) / math.sqrt(n)
    gains = np.exp(0.3 * rng.standard_normal((3, n)))
    systems = RateSystem.soc(W, gains, tau_ms=200.0, r0_hz=r0, rmax_hz=rmax)
    assert len(systems) == 3
    x = 30.0 * rng.standard_normal(n)  # both branches of phi
    for g, system in zip(gains, systems, strict=True):
        np.testing.assert_allclose(system.rates(x), phi(g * x, r0, rmax))
        np.testing.assert_allclose(system.flow(x), -x + W @ phi(g * x, r0, rmax), atol=1e-12)
        expected = (-np.eye(n) + W @ np.diag(g * phi_derivative(g * x, r0, rmax))) / 0.2
        np.testing.assert_allclose(system.jacobian(x), expected, rtol=1e-12, atol=1e-12)
        numeric = numeric_jacobian(system, x, 1e-4)
        np.testing.assert_allclose(system.jacobian(x), numeric, atol=1e-6)


def test_batched_jacobian_stacks_single_ones():
    rng = np.random.default_rng(2)
    system = RateSystem.rnn(rng.standard_normal((5, 5)))
    xs = rng.standard_normal((3, 5))
    batched = system.jacobian(xs)
    for x, A in zip(xs, batched, strict=True):
        np.testing.assert_array_equal(A, system.jacobian(x))


def test_rate_system_rejects_bad_input():
    with pytest.raises(ValueError, match="square"):
        RateSystem.rnn(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="positive"):
        RateSystem(np.eye(2), np.array([1.0, 0.0]), 50.0)
    with pytest.raises(ValueError, match="nonlinearity"):
        RateSystem(np.eye(2), np.ones(2), 50.0, "relu")
    system = RateSystem.rnn(np.eye(2))
    assert not system.W.flags.writeable


# ----------------------------------------------------------------------------------------------
# local linear dynamics


def direct_henrici(A: np.ndarray) -> float:
    lam = np.linalg.eigvals(A)
    norm2 = np.sum(A**2)
    return math.sqrt(max(0.0, norm2 - np.sum(np.abs(lam) ** 2)) / norm2)


def test_local_dynamics_matches_eigvals():
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 40):
        A = rng.standard_normal((n, n)) - 0.5 * np.eye(n)
        lam = np.linalg.eigvals(A)
        for slow_s in (0.5, 1.0, 4.0):
            local = mechanism.local_dynamics(A, slow_s)
            assert local.abscissa == pytest.approx(lam.real.max(), abs=1e-10)
            assert local.slow_modes == np.count_nonzero(lam.real > -1.0 / slow_s)
            assert local.henrici == pytest.approx(direct_henrici(A), abs=1e-8)


def test_henrici_zero_for_normal_and_known_for_non_normal():
    rng = np.random.default_rng(4)
    S = rng.standard_normal((30, 30))
    assert mechanism.local_dynamics(S + S.T).henrici < 1e-7
    R = np.array([[-1.0, 3.0], [-3.0, -1.0]])  # normal with a complex pair
    assert mechanism.local_dynamics(R).henrici < 1e-12
    # Jordan-like block: ||A||^2 = 27, sum |lambda|^2 = 2
    jordan = mechanism.local_dynamics(np.array([[-1.0, 5.0], [0.0, -1.0]]))
    assert jordan.henrici == pytest.approx(math.sqrt(25.0 / 27.0), rel=1e-12)
    # complex pair +-2i (a 2x2 Schur block): ||A||^2 = 17, sum |lambda|^2 = 8
    block = mechanism.local_dynamics(np.array([[0.0, 4.0], [-1.0, 0.0]]))
    assert block.henrici == pytest.approx(math.sqrt(9.0 / 17.0), rel=1e-10)
    assert block.slow_modes == 2  # a complex pair counts two


def test_slow_modes_count_growing_modes_and_time_constants():
    A = np.diag([2.0, -0.5, -0.99, -1.01, -20.0])
    local = mechanism.local_dynamics(A, slow_s=1.0)
    assert local.slow_modes == 3
    assert local.abscissa == 2.0


# ----------------------------------------------------------------------------------------------
# transient amplification


def test_amplification_of_normal_stable_matrix_is_one_at_zero():
    rng = np.random.default_rng(5)
    S = rng.standard_normal((8, 8))
    A = -(S @ S.T) - 0.1 * np.eye(8)
    amp = mechanism.amplification(A)
    assert amp.peak == 1.0
    assert amp.time_s == 0.0
    assert brute_peak(A, 2.0, 201)[0] == pytest.approx(1.0)


@pytest.mark.parametrize("w", [3.0, 10.0, 40.0])
def test_amplification_of_two_by_two_non_normal_closed_form(w):
    A = np.array([[-1.0, w], [0.0, -1.0]])

    # sigma(t) = e^-t * largest singular value of [[1, w t], [0, 1]]
    def closed(t):
        return math.exp(-t) * (w * t / 2 + math.sqrt(1 + (w * t / 2) ** 2))

    best = minimize_scalar(
        lambda t: -closed(t), bounds=(1e-6, 2.0), method="bounded", options={"xatol": 1e-12}
    )
    amp = mechanism.amplification(A, t_max_s=2.0)
    assert amp.peak == pytest.approx(closed(best.x), rel=1e-9)
    assert amp.time_s == pytest.approx(best.x, rel=1e-5)
    assert amp.peak == pytest.approx(sigma(A, amp.time_s), rel=1e-12)


def test_amplification_matches_brute_force_grid():
    rng = np.random.default_rng(6)
    n = 12
    for trial in range(3):
        Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
        T = np.triu(rng.standard_normal((n, n)) * (2.0 + trial), 1)
        A = Q @ (T - np.diag(rng.uniform(1.0, 5.0, n))) @ Q.T / 0.05  # stable, non-normal
        amp = mechanism.amplification(A, t_max_s=0.5)
        peak, _ = brute_peak(A, 0.5)
        assert amp.peak > 1.0
        assert peak * (1 - 1e-12) <= amp.peak <= peak * (1 + 1e-4)
        assert amp.peak == pytest.approx(sigma(A, amp.time_s), rel=1e-10)


def test_amplification_of_unstable_matrix_peaks_at_horizon():
    A = np.array([[0.5, 2.0], [0.0, -1.0]])
    amp = mechanism.amplification(A, t_max_s=1.5)
    assert amp.time_s == 1.5
    assert amp.peak == pytest.approx(sigma(A, 1.5), rel=1e-12)


# ----------------------------------------------------------------------------------------------
# fixed points


@pytest.mark.parametrize("kind", ["tanh", "phi"])
def test_q_gradient_matches_finite_differences(kind):
    rng = np.random.default_rng(7)
    n = 9
    W = 1.5 * rng.standard_normal((n, n)) / math.sqrt(n)
    if kind == "tanh":
        system, scale = RateSystem.rnn(W), 1.0
    else:
        system, scale = RateSystem.soc(W, np.exp(0.3 * rng.standard_normal((1, n))))[0], 20.0
    x = scale * rng.standard_normal(n)
    q, grad = mechanism.q_and_gradient(system, x)
    assert q == pytest.approx(0.5 * np.sum((system.flow(x) / scale) ** 2), rel=1e-12)
    h = 1e-6 * scale
    numeric = np.empty(n)
    for j in range(n):
        e = np.zeros(n)
        e[j] = h
        numeric[j] = (
            mechanism.q_and_gradient(system, x + e)[0] - mechanism.q_and_gradient(system, x - e)[0]
        ) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9 / scale)
    qs, grads = mechanism.q_and_gradient(system, np.stack([x, 2 * x]))
    assert qs.shape == (2,) and grads.shape == (2, n)
    assert qs[0] == pytest.approx(q) and np.allclose(grads[0], grad)


def test_batched_lbfgs_minimises_independent_quadratics():
    rng = np.random.default_rng(8)
    k, n = 5, 6
    H = 50.0 * np.stack([m @ m.T + np.eye(n) for m in rng.standard_normal((k, n, n))])
    b = rng.standard_normal((k, n))
    calls = []

    def fun(x, rows):
        calls.append(len(rows))
        Hx = np.einsum("kij,kj->ki", H[rows], x)
        return 0.5 * np.vecdot(x, Hx) - np.vecdot(b[rows], x), Hx - b[rows]

    # gtol well above the round-off floor of these gradients (~1e-9 here): below it the Armijo
    # test compares differences of rounded f, and the number of backtracks depends on the
    # numpy build rather than on the method
    result = mechanism.batched_lbfgs(fun, np.zeros((k, n)), 200, gtol=1e-8)
    assert result.converged.all()
    np.testing.assert_allclose(result.x, np.linalg.solve(H, b[..., None])[..., 0], atol=1e-8)
    assert max(calls) == k  # one call evaluates every live problem
    assert len(calls) <= 60  # the scaled initial Hessian spares most backtracking


def test_no_coupling_has_one_stable_fixed_point_at_zero():
    rng = np.random.default_rng(9)
    system = RateSystem.rnn(np.zeros((6, 6)), tau_ms=50.0)
    found = mechanism.fixed_points(system, rng.standard_normal((50, 6)), rng=rng)
    assert (found.n_fixed, found.n_stable, found.n_slow, found.n_discarded) == (1, 1, 0, 0)
    np.testing.assert_allclose(found.states[0], 0.0, atol=1e-12)
    assert found.abscissa[0] == pytest.approx(-20.0)  # -1 / tau


def test_rank_one_self_excitation_has_three_fixed_points():
    rng = np.random.default_rng(10)
    n, a = 20, 2.0
    u = rng.standard_normal(n)
    u /= np.linalg.norm(u)
    system = RateSystem.rnn(a * np.outer(u, u))
    # x = c u with c = a sum_i u_i tanh(c u_i): 0 and +-c*
    c_star = brentq(lambda c: c - a * np.sum(u * np.tanh(c * u)), 0.1, 10.0 * a)
    states = rng.standard_normal((3, 40, n)) + np.linspace(-2, 2, 40)[None, :, None] * c_star * u
    found = mechanism.fixed_points(system, states, MechanismParams(n_starts=30), rng=rng)
    assert found.n_fixed == 3
    assert found.n_stable == 2
    along = np.sort(found.states @ u)
    np.testing.assert_allclose(along, [-c_star, 0.0, c_star], atol=1e-9)
    origin = int(np.argmin(np.linalg.norm(found.states, axis=1)))
    assert not found.stable[origin]
    assert found.abscissa[origin] == pytest.approx((a - 1.0) / 0.05)  # -I + a u u^T at 0


def test_independent_bistable_units_have_nine_fixed_points():
    # J = 2 I on two units: x_i = 2 tanh(x_i) has three roots per unit, 3^2 fixed points,
    # stable where both units sit at a non-zero root
    rng = np.random.default_rng(11)
    system = RateSystem.rnn(2.0 * np.eye(2))
    root = brentq(lambda x: x - 2 * np.tanh(x), 0.5, 3.0)
    found = mechanism.fixed_points(
        system, rng.uniform(-3, 3, (400, 2)), MechanismParams(n_starts=80), rng=rng
    )
    assert found.n_fixed == 9
    assert found.n_stable == 4
    expected = {(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)}
    assert {tuple(np.rint(p / root).astype(int)) for p in found.states} == expected
    np.testing.assert_allclose(np.abs(found.states[found.stable]), root, atol=1e-9)


def test_soc_rank_one_fixed_points_match_scalar_roots():
    rng = np.random.default_rng(12)
    n, a = 16, 3.0
    u = np.ones(n) / math.sqrt(n)
    system = RateSystem.soc(a * np.outer(u, u), np.ones((1, n)))[0]
    # per unit y = x_i: y = a phi(y), roots 0 and one on each branch of phi
    pos = brentq(lambda y: y - a * phi(y, 20.0, 100.0), 1.0, 1000.0)
    neg = brentq(lambda y: y - a * phi(y, 20.0, 100.0), -1000.0, -1.0)
    line = np.linspace(1.3 * neg, 1.3 * pos, 60)[:, None] * np.ones(n)
    states = line + 5.0 * rng.standard_normal((60, n))
    found = mechanism.fixed_points(system, states, MechanismParams(n_starts=40), rng=rng)
    assert found.n_fixed == 3 and found.n_stable == 2
    np.testing.assert_allclose(np.sort(found.states.mean(axis=1)), [neg, 0.0, pos], atol=1e-7)


def test_fixed_points_are_reproducible_with_a_seed():
    rng = np.random.default_rng(17)
    system = RateSystem.rnn(1.5 * rng.standard_normal((10, 10)) / math.sqrt(10))
    states = 2.0 * rng.standard_normal((100, 10))
    params = MechanismParams(n_starts=8, max_iterations=50)
    runs = [
        mechanism.fixed_points(system, states, params, np.random.default_rng(s)) for s in (3, 3, 4)
    ]
    assert np.array_equal(runs[0].states, runs[1].states)
    assert np.array_equal(runs[0].q, runs[1].q)
    assert not (runs[0].q.shape == runs[2].q.shape and np.array_equal(runs[0].q, runs[2].q))


def test_fixed_points_need_a_generator():
    system = RateSystem.rnn(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="Generator"):
        mechanism.fixed_points(system, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="Generator"):
        mechanism.fixed_points(system, np.zeros((3, 2)), rng=np.random.RandomState(0))


# ----------------------------------------------------------------------------------------------
# return to rest and measure()


def test_return_to_rest_is_the_rms_ratio():
    rng = np.random.default_rng(13)
    rates = rng.standard_normal((3, 30, 4))
    rates[2] = 0.0
    out = mechanism.return_to_rest(rates, slice(5, 15), slice(25, 30))
    for c in range(2):
        during = math.sqrt(np.mean(rates[c, 5:15] ** 2))
        after = math.sqrt(np.mean(rates[c, 25:30] ** 2))
        assert out[c] == pytest.approx(after / during, rel=1e-12)
    assert np.isnan(out[2])


def rnn_trajectories(rng, n=20, c=3, steps=60):
    J = 1.2 * rng.standard_normal((n, n)) / math.sqrt(n)
    x = rng.standard_normal((c, n))
    states = np.empty((c, steps, n))
    for k in range(steps):
        states[:, k] = x
        x = x + 0.2 * (-x + np.tanh(x) @ J.T)
    return RateSystem.rnn(J, 50.0), states


FAST = MechanismParams(n_starts=6, max_iterations=100, rest_window_ms=100.0)


def test_measure_shared_system_table():
    rng = np.random.default_rng(14)
    system, states = rnn_trajectories(rng)
    movement = slice(10, 30)
    table = mechanism.measure(system, states, movement, FAST, rng=np.random.default_rng(0))
    c = states.shape[0]
    assert (
        list(table.columns) == list(mechanism.MEASURE_COLUMNS) == ["measure", "condition", "value"]
    )
    assert len(table) == c * len(mechanism.MEASURES)
    assert list(table.measure.unique()) == list(mechanism.MEASURE_NAMES)
    assert (table.groupby("measure").condition.apply(list) == [list(range(c))] * 13).all()
    value = table.set_index(["measure", "condition"]).value
    # per-condition values against direct calls
    rates = np.tanh(states)
    expected = mechanism.return_to_rest(rates, movement, slice(50, 60))
    np.testing.assert_allclose(value["return_to_rest"].to_numpy(), expected)
    for i in range(c):
        local = mechanism.local_dynamics(system.jacobian(states[i, 29]), FAST.slow_s)
        assert value["abscissa_end", i] == local.abscissa
        assert value["henrici_end", i] == local.henrici
    # shared measures: one value repeated on every condition
    rest = mechanism.local_dynamics(system.jacobian(np.zeros(20)), FAST.slow_s)
    amp = mechanism.amplification(system.jacobian(np.zeros(20)))
    for name, v in [
        ("abscissa_rest", rest.abscissa),
        ("slow_modes_rest", rest.slow_modes),
        ("amplification_peak", amp.peak),
        ("amplification_time_s", amp.time_s),
    ]:
        np.testing.assert_array_equal(value[name].to_numpy(), v)
    for name in ("fixed_points", "stable_fixed_points", "slow_points", "discarded_starts"):
        assert value[name].nunique() == 1
    assert (  # the drawn starts and the rest state
        value["fixed_points"][0] + value["slow_points"][0] + value["discarded_starts"][0]
        <= FAST.n_starts + 1
    )
    again = mechanism.measure(system, states, movement, FAST, rng=np.random.default_rng(0))
    assert again.equals(table)  # determinism with a fixed seed


def test_measure_per_condition_systems():
    rng = np.random.default_rng(15)
    n, c = 12, 4
    W = 0.5 * rng.standard_normal((n, n)) / math.sqrt(n)
    gains = np.exp(0.5 * rng.standard_normal((c, n)))
    systems = RateSystem.soc(W, gains)
    states = np.empty((c, 40, n))
    x = 20.0 * rng.standard_normal((c, n))
    for k in range(40):
        states[:, k] = x
        x = x + 0.05 * (
            -x + np.stack([s.rates(xi) for s, xi in zip(systems, x, strict=True)]) @ W.T
        )
    table = mechanism.measure(
        systems, states, slice(0, 20), FAST, rng=rng, end=15, final=slice(30, 40)
    )
    value = table.set_index(["measure", "condition"]).value
    assert len(table) == c * len(mechanism.MEASURES)
    for i, system in enumerate(systems):
        A = system.jacobian(np.zeros(n))
        assert value["abscissa_rest", i] == mechanism.local_dynamics(A).abscissa
        assert value["amplification_peak", i] == mechanism.amplification(A).peak
        end = mechanism.local_dynamics(system.jacobian(states[i, 15]))
        assert value["abscissa_end", i] == end.abscissa
        # a weak stable W: the rest state is the only fixed point
        assert value["fixed_points", i] == 1 and value["stable_fixed_points", i] == 1
    assert value["abscissa_rest"].nunique() == c  # gains differ per condition
    rates = np.stack([s.rates(xs) for s, xs in zip(systems, states, strict=True)])
    np.testing.assert_allclose(
        value["return_to_rest"].to_numpy(),
        mechanism.return_to_rest(rates, slice(0, 20), slice(30, 40)),
    )


def test_measuring_networks_together_is_measuring_each_alone():
    rng = np.random.default_rng(17)
    networks = [mechanism.Trajectory(*rnn_trajectories(rng), slice(10, 30)) for _ in range(2)]
    networks.append(mechanism.Trajectory(*rnn_trajectories(rng, n=15), slice(5, 20), end=12))
    together = mechanism.measure_networks(
        networks, FAST, [np.random.default_rng(i) for i in range(3)]
    )
    for i, net in enumerate(networks):
        alone = mechanism.measure(
            net.systems, net.states, net.movement, FAST, np.random.default_rng(i), end=net.end
        )
        pd.testing.assert_frame_equal(together[i], alone, check_exact=False, rtol=1e-9)
    with pytest.raises(ValueError, match="one numpy.random.Generator per network"):
        mechanism.measure_networks(networks, FAST, [np.random.default_rng(0)])


def test_measure_rejects_mismatched_systems():
    system, states = rnn_trajectories(np.random.default_rng(16))
    with pytest.raises(ValueError, match="one per condition"):
        mechanism.measure([system] * 2, states, slice(0, 10), FAST, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="movement"):
        mechanism.measure(system, states, slice(70, 80), FAST, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="Generator"):
        mechanism.measure(system, states, slice(0, 10), FAST)
