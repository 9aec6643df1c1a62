"""The run's mechanism rows (hintforce.dynamics) and their statistics (hintforce.stats), against
independent computations from the networks' weights and from plain pandas/scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from hintforce import dynamics, findings, force, gain, mechanism, stats, study
from hintforce.seeding import generator
from hintforce.task import Task

C, T, N, M = 4, 20, 30, 3
TASK = Task(n_directions=C, n_times=T, bin_ms=10.0, prep_ms=50.0, rest_ms=50.0)
FORCE = force.ForceParams(n_units=24, n_passes=2, n_noisy_starts=1)
PARAMS = dynamics.DynamicsParams(free_run_ms=600.0, rest_window_ms=200.0, n_starts=6)


@pytest.fixture(scope="module")
def run():
    rng = np.random.default_rng(3)
    W = rng.normal(0.0, 0.6 / np.sqrt(N), (N, N))
    gains, x0 = np.exp(rng.normal(0.0, 0.2, (C, N))), rng.normal(0.0, 2.0, N)
    p = gain.GainParams(bin_ms=10.0, dt_ms=2.0)
    x = gain.simulate(W, gains, x0, p, (T - 1) * p.steps_per_bin)[:, :: p.steps_per_bin]
    rates = p.r0_hz + gain.phi(gains[:, None, :] * x, p.r0_hz, p.rmax_hz)
    soc = dynamics.SOC(W, gains, x0, p, rates)
    targets = rng.normal(0.0, 0.5, (C, TASK.n_window, M))
    models = {
        name: dynamics.Model(
            force.fit_model(name, TASK, targets, FORCE, generator(1, "force"), n_neurons=N),
            FORCE,
        )
        for name in (study.FLOOR, study.FF)
    }
    populations = {"all": np.arange(N), "observed": np.arange(9), "unobserved": np.arange(9, N)}
    reference = dynamics.soc_dynamics(soc, TASK, PARAMS, np.random.default_rng(1))
    table = dynamics.run_dynamics(
        soc, reference, models, TASK, populations, PARAMS, np.random.default_rng(0)
    )
    return soc, models, populations, table


def _value(table, model, measure):
    rows = table[(table["model"] == model) & (table["measure"] == measure)]
    return rows.sort_values("condition")["value"].to_numpy()


def test_the_rows_name_every_network_measure_and_condition(run):
    _, models, populations, table = run
    assert list(table.columns) == list(dynamics.COLUMNS)
    per_condition = table[table["condition"].notna()]
    for name in (study.CEILING, *models):
        rows = per_condition[per_condition["model"] == name]
        assert sorted(set(rows["measure"])) == sorted(mechanism.MEASURE_NAMES)
        assert rows.groupby("measure").size().eq(C).all()
    similarity = table[table["condition"].isna()]
    assert set(similarity["measure"]) == {dynamics.DSA_PREFIX + p for p in populations}
    assert (similarity["value"] >= 0).all()


def test_the_socs_rest_abscissa_is_that_of_its_weights_and_gains(run):
    soc, _, _, table = run
    p = soc.params
    for c, value in enumerate(_value(table, study.CEILING, "abscissa_rest")):
        slopes = soc.gains[c] * gain.phi_derivative(np.zeros(N), p.r0_hz, p.rmax_hz)
        A = (-np.eye(N) + soc.W * slopes[None, :]) / (1e-3 * p.tau_ms)
        assert value == pytest.approx(np.linalg.eigvals(A).real.max(), rel=1e-10)


def test_a_models_rest_abscissa_and_slow_modes_are_those_of_its_weights(run):
    _, models, _, table = run
    for name, model in models.items():
        eig = np.linalg.eigvals((-np.eye(FORCE.n_units) + model.fit.network.J) / 0.05)
        np.testing.assert_allclose(_value(table, name, "abscissa_rest"), eig.real.max())
        slow = np.count_nonzero(eig.real > -1.0 / PARAMS.slow_s)
        np.testing.assert_array_equal(_value(table, name, "slow_modes_rest"), slow)


def test_the_socs_return_to_rest_is_its_simulated_rms_ratio(run):
    soc, _, _, table = run
    p = soc.params
    n_bins = TASK.n_window + round(PARAMS.free_run_ms / TASK.bin_ms)
    x = gain.simulate(soc.W, soc.gains, soc.x0, p, (n_bins - 1) * p.steps_per_bin)
    x = x[:, :: p.steps_per_bin]
    rates = gain.phi(soc.gains[:, None, :] * x, p.r0_hz, p.rmax_hz)  # deviations from r0
    final = round(PARAMS.rest_window_ms / TASK.bin_ms)
    expected = [np.sqrt(np.mean(r[-final:] ** 2)) / np.sqrt(np.mean(r[:T] ** 2)) for r in rates]
    np.testing.assert_allclose(_value(table, study.CEILING, "return_to_rest"), expected)


def test_trajectory_rates_are_the_evaluations_bit_for_bit(run):
    _, models, _, _ = run
    trials = TASK.trials(np.arange(C))
    for model in models.values():
        states = force.trajectory(model.fit.network, trials, model.fit.shared, TASK.n_window, FORCE)
        ev = force.evaluate(
            model.fit.network,
            trials,
            model.fit.shared,
            np.random.default_rng(1).normal(size=(C, TASK.n_window, M)),
            FORCE,
        )
        np.testing.assert_array_equal(np.tanh(states[:, TASK.n_prep :]), ev.rates)


def test_the_figures_spectra_are_the_rest_jacobians_eigenvalues(run):
    soc, models, _, _ = run
    runs = dynamics.trajectories(soc, models, TASK, PARAMS.free_run_ms)
    spectra, traces, time_ms = dynamics.example_panels(runs, TASK)
    J = models[study.FF].fit.network.J
    expected = np.sort_complex(np.linalg.eigvals((-np.eye(FORCE.n_units) + J) / 0.05))
    np.testing.assert_allclose(np.sort_complex(spectra[study.FF]), expected, atol=1e-9)
    assert spectra[study.CEILING].size == C * N
    assert time_ms[0] == 0.0 and len(time_ms) == len(traces[study.FF])
    movement = traces[study.FF][:T]
    assert np.sqrt(np.mean(movement**2)) > 0


def test_a_soc_whose_stored_rates_its_weights_do_not_reproduce_is_refused(run):
    soc = run[0]
    changed = dynamics.SOC(soc.W, soc.gains, soc.x0, soc.params, soc.rates + 1e-3)
    with pytest.raises(ValueError, match="stored rates are not those of the stored W"):
        dynamics.soc_trajectory(changed, TASK)


def test_mechanism_rows_are_deterministic(run):
    soc, models, populations, table = run
    reference = dynamics.soc_dynamics(soc, TASK, PARAMS, np.random.default_rng(1))
    again = dynamics.run_dynamics(
        soc, reference, models, TASK, populations, PARAMS, np.random.default_rng(0)
    )
    pd.testing.assert_frame_equal(again, table)


def test_every_network_counts_its_rest_state_as_a_fixed_point_of_the_rest_stability(run):
    _, models, _, table = run
    for name in (study.CEILING, *models):
        fixed = _value(table, name, "fixed_points")
        stable = _value(table, name, "stable_fixed_points")
        rest_stable = _value(table, name, "abscissa_rest") < 0
        assert (fixed >= 1).all()
        assert (stable >= rest_stable).all()  # the rest is one of the stable ones when stable
        assert (fixed - stable >= ~rest_stable).all()  # ... one of the unstable ones otherwise


# ----------------------------------------------------------------------------------------------
# statistics of the mechanism rows


def _synthetic(seeds=(1, 2, 3, 4, 5), measures=("abscissa_rest", "return_to_rest")):
    rng = np.random.default_rng(9)
    axes = {a: 1.0 for a in study.AXIS_NAMES}
    rows = []
    for seed in seeds:
        for measure in measures:
            for model in (study.CEILING, *study.MODEL_NAMES):
                for c in range(2):
                    rows.append(
                        {
                            **axes,
                            study.SEED: seed,
                            "model": model,
                            "measure": measure,
                            "condition": c,
                            "value": rng.normal(),
                        }
                    )
            for model in study.MODEL_NAMES:
                rows.append(
                    {
                        **axes,
                        study.SEED: seed,
                        "model": model,
                        "measure": "dsa_all",
                        "condition": np.nan,
                        "value": rng.uniform(),
                    }
                )
    table = pd.DataFrame(rows)
    fit = table[[*study.AXIS_NAMES, "model"]].drop_duplicates()
    fit = fit[fit["model"] != study.CEILING].assign(start="clean", r2=1.0, passes_fit_gate=True)
    return table, fit


def test_distances_are_the_absolute_difference_of_condition_means_to_the_socs():
    table, fit = _synthetic()
    out = stats.dynamics_distances(table, fit)
    means = table.groupby([study.SEED, "model", "measure"])["value"].mean()
    for _, row in out.iterrows():
        value = means[(row[study.SEED], row["model"], row["measure"])]
        assert row["value"] == pytest.approx(value)
        if row["measure"] == "dsa_all":
            assert row["distance"] == pytest.approx(value)  # already a distance to the SOC
        else:
            soc = means[(row[study.SEED], study.CEILING, row["measure"])]
            assert row["distance"] == pytest.approx(abs(value - soc))


def test_a_model_failing_the_fit_gate_is_left_out():
    table, fit = _synthetic()
    failing = (fit["model"] == study.FFH) & (fit[study.SEED] == 2)
    fit.loc[failing, "passes_fit_gate"] = False
    out = stats.dynamics_distances(table, fit)
    assert out[(out["model"] == study.FFH) & (out[study.SEED] == 2)].empty
    assert len(out[out["model"] == study.FFH]) == 4 * 3  # 4 seeds x 3 measures


def test_contrasts_are_paired_tests_on_distance_with_closer_winning():
    table, fit = _synthetic()
    distances = stats.dynamics_distances(table, fit)
    tests = stats.paired_dynamics(distances)
    row = tests[(tests["measure"] == "abscissa_rest") & (tests["contrast"] == "ffh-ff")].iloc[0]
    d = distances[distances["measure"] == "abscissa_rest"].pivot(
        index=study.SEED, columns="model", values="distance"
    )
    assert row["mean_difference"] == pytest.approx((d[study.FFH] - d[study.FF]).mean())
    assert row["wins"] == int((d[study.FFH] < d[study.FF]).sum())
    assert row["ttest_p"] == pytest.approx(scipy.stats.ttest_rel(d[study.FFH], d[study.FF]).pvalue)
    summary = stats.summarise_dynamics(distances)
    mean = summary[
        (summary["model"] == study.FFH)
        & (summary["measure"] == "abscissa_rest")
        & (summary["quantity"] == "distance")
    ]["mean"]
    assert mean.item() == pytest.approx(d[study.FFH].mean())


def test_holm_runs_over_one_measures_contrasts_so_adding_a_measure_changes_no_row():
    table, fit = _synthetic(measures=("abscissa_rest",))
    more, more_fit = _synthetic(measures=("abscissa_rest", "return_to_rest"))
    one = stats.paired_dynamics(stats.dynamics_distances(table, fit))
    two = stats.paired_dynamics(stats.dynamics_distances(more, more_fit))
    mine = two[two["measure"] == "abscissa_rest"].reset_index(drop=True)
    # the draws differ between the two tables, so compare the family rule, not the values
    for frame in (one, mine):
        rows = frame[frame["measure"] == "abscissa_rest"]
        np.testing.assert_allclose(rows["holm_ttest_p"], stats.holm(rows["ttest_p"].to_numpy()))


def _report(shift):
    """The mechanism sentences of the synthetic table with every abscissa_rest moved by
    ``shift`` (and an amplification_peak measure)."""
    table, fit = _synthetic(measures=("abscissa_rest", "amplification_peak", "return_to_rest"))
    rest = table["measure"] == "abscissa_rest"
    table.loc[rest, "value"] += shift
    distances = stats.dynamics_distances(table, fit)
    tests = stats.paired_dynamics(distances)
    return findings.mechanism_sentences(stats.summarise_dynamics(distances), tests), table, tests


def test_mechanism_sentences_give_each_headline_measures_values_and_contrasts():
    sentences, table, tests = _report(0.0)
    for measure in ("abscissa_rest", "amplification_peak", "return_to_rest"):
        assert measure in findings.MECHANISM_HEADLINE
        (sentence,) = [s for s in sentences if s.startswith(f"{measure}:")]
        soc = table[(table.model == study.CEILING) & (table.measure == measure)]
        assert f"soc {soc.groupby(study.SEED).value.mean().mean():.3g}" in sentence
        row = tests[(tests.measure == measure) & (tests.contrast == "ffh-ff")].iloc[0]
        assert f"closer than FF in {int(row.wins)} of {int(row.n)} seeds" in sentence


def test_an_unstable_rest_is_said_to_make_the_amplification_peak_growth():
    stable = _report(-10.0)[0]  # every network's mean abscissa far below 0
    assert not any("is unstable" in s for s in stable)
    unstable = _report(+10.0)[0]
    (sentence,) = [s for s in unstable if "is unstable" in s]
    assert all(m in sentence for m in (study.CEILING, *study.MODEL_NAMES))
