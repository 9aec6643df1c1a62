import numpy as np
import pandas as pd
import pytest
import scipy.stats

from hintforce import study
from hintforce.stats import (
    CO_SMOOTHING_TRUTH,
    FIT_METRIC,
    check_runs,
    co_smoothing_validity,
    deciding_rows,
    fit_gate,
    holm,
    missing_runs,
    paired_study,
    paired_tests,
    summarise,
    summarise_co_smoothing,
    summarise_study,
)

pytestmark = pytest.mark.filterwarnings("error")

# t_{0.975, df} from a printed Student-t table (e.g. Abramowitz & Stegun, table 26.10)
T_975 = {1: 12.706204736174707, 3: 3.182446305284263, 4: 2.7764451051977987}


def _paired_table(ffh, ff, seeds_ffh=None, seeds_ff=None, **extra):
    seeds_ffh = range(len(ffh)) if seeds_ffh is None else seeds_ffh
    seeds_ff = range(len(ff)) if seeds_ff is None else seeds_ff
    rows = [("ffh", s, v) for s, v in zip(seeds_ffh, ffh, strict=True)]
    rows += [("ff", s, v) for s, v in zip(seeds_ff, ff, strict=True)]
    table = pd.DataFrame(rows, columns=["model", "seed", "value"])
    table["population"] = "unobserved"
    table["metric"] = "cca"
    table["k"] = 10
    for column, val in extra.items():
        table[column] = val
    return table


def _ffh_vs_ff(table, **kwargs):
    return paired_tests(table, a="ffh", b="ff", by=["population", "metric", "k"], **kwargs)


# ---------------------------------------------------------------------------------------------
# summarise


def test_summary_of_one_to_four_matches_the_hand_computation():
    table = pd.DataFrame({"model": "ff", "value": [1.0, 2.0, 3.0, 4.0]})
    row = summarise(table, ["model"]).iloc[0]
    sd = np.sqrt(5.0 / 3.0)  # squared deviations 2.25+0.25+0.25+2.25 = 5 over n-1 = 3
    assert row["n"] == 4
    assert row["mean"] == pytest.approx(2.5)
    assert row["sd"] == pytest.approx(1.2909944487358056, rel=1e-12)
    assert sd == pytest.approx(1.2909944487358056, rel=1e-12)
    half = T_975[3] * sd / 2.0
    assert row["ci_low"] == pytest.approx(2.5 - half, rel=1e-9)
    assert row["ci_high"] == pytest.approx(2.5 + half, rel=1e-9)
    assert row["ci_high"] == pytest.approx(4.5542602568, rel=1e-9)


def test_summary_has_the_specified_columns_one_row_per_sorted_group():
    table = pd.DataFrame(
        {
            "model": ["ffh", "ff", "ffh", "ff", "ff"],
            "k": [10, 10, 10, 10, 5],
            "value": [0.5, 0.2, 0.7, 0.4, 0.9],
        }
    )
    out = summarise(table, ["model", "k"])
    assert list(out.columns) == ["model", "k", "n", "mean", "sd", "ci_low", "ci_high"]
    assert list(zip(out.model, out.k, strict=True)) == [("ff", 5), ("ff", 10), ("ffh", 10)]
    assert list(out.n) == [1, 2, 2]
    ffh = out.iloc[2]
    assert ffh["mean"] == pytest.approx(0.6)
    assert ffh["sd"] == pytest.approx(np.sqrt(0.02))  # (0.1^2 + 0.1^2) / 1
    assert ffh["ci_high"] - ffh["mean"] == pytest.approx(T_975[1] * np.sqrt(0.02) / np.sqrt(2))


def test_summary_of_a_single_value_has_nan_spread_and_interval():
    out = summarise(pd.DataFrame({"g": ["a"], "value": [0.3]}), "g")
    row = out.iloc[0]
    assert row["n"] == 1 and row["mean"] == 0.3
    assert np.isnan(row["sd"]) and np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])


def test_summary_ignores_nan_values_and_keeps_an_all_nan_group():
    table = pd.DataFrame({"g": ["a", "a", "a", "b"], "value": [1.0, np.nan, 3.0, np.nan]})
    out = summarise(table, "g").set_index("g")
    assert out.loc["a", "n"] == 2 and out.loc["a", "mean"] == 2.0
    assert out.loc["b", "n"] == 0 and np.isnan(out.loc["b", "mean"])


def test_summary_of_identical_values_has_a_zero_width_interval():
    out = summarise(pd.DataFrame({"g": 1, "value": [0.4, 0.4, 0.4]}), ["g"]).iloc[0]
    assert out["sd"] == 0.0 and out["ci_low"] == out["ci_high"] == pytest.approx(0.4)


def test_summary_without_groups_summarises_the_whole_table():
    out = summarise(pd.DataFrame({"value": [1.0, 2.0, 3.0, 4.0, 5.0]}), [])
    assert list(out.columns) == ["n", "mean", "sd", "ci_low", "ci_high"]
    sd = np.sqrt(10.0 / 4.0)
    assert out.iloc[0]["ci_low"] == pytest.approx(3.0 - T_975[4] * sd / np.sqrt(5))


def test_summary_refuses_a_missing_column():
    with pytest.raises(ValueError, match="seed"):
        summarise(pd.DataFrame({"value": [1.0]}), ["seed"])


# ---------------------------------------------------------------------------------------------
# paired_tests


def test_paired_tests_have_the_specified_columns():
    out = _ffh_vs_ff(_paired_table([0.5, 0.6, 0.7], [0.4, 0.5, 0.4]))
    assert list(out.columns) == [
        "population",
        "metric",
        "k",
        "n",
        "mean_difference",
        "wins",
        "ties",
        "wilcoxon_p",
        "ttest_p",
        "wilcoxon_min_p",
    ]
    assert len(out) == 1


def test_five_wins_out_of_five_give_the_hand_computed_p_values():
    ff = np.array([0.30, 0.35, 0.40, 0.38, 0.42])
    d = np.array([0.01, 0.02, 0.03, 0.04, 0.05])
    row = _ffh_vs_ff(_paired_table(ff + d, ff)).iloc[0]
    assert row["n"] == 5 and row["wins"] == 5 and row["ties"] == 0
    assert row["mean_difference"] == pytest.approx(0.03)
    # all 5 signed ranks positive: exact two-sided p = 2 * (1 / 2**5)
    assert row["wilcoxon_p"] == pytest.approx(2 / 32)
    # t = mean / (sd / sqrt(n)) with sd = 0.01 * sqrt(2.5), df = 4
    t = 0.03 / (0.01 * np.sqrt(2.5) / np.sqrt(5))
    assert t == pytest.approx(4.242640687, rel=1e-9)
    assert row["ttest_p"] == pytest.approx(2 * scipy.stats.t.sf(t, 4), rel=1e-9)


def test_paired_tests_match_scipy_on_the_same_pairs():
    rng = np.random.default_rng(0)
    ff = rng.uniform(0.3, 0.5, 12)
    ffh = ff + rng.normal(0.05, 0.05, 12)
    row = _ffh_vs_ff(_paired_table(ffh, ff)).iloc[0]
    assert row["wilcoxon_p"] == pytest.approx(scipy.stats.wilcoxon(ffh, ff).pvalue, rel=1e-12)
    assert row["ttest_p"] == pytest.approx(scipy.stats.ttest_rel(ffh, ff).pvalue, rel=1e-12)
    assert row["wins"] == np.count_nonzero(ffh > ff)
    assert row["mean_difference"] == pytest.approx(np.mean(ffh - ff))


def test_pairing_by_seed_ignores_unmatched_seeds_and_row_order():
    ffh = {0: 0.9, 1: 0.5, 2: 0.6, 3: 0.7, 4: 0.55, 5: 0.2}
    ff = {6: 0.9, 4: 0.50, 3: 0.6, 2: 0.52, 1: 0.45}
    table = _paired_table(list(ffh.values()), list(ff.values()), list(ffh), list(ff))
    row = _ffh_vs_ff(table).iloc[0]
    seeds = [1, 2, 3, 4]
    a, b = np.array([ffh[s] for s in seeds]), np.array([ff[s] for s in seeds])
    assert row["n"] == 4
    assert row["mean_difference"] == pytest.approx(np.mean(a - b))
    assert row["ttest_p"] == pytest.approx(scipy.stats.ttest_rel(a, b).pvalue, rel=1e-12)
    assert row["wilcoxon_p"] == pytest.approx(scipy.stats.wilcoxon(a, b).pvalue, rel=1e-12)


def test_tied_pairs_are_counted_and_dropped_from_the_signed_ranks():
    ff = np.array([0.4, 0.4, 0.5, 0.3, 0.6, 0.2, 0.35, 0.45])
    d = np.array([0.0, 0.0, 0.1, 0.2, 0.3, -0.4, 0.5, 0.6])
    row = _ffh_vs_ff(_paired_table(ff + d, ff)).iloc[0]
    assert row["ties"] == 2 and row["wins"] == 5 and row["n"] == 8
    # the six non-zero differences alone: the negative one has rank 4, and 2 * #{subsets of
    # 1..6 with rank sum <= 4} / 2**6 = 2 * (1 + 1 + 1 + 2 + 2) / 64 (sums 0, 1, 2, 3, 4)
    assert row["wilcoxon_p"] == pytest.approx(2 * 7 / 64)
    assert row["wilcoxon_p"] == pytest.approx(scipy.stats.wilcoxon(d[2:]).pvalue, rel=1e-12)


def test_all_zero_differences_give_nan_p_values_without_warnings():
    ff = [0.4, 0.5, 0.6]
    row = _ffh_vs_ff(_paired_table(ff, ff)).iloc[0]
    assert row["ties"] == 3 and row["wins"] == 0 and row["mean_difference"] == 0.0
    assert np.isnan(row["wilcoxon_p"]) and np.isnan(row["ttest_p"])


def test_constant_nonzero_differences_give_a_nan_t_test_but_a_wilcoxon_p():
    ff = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    row = _ffh_vs_ff(_paired_table(ff + 0.25, ff)).iloc[0]
    assert np.isnan(row["ttest_p"])
    assert row["wilcoxon_p"] == pytest.approx(2 / 2**6)


@pytest.mark.parametrize(("n_ffh", "n_ff"), [(1, 1), (1, 0), (0, 3)])
def test_fewer_than_two_pairs_give_nan_p_values(n_ffh, n_ff):
    table = _paired_table([0.5, 0.6, 0.7][:n_ffh], [0.4, 0.3, 0.2][:n_ff])
    row = _ffh_vs_ff(table).iloc[0]
    assert row["n"] == min(n_ffh, n_ff)
    assert np.isnan(row["wilcoxon_p"]) and np.isnan(row["ttest_p"])


def test_paired_tests_group_by_every_requested_column():
    low = _paired_table([0.5, 0.6, 0.7], [0.4, 0.5, 0.6], neuron_fraction=0.1)
    high = _paired_table([0.9, 0.8, 0.95], [0.4, 0.5, 0.6], neuron_fraction=0.3)
    floor = _paired_table([0.1, 0.1, 0.1], [0.1, 0.1, 0.1], neuron_fraction=0.3)
    floor["model"] = floor["model"].map({"ffh": "floor", "ff": "other"})
    table = pd.concat([high, low, floor], ignore_index=True)
    out = paired_tests(table, a="ffh", b="ff", by=["neuron_fraction", "metric"])
    assert list(out.neuron_fraction) == [0.1, 0.3]
    np.testing.assert_allclose(out.mean_difference, [0.1, (0.5 + 0.3 + 0.35) / 3])
    assert list(out.n) == [3, 3]


def test_paired_tests_refuse_ambiguous_pairs():
    table = _paired_table([0.5, 0.6], [0.4, 0.5], seeds_ffh=[0, 0], seeds_ff=[0, 1])
    with pytest.raises(ValueError, match="more than one row"):
        _ffh_vs_ff(table)


def test_missing_runs_lists_exactly_the_expected_combinations_without_rows():
    expected = pd.DataFrame(
        [(s, m) for s in (1, 2, 3) for m in ("ff", "ffh")], columns=["seed", "model"]
    )
    table = pd.DataFrame(
        {"seed": [1, 1, 2, 3, 3, 3], "model": ["ff", "ffh", "ff", "ff", "ffh", "ffh"]}
    )
    missing = missing_runs(table, expected, ["seed", "model"])
    assert missing.to_dict("records") == [{"seed": 2, "model": "ffh"}]
    assert missing_runs(table.iloc[:0], expected, ["seed", "model"]).shape == (6, 2)


def test_check_runs_names_each_missing_run_and_refuses_unless_failures_are_allowed():
    axis_values = {a: [0.5] for a in study.AXIS_NAMES} | {study.SEED: [1, 2]}
    models = [study.FF, study.FFH]
    run = {a: v[0] for a, v in axis_values.items()}
    rows = [{**run, study.SEED: s, "model": m} for s in (1, 2) for m in models]
    complete = pd.DataFrame(rows)
    assert check_runs(complete, axis_values, models, allow_failed=False) == []
    table = complete.iloc[:3]  # seed 2's FFH is missing
    with pytest.raises(ValueError, match=r"^1 of 4 configured model runs have no results"):
        check_runs(table, axis_values, models, allow_failed=False)
    (label,) = check_runs(table, axis_values, models, allow_failed=True)
    *parts, model = label.split()
    assert model == study.FFH
    expected = {study.axis(a).key: str(v) for a, v in {**run, study.SEED: 2}.items()}
    assert dict(part.split("~") for part in parts) == expected


def test_paired_tests_count_wins_in_the_direction_the_metric_improves():
    ff = np.array([0.5, 0.6, 0.7, 0.8])
    ffh = ff + np.array([-0.1, -0.2, 0.1, -0.3])  # three distances fall, one rises
    rising = _ffh_vs_ff(_paired_table(ffh, ff)).iloc[0]
    falling = _ffh_vs_ff(_paired_table(ffh, ff), higher_is_better=False).iloc[0]
    assert rising["wins"] == 1 and falling["wins"] == 3
    assert falling["mean_difference"] == pytest.approx(-0.125)  # a - b whatever the direction
    assert falling["wilcoxon_p"] == rising["wilcoxon_p"]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_wilcoxon_min_p_is_the_exact_p_of_all_differences_of_one_sign(n):
    ff = np.linspace(0.1, 0.5, n)
    row = _ffh_vs_ff(_paired_table(ff + 0.01 * np.arange(1, n + 1), ff)).iloc[0]
    assert row["wilcoxon_min_p"] == pytest.approx(min(1.0, 2 / 2**n))
    if n >= 2:
        assert row["wilcoxon_p"] == pytest.approx(row["wilcoxon_min_p"])


def test_wilcoxon_min_p_counts_only_the_untied_pairs():
    ff = np.array([0.4, 0.4, 0.5, 0.3, 0.6, 0.2])
    d = np.array([0.0, 0.0, 0.1, 0.2, 0.3, 0.4])
    row = _ffh_vs_ff(_paired_table(ff + d, ff)).iloc[0]
    assert row["ties"] == 2 and row["wilcoxon_min_p"] == pytest.approx(2 / 2**4)


def test_paired_tests_without_by_compare_the_whole_table():
    out = paired_tests(_paired_table([0.5, 0.6, 0.8], [0.4, 0.5, 0.6]), a="ffh", b="ff")
    assert len(out) == 1 and out.iloc[0]["n"] == 3 and out.columns[0] == "n"


# ---------------------------------------------------------------------------------------------
# holm


def _holm_by_hand(p):
    """Holm's procedure as printed: step down the sorted p-values, multiplier m, m-1, ..."""
    tested = [(value, i) for i, value in enumerate(p) if not np.isnan(value)]
    tested.sort()
    m = len(tested)
    out = [np.nan] * len(p)
    running = 0.0
    for step, (value, i) in enumerate(tested):
        running = max(running, min(1.0, (m - step) * value))
        out[i] = running
    return out


def test_holm_matches_a_hand_computed_family():
    p = [0.01, 0.04, 0.03, np.nan, 0.005]
    # m = 4 tested: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04;
    # the running maximum makes the last 0.06; the NaN is not in the family
    expected = [0.03, 0.06, 0.06, np.nan, 0.02]
    np.testing.assert_allclose(holm(p), expected, rtol=1e-12)


def test_holm_caps_at_one_and_keeps_a_single_p():
    np.testing.assert_allclose(holm([0.6, 0.7]), [1.0, 1.0])
    np.testing.assert_allclose(holm([0.2]), [0.2])
    assert np.isnan(holm([np.nan, np.nan])).all() and holm([]).shape == (0,)


def test_holm_matches_the_step_down_procedure_on_random_families():
    rng = np.random.default_rng(1)
    for _ in range(20):
        p = rng.uniform(0, 0.2, rng.integers(1, 30))
        p[rng.uniform(size=p.size) < 0.2] = np.nan
        p[: p.size // 3] = np.round(p[: p.size // 3], 2)  # some tied p-values
        np.testing.assert_allclose(holm(p), _holm_by_hand(p), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# the study's tables

RUN = {
    "ground_truth_seed": 7,
    "muscle_fraction": 0.4,
    "seed": 1,
    "n_units": 50,
    "neuron_fraction": 0.3,
    "hint_gain": 0.3,
}
KEY = {"population": "unobserved", "k": 5, "component": "full", "validation": "in_sample"}
MIN_R2 = 0.9
CELL = [a for a in RUN if a != "seed"]


def _study(values, failing=(), metric="cca", r2=None):
    """Similarity and gated fit tables of one cell.

    ``values`` maps a model to ``{(ground_truth_seed, seed): value}``; ``failing`` holds the
    ``(model, ground_truth_seed, seed)`` whose clean R² is below the gate; ``r2`` optionally
    maps ``(model, ground_truth_seed, seed)`` to a clean R² (noisy = clean - 0.1).
    """
    rows, fit = [], []
    for name, by_run in values.items():
        for (gt, seed), value in by_run.items():
            run = {**RUN, "ground_truth_seed": gt, "seed": seed}
            null = value / 4
            rows.append(
                {**run, **KEY, "model": name, "metric": metric, "value": value}
                | {"null_mean": null, "null_p": 0.01, "above_null": value - null}
            )
            if name in study.REFERENCES:
                continue
            clean = (r2 or {}).get((name, gt, seed), 0.95)
            if (name, gt, seed) in failing:
                clean = 0.5
            store = {a: (v if a in study.model(name).axes else np.nan) for a, v in run.items()}
            for start, value_r2 in zip(study.STARTS, (clean, clean - 0.1), strict=True):
                fit.append({**store, "model": name, "start": start, "r2": value_r2})
    similarity = pd.DataFrame(rows)[[*RUN, *study.SIMILARITY_COLUMNS]]
    fit = pd.DataFrame(fit).drop_duplicates(ignore_index=True)
    return similarity, fit_gate(fit, MIN_R2)


def _one(table, **match):
    rows = table
    for column, value in match.items():
        rows = rows[rows[column].isna()] if value is None else rows[rows[column] == value]
    assert len(rows) == 1, f"{len(rows)} rows match {match}"
    return rows.iloc[0]


def _seeds(*values, gt=7):
    return {(gt, seed): value for seed, value in enumerate(values, start=1)}


# fit_gate


def test_fit_gate_flags_both_rows_of_a_store_by_its_clean_r2():
    fit = pd.DataFrame(
        [
            {**RUN, "seed": seed, "model": "ffh", "start": start, "r2": r2}
            for seed, clean in ((1, 0.95), (2, MIN_R2), (3, 0.89), (4, np.nan))
            for start, r2 in (("clean", clean), ("noisy", 0.99))
        ]
    )
    out = fit_gate(fit, MIN_R2)
    assert list(out.columns) == [*RUN, *study.FIT_COLUMNS]
    flags = out.groupby("seed")["passes_fit_gate"].agg(["all", "any"])
    assert list(flags["all"]) == list(flags["any"]) == [True, True, False, False]


def test_fit_gate_flags_a_shared_store_on_every_run_that_repeats_it():
    rows = [
        {**RUN, "neuron_fraction": nf, "model": "ff", "start": start, "r2": r2}
        for nf in (0.1, 0.3)
        for start, r2 in (("clean", 0.5), ("noisy", 0.95))
    ]
    assert not fit_gate(pd.DataFrame(rows), MIN_R2)["passes_fit_gate"].any()
    rows[2]["r2"] = 0.95  # the same FF store (FF does not depend on nf) with another R²
    with pytest.raises(ValueError, match="more than one row"):
        fit_gate(pd.DataFrame(rows), MIN_R2)


def test_fit_gate_refuses_a_store_without_a_clean_start():
    fit = pd.DataFrame([{**RUN, "model": "ffh", "start": "noisy", "r2": 0.95}])
    with pytest.raises(ValueError, match="no clean-start row"):
        fit_gate(fit, MIN_R2)


# summarise_study


def test_summary_has_exactly_the_reported_columns():
    similarity, fit = _study({"ffh": _seeds(0.5, 0.6), "ff": _seeds(0.4, 0.5)})
    out = summarise_study(similarity, fit)
    assert list(out.columns) == [
        "ground_truth_seed",
        "muscle_fraction",
        "n_units",
        "neuron_fraction",
        "hint_gain",
        "model",
        "population",
        "metric",
        "k",
        "component",
        "validation",
        "start",
        "quantity",
        "n",
        "n_over",
        "n_excluded",
        "mean",
        "sd",
        "ci_low",
        "ci_high",
    ]
    assert list(out.columns) == [*CELL, *study.ROW_KEYS, "start", *study.SUMMARY_COLUMNS]
    # per model: 3 similarity quantities and 2 fit starts, all over seeds of the one circuit
    assert len(out) == 2 * 5 and set(out["n_over"]) == {"seed"}


def test_summary_per_circuit_rows_summarise_each_quantity_over_seeds():
    values = [0.5, 0.6, 0.7, 0.8]
    similarity, fit = _study({"ffh": _seeds(*values)})
    out = summarise_study(similarity, fit)
    for quantity, scale in (("value", 1.0), ("null_mean", 0.25), ("above_null", 0.75)):
        row = _one(out, model="ffh", metric="cca", quantity=quantity)
        expected = summarise(pd.DataFrame({"value": np.array(values) * scale}), []).iloc[0]
        assert row["n"] == 4 and row["n_excluded"] == 0 and row["ground_truth_seed"] == 7
        for column in ("mean", "sd", "ci_low", "ci_high"):
            assert row[column] == pytest.approx(expected[column], rel=1e-12)
    assert _one(out, model="ffh", metric="cca", quantity="value")["mean"] == pytest.approx(0.65)


def test_summary_excludes_models_failing_the_fit_gate_but_never_reference_rows():
    values = _seeds(0.5, 0.6, 0.7, 0.9)
    similarity, fit = _study(
        {"ffh": values, "ff": _seeds(0.4, 0.4, 0.5, 0.5), "soc": _seeds(1.0, 0.9, 0.8, 0.7)},
        failing={("ffh", 7, 4), ("ff", 7, 4)},  # every model of seed 4 fails
    )
    out = summarise_study(similarity, fit)
    ffh = _one(out, model="ffh", metric="cca", quantity="value")
    assert ffh["n"] == 3 and ffh["n_excluded"] == 1 and ffh["mean"] == pytest.approx(0.6)
    soc = _one(out, model="soc", metric="cca", quantity="value")
    assert soc["n"] == 4 and soc["n_excluded"] == 0 and soc["mean"] == pytest.approx(0.85)
    for start in study.STARTS:  # the fit rows of a failing store are excluded too
        fit_row = _one(out, model="ff", metric=FIT_METRIC, start=start)
        assert fit_row["n"] == 3 and fit_row["n_excluded"] == 1


def test_summary_fit_rows_hold_the_r2_of_each_start_with_empty_similarity_keys():
    r2 = {("ffh", 7, 1): 0.91, ("ffh", 7, 2): 0.97, ("ffh", 7, 3): 0.99}
    similarity, fit = _study({"ffh": _seeds(0.5, 0.6, 0.7)}, r2=r2)
    out = summarise_study(similarity, fit)
    fit_rows = out[out["metric"] == FIT_METRIC]
    assert sorted(fit_rows["start"]) == sorted(study.STARTS)
    assert set(fit_rows["quantity"]) == {"value"}
    assert fit_rows[["population", "k", "component", "validation"]].isna().all().all()
    clean = _one(fit_rows, start="clean")
    assert clean["mean"] == pytest.approx(np.mean([0.91, 0.97, 0.99]))
    assert _one(fit_rows, start="noisy")["mean"] == pytest.approx(clean["mean"] - 0.1)
    assert out.loc[out["metric"] != FIT_METRIC, "start"].isna().all()


def test_cross_circuit_rows_average_seeds_within_each_circuit_first():
    ffh = {**_seeds(0.1, 0.2, 0.3, gt=1), **_seeds(0.9, 0.5, 0.5, gt=2)}
    ff = {**_seeds(0.1, 0.1, 0.1, gt=1), **_seeds(0.2, 0.2, 0.2, gt=2)}
    failing = {("ffh", 2, 2), ("ffh", 2, 3), ("ff", 2, 1), ("ff", 2, 2), ("ff", 2, 3)}
    similarity, fit = _study({"ffh": ffh, "ff": ff}, failing=failing)
    out = summarise_study(similarity, fit)
    cross = out[out["n_over"] == "ground_truth_seed"]
    assert cross["ground_truth_seed"].isna().all()
    assert len(out) == 3 * len(cross)  # per-circuit rows for circuits 1 and 2, cross rows
    row = _one(cross, model="ffh", metric="cca", quantity="value")
    # circuit means 0.2 (seeds 1-3) and 0.9 (seed 1; seeds 2 and 3 excluded); the pooled mean
    # of the four included seeds would be (0.1 + 0.2 + 0.3 + 0.9) / 4 = 0.375
    assert row["mean"] == pytest.approx(0.55) and row["n"] == 2
    assert row["sd"] == pytest.approx(0.7 / np.sqrt(2))
    assert row["ci_high"] == pytest.approx(0.55 + T_975[1] * 0.7 / 2)
    assert row["n_excluded"] == 0  # no circuit lost every seed
    per_circuit = _one(out, model="ffh", metric="cca", quantity="value", ground_truth_seed=2)
    assert per_circuit["n"] == 1 and per_circuit["n_excluded"] == 2
    lost = _one(cross, model="ff", metric="cca", quantity="value")  # circuit 2 lost every seed
    assert lost["n"] == 1 and lost["n_excluded"] == 1 and lost["mean"] == pytest.approx(0.1)


def test_summary_refuses_similarity_rows_without_a_fit_row():
    similarity, fit = _study({"ffh": _seeds(0.5, 0.6)})
    with pytest.raises(ValueError, match="without a fit-table row"):
        summarise_study(similarity, fit[fit["seed"] != 2])


def test_summary_refuses_an_unknown_model():
    similarity, fit = _study({"ffh": _seeds(0.5, 0.6)})
    similarity.loc[0, "model"] = "lstm"
    with pytest.raises(ValueError, match="unknown model"):
        summarise_study(similarity, fit)


# paired_study

PAIRED = [
    "ground_truth_seed",
    "muscle_fraction",
    "n_units",
    "neuron_fraction",
    "hint_gain",
    "population",
    "metric",
    "k",
    "component",
    "validation",
    "start",
    "contrast",
    "n",
    "n_over",
    "mean_difference",
    "wins",
    "ties",
    "wilcoxon_p",
    "ttest_p",
    "holm_wilcoxon_p",
    "holm_ttest_p",
    "wilcoxon_min_p",
]


def _paired_study(values, **kwargs):
    tables = [_study(values, metric=metric, **kwargs) for metric in ("cca", "procrustes")]
    similarity = pd.concat([t[0] for t in tables], ignore_index=True)
    return paired_study(similarity, tables[0][1])


def test_paired_table_has_exactly_the_reported_columns_and_one_row_per_contrast_key():
    ffh, ff = _seeds(0.5, 0.6, 0.7), _seeds(0.4, 0.5, 0.6)
    out = _paired_study({"ffh": ffh, "ff": ff, "ffh_mean": ff, "ffh_shuffled": ff})
    assert list(out.columns) == PAIRED
    model_free_keys = [key for key in study.ROW_KEYS if key != "model"]
    assert list(out.columns) == [*CELL, *model_free_keys, "start", *study.PAIRED_COLUMNS]
    assert sorted(set(out["contrast"])) == sorted(f"{a}-{b}" for a, b in study.CONTRASTS)
    assert len(out) == len(study.CONTRASTS) * (2 + len(study.STARTS))  # 2 metrics, 2 starts
    assert set(out["n_over"]) == {"seed"} and set(out["n"]) == {3}


def test_paired_wins_follow_the_metric_direction():
    ff = np.array([0.40, 0.45, 0.50, 0.55, 0.60])
    ffh = ff - np.array([0.01, 0.02, 0.03, 0.04, 0.05])  # lower: worse for cca, better distance
    out = _paired_study({"ffh": _seeds(*ffh), "ff": _seeds(*ff)})
    cca = _one(out, metric="cca")
    procrustes = _one(out, metric="procrustes")
    assert cca["wins"] == 0 and procrustes["wins"] == 5
    assert cca["mean_difference"] == procrustes["mean_difference"] == pytest.approx(-0.03)
    assert procrustes["wilcoxon_p"] == pytest.approx(scipy.stats.wilcoxon(ffh, ff).pvalue)
    assert procrustes["ttest_p"] == pytest.approx(scipy.stats.ttest_rel(ffh, ff).pvalue)
    assert procrustes["wilcoxon_min_p"] == pytest.approx(2 / 2**5)


def test_paired_fit_rows_compare_the_r2_of_each_start():
    r2 = {("ffh", 7, s): v for s, v in ((1, 0.92), (2, 0.93), (3, 0.97))}
    r2 |= {("ff", 7, s): v for s, v in ((1, 0.95), (2, 0.96), (3, 0.99))}
    out = _paired_study({"ffh": _seeds(0.5, 0.6, 0.7), "ff": _seeds(0.4, 0.5, 0.6)}, r2=r2)
    for start in study.STARTS:
        row = _one(out, metric=FIT_METRIC, start=start)
        assert row["mean_difference"] == pytest.approx(-0.0266666666667)
        assert row["wins"] == 0 and row["n"] == 3  # R² improves when it rises
        assert pd.isna(row["population"]) and pd.isna(row["k"])
    assert out.loc[out["metric"] != FIT_METRIC, "start"].isna().all()


def test_a_pair_is_excluded_when_either_model_fails_the_fit_gate():
    ffh, other = _seeds(0.5, 0.6, 0.7, 0.8, 0.9), _seeds(0.4, 0.5, 0.6, 0.7, 0.7)
    out = _paired_study(
        {"ffh": ffh, "ff": other, "ffh_mean": other},
        failing={("ffh", 7, 5), ("ff", 7, 4)},
    )
    versus_ff = _one(out, metric="cca", contrast="ffh-ff")
    versus_mean = _one(out, metric="cca", contrast="ffh-ffh_mean")
    assert versus_ff["n"] == 3 and versus_ff["wilcoxon_min_p"] == pytest.approx(2 / 2**3)
    assert versus_mean["n"] == 4 and versus_mean["wilcoxon_min_p"] == pytest.approx(2 / 2**4)
    assert versus_ff["mean_difference"] == pytest.approx(0.1)
    assert not (out["contrast"] == "ffh-ffh_shuffled").any()  # no ffh_shuffled rows at all


def test_holm_columns_adjust_over_the_contrasts_of_one_cell_and_score():
    ff = _seeds(0.40, 0.45, 0.50, 0.55, 0.60, 0.65)
    ffh = _seeds(0.50, 0.52, 0.61, 0.62, 0.70, 0.76)
    mean = _seeds(0.45, 0.55, 0.52, 0.60, 0.66, 0.68)
    out = _paired_study({"ffh": ffh, "ff": ff, "ffh_mean": mean})
    keys = ["population", "metric", "k", "component", "validation", "start"]
    families = out.groupby(keys, dropna=False)
    assert families.size().eq(2).all()  # ffh - ff and ffh - ffh_mean of each score
    for _, family in families:
        for column in ("wilcoxon_p", "ttest_p"):
            np.testing.assert_allclose(family[f"holm_{column}"], holm(family[column]))


def test_adding_unrelated_rows_leaves_the_headline_adjusted_p_unchanged():
    """A new k (more rows of other scores) is a family of its own: the headline's Holm p,
    like every other row's, is unchanged."""
    ff = _seeds(0.40, 0.45, 0.50, 0.55, 0.60, 0.65)
    ffh = _seeds(0.50, 0.52, 0.61, 0.62, 0.70, 0.76)
    mean = _seeds(0.45, 0.55, 0.52, 0.60, 0.66, 0.68)
    tables = [
        _study({"ffh": ffh, "ff": ff, "ffh_mean": mean}, metric=metric)
        for metric in ("cca", "procrustes")
    ]
    similarity = pd.concat([t[0] for t in tables], ignore_index=True)
    fit = tables[0][1]
    more = similarity.assign(k=15, value=similarity["value"] * 0.9)
    before = paired_study(similarity, fit)
    after = paired_study(pd.concat([similarity, more], ignore_index=True), fit)
    assert len(after) > len(before)
    keys = ["contrast", "population", "metric", "k", "component", "validation", "start"]
    merged = before.merge(after, on=keys, suffixes=("", "_after"))
    assert len(merged) == len(before)
    for column in ("holm_ttest_p", "holm_wilcoxon_p"):
        np.testing.assert_array_equal(merged[column], merged[f"{column}_after"])


def test_paired_rows_over_several_circuits_pair_the_circuit_means():
    ffh = {**_seeds(0.5, 0.6, 0.7, gt=1), **_seeds(0.9, 0.3, 0.3, gt=2), **_seeds(0.4, gt=3)}
    ff = {**_seeds(0.4, 0.4, 0.4, gt=1), **_seeds(0.5, 0.5, 0.1, gt=2), **_seeds(0.5, gt=3)}
    failing = {("ffh", 2, 2), ("ff", 2, 3)}  # circuit 2 keeps only seed 1's pair
    out = _paired_study({"ffh": ffh, "ff": ff}, failing=failing)
    assert set(out["n_over"]) == {"ground_truth_seed"}
    assert out["ground_truth_seed"].isna().all()
    row = _one(out, metric="cca")
    differences = [0.6 - 0.4, 0.9 - 0.5, 0.4 - 0.5]
    assert row["n"] == 3 and row["wins"] == 2
    assert row["mean_difference"] == pytest.approx(np.mean(differences))
    assert row["ttest_p"] == pytest.approx(scipy.stats.ttest_1samp(differences, 0).pvalue)
    assert row["wilcoxon_min_p"] == pytest.approx(0.25)


def test_paired_study_refuses_ambiguous_rows():
    similarity, fit = _study({"ffh": _seeds(0.5, 0.6), "ff": _seeds(0.4, 0.5)})
    with pytest.raises(ValueError, match="more than one row"):
        paired_study(pd.concat([similarity, similarity.iloc[:1]], ignore_index=True), fit)


# ---------------------------------------------------------------------------------------------
# held-out reach directions

HOD = study.HELD_OUT_DIRECTIONS
TRAIN_SET, HELD_SET = study.DIRECTION_SETS


def test_deciding_rows_are_the_clean_start_and_with_directions_the_training_ones():
    starts = ["clean", "noisy", "clean", "noisy", "noisy", "clean"]
    fit = pd.DataFrame({**RUN, "model": "ffh", "start": starts, "r2": 0.9})
    assert deciding_rows(fit).tolist() == [True, False, True, False, False, True]
    directions = ["train", "train", "held_out", "held_out", "train", "train"]
    held = fit.assign(**{study.DIRECTIONS: directions})
    out = deciding_rows(held)
    assert isinstance(out, np.ndarray) and out.dtype == bool
    assert out.tolist() == [True, False, False, False, False, True]
    # a non-default index changes nothing: the flags are positional
    assert deciding_rows(held.set_index(pd.Index([9, 3, 5, 1, 0, 7]))).tolist() == out.tolist()


def _held_out_study(r2, values=None, failing=(), models=("ffh", "ff")):
    """Similarity and gated fit tables of one cell of a study that holds directions out.

    ``r2`` maps ``(model, directions, start)`` to the R² of seeds 1, 2, ... (one list);
    ``values`` optionally maps ``(model, validation)`` to the similarity values of the seeds
    (default: 0.5 everywhere, on ``cross_validated`` and ``held_out_directions``);
    ``failing`` holds ``(model, seed)`` whose training clean R² is set below the gate.
    """
    n_seeds = len(next(iter(r2.values())))
    rows, fit = [], []
    runs = [(name, seed) for name in models for seed in range(1, n_seeds + 1)]
    for name, seed in runs:
        run = {**RUN, "seed": seed}
        for validation in ("cross_validated", HOD):
            value = (values or {}).get((name, validation), [0.5] * n_seeds)[seed - 1]
            rows.append(
                {**run, **KEY, "validation": validation, "model": name, "metric": "cca"}
                | {"value": value, "null_mean": 0.0, "null_p": 0.01, "above_null": value}
            )
        store = {a: (v if a in study.model(name).axes else np.nan) for a, v in run.items()}
        cells = [(d, start) for d in study.DIRECTION_SETS for start in study.STARTS]
        for directions, start in cells:
            value_r2 = r2[(name, directions, start)][seed - 1]
            if (name, seed) in failing and (directions, start) == (TRAIN_SET, "clean"):
                value_r2 = MIN_R2 - 0.3
            fit.append(
                {**store, "model": name, "start": start, study.DIRECTIONS: directions}
                | {"r2": value_r2}
            )
    similarity = pd.DataFrame(rows)[[*RUN, *study.SIMILARITY_COLUMNS]]
    return similarity, fit_gate(pd.DataFrame(fit), MIN_R2)


#: Seeds 1-6: training R² passes the gate; held-out R² far lower and FFH mostly better.
HELD_R2 = {
    ("ffh", TRAIN_SET, "clean"): [0.96, 0.95, 0.97, 0.94, 0.98, 0.95],
    ("ffh", TRAIN_SET, "noisy"): [0.90, 0.88, 0.91, 0.87, 0.93, 0.90],
    ("ffh", HELD_SET, "clean"): [0.61, 0.55, 0.70, 0.48, 0.66, 0.58],
    ("ffh", HELD_SET, "noisy"): [0.52, 0.44, 0.61, 0.40, 0.60, 0.47],
    ("ff", TRAIN_SET, "clean"): [0.97, 0.96, 0.95, 0.96, 0.97, 0.94],
    ("ff", TRAIN_SET, "noisy"): [0.91, 0.90, 0.89, 0.92, 0.90, 0.88],
    ("ff", HELD_SET, "clean"): [0.40, 0.57, 0.45, 0.41, 0.50, 0.39],
    ("ff", HELD_SET, "noisy"): [0.33, 0.46, 0.42, 0.30, 0.43, 0.35],
}


def test_fit_gate_with_directions_is_decided_by_the_training_clean_r2_only():
    r2 = {
        ("ffh", TRAIN_SET, "clean"): [0.95, 0.5],
        ("ffh", TRAIN_SET, "noisy"): [0.3, 0.3],
        ("ffh", HELD_SET, "clean"): [0.2, 0.99],  # would flip both seeds if it decided
        ("ffh", HELD_SET, "noisy"): [0.1, 0.1],
    }
    _, fit = _held_out_study(r2, models=("ffh",))
    flags = fit.groupby("seed")["passes_fit_gate"].agg(["all", "any"])
    assert flags["all"].tolist() == flags["any"].tolist() == [True, False]


def test_summary_of_held_out_r2_is_validated_on_the_held_out_directions():
    similarity, fit = _held_out_study(HELD_R2)
    out = summarise_study(similarity, fit)
    fit_rows = out[out["metric"] == FIT_METRIC]
    # per model: 2 starts x 2 sets of directions, each told apart by its validation only
    assert len(fit_rows) == 2 * len(study.STARTS) * len(study.DIRECTION_SETS)
    assert set(fit_rows["validation"].dropna()) == {HOD}
    assert study.DIRECTIONS not in out.columns
    for (name, directions, start), r2 in HELD_R2.items():
        validation = HOD if directions == HELD_SET else None
        row = _one(fit_rows, model=name, start=start, validation=validation)
        r2 = np.array(r2)
        half = scipy.stats.t.ppf(0.975, r2.size - 1) * r2.std(ddof=1) / np.sqrt(r2.size)
        assert row["n"] == r2.size and row["n_excluded"] == 0
        assert row["mean"] == pytest.approx(r2.mean(), rel=1e-12)
        assert row["sd"] == pytest.approx(r2.std(ddof=1), rel=1e-12)
        assert row["ci_low"] == pytest.approx(r2.mean() - half, rel=1e-12)
        assert row["ci_high"] == pytest.approx(r2.mean() + half, rel=1e-12)
        assert row[["population", "k", "component"]].isna().all()
    # the similarity rows keep their own validations
    sim = out[(out["metric"] == "cca") & (out["quantity"] == "value")]
    assert sorted(sim["validation"]) == sorted(["cross_validated", HOD] * 2)


def test_paired_ffh_minus_ff_on_held_out_r2_matches_scipy_on_the_seeds():
    similarity, fit = _held_out_study(HELD_R2)
    out = paired_study(similarity, fit)
    held = out[(out["metric"] == FIT_METRIC) & (out["validation"] == HOD)]
    assert sorted(held["start"]) == sorted(study.STARTS)
    assert set(held["contrast"]) == {"ffh-ff"}
    for start in study.STARTS:
        a = np.array(HELD_R2[("ffh", HELD_SET, start)])
        b = np.array(HELD_R2[("ff", HELD_SET, start)])
        row = _one(held, start=start)
        assert row["n"] == a.size and row["n_over"] == "seed"
        assert row["mean_difference"] == pytest.approx(np.mean(a - b), rel=1e-12)
        assert row["wins"] == np.count_nonzero(a > b) == 5
        assert row["ties"] == 0
        assert row["ttest_p"] == pytest.approx(scipy.stats.ttest_rel(a, b).pvalue, rel=1e-12)
        assert row["wilcoxon_p"] == pytest.approx(scipy.stats.wilcoxon(a, b).pvalue, rel=1e-12)
    # the training directions' contrast is its own row, on the training R²
    train = _one(out, metric=FIT_METRIC, validation=None, start="clean")
    a = np.array(HELD_R2[("ffh", TRAIN_SET, "clean")])
    b = np.array(HELD_R2[("ff", TRAIN_SET, "clean")])
    assert train["mean_difference"] == pytest.approx(np.mean(a - b), rel=1e-12)
    assert train["ttest_p"] == pytest.approx(scipy.stats.ttest_rel(a, b).pvalue, rel=1e-12)
    # one contrast per score here: each family holds one p, which Holm leaves as it is
    np.testing.assert_allclose(out["holm_ttest_p"], out["ttest_p"])


def test_a_store_failing_the_gate_leaves_its_held_out_r2_out_of_summary_and_pairs():
    similarity, fit = _held_out_study(HELD_R2, failing={("ffh", 3)})
    kept = np.array([0, 1, 3, 4, 5])  # seed 3 left out
    summary = summarise_study(similarity, fit)
    row = _one(summary, model="ffh", metric=FIT_METRIC, start="clean", validation=HOD)
    assert row["n"] == 5 and row["n_excluded"] == 1
    a = np.array(HELD_R2[("ffh", HELD_SET, "clean")])[kept]
    b = np.array(HELD_R2[("ff", HELD_SET, "clean")])[kept]
    assert row["mean"] == pytest.approx(a.mean(), rel=1e-12)
    pair = _one(paired_study(similarity, fit), metric=FIT_METRIC, start="clean", validation=HOD)
    assert pair["n"] == 5
    assert pair["mean_difference"] == pytest.approx(np.mean(a - b), rel=1e-12)
    assert pair["ttest_p"] == pytest.approx(scipy.stats.ttest_rel(a, b).pvalue, rel=1e-12)


# ----------------------------------------------------------------------------------------------
# co-smoothing against the true similarity

SPIKE_RUN = {**RUN, study.N_TRIALS: 5, study.SMOOTHING_MS: 30.0}


def co_smoothing_tables(bps, truth, failing=()):
    """co_smoothing, similarity and fit tables of a spike study with two trial counts:
    ``bps`` and ``truth`` map (n_trials, seed, model) to values."""
    co, sim, fit = [], [], []
    for (n_trials, seed, model), value in bps.items():
        run = {**SPIKE_RUN, study.N_TRIALS: n_trials, "seed": seed}
        co.append({**run, "model": model, "bits_per_spike": value, "n_neurons": 12})
        if model == study.SMOOTHING_BASELINE:
            continue
        key = {**CO_SMOOTHING_TRUTH, "k": 10}
        sim.append({**run, "model": model, **key, "value": truth[(n_trials, seed, model)]})
        clean = 0.5 if (n_trials, seed, model) in failing else 0.95
        fit.append({**run, "model": model, "start": "clean", "r2": clean})
    fit = pd.DataFrame(fit)
    fit["passes_fit_gate"] = fit["r2"] >= MIN_R2
    return pd.DataFrame(co), pd.DataFrame(sim), fit


def test_co_smoothing_validity_is_spearman_per_cell_within_runs_and_pooled():
    rng = np.random.default_rng(8)
    models = [study.FF, study.FFH, study.FFH_MEAN]
    keys = [(nt, seed, m) for nt in (5, 20) for seed in (1, 2, 3) for m in models]
    truth = {key: rng.uniform() for key in keys}
    # at 20 trials co-smoothing ranks exactly as the truth; at 5 it is the truth reversed
    bps = {key: (truth[key] if key[0] == 20 else -truth[key]) for key in keys}
    bps |= {(nt, seed, study.SMOOTHING_BASELINE): 0.1 for nt in (5, 20) for seed in (1, 2, 3)}
    co, sim, fit = co_smoothing_tables(bps, truth)
    out = co_smoothing_validity(co, sim, fit, **CO_SMOOTHING_TRUTH, k=10)
    cell = [a for a in study.axes_in(SPIKE_RUN) if a != "seed"]
    assert list(out.columns) == [*cell, "scope", "n", "rho", "p"]
    by = {(r.n_trials, r.scope): r for r in out.itertuples()}
    assert by[(20, "runs_and_models")].rho == pytest.approx(1.0)
    assert by[(20, "runs_and_models")].n == 9
    assert by[(5, "runs_and_models")].rho == pytest.approx(-1.0)
    assert by[(20, "models_within_run")].rho == pytest.approx(1.0)
    assert by[(20, "models_within_run")].n == 3
    pooled = out[out.n_trials.isna()]
    x = [bps[k] for k in keys]
    y = [truth[k] for k in keys]
    expected = scipy.stats.spearmanr(x, y)
    row = pooled[pooled.scope == "runs_and_models"].iloc[0]
    assert row.rho == pytest.approx(expected.statistic) and row.p == pytest.approx(expected.pvalue)
    assert row.n == 18


def test_co_smoothing_leaves_out_models_failing_the_gate_but_keeps_the_baseline():
    models = [study.FF, study.FFH, study.FFH_MEAN, study.FFH_SHUFFLED]
    keys = [(5, seed, m) for seed in (1, 2) for m in models]
    truth = {key: float(i) for i, key in enumerate(keys)}
    bps = dict(truth) | {(5, s, study.SMOOTHING_BASELINE): 0.2 for s in (1, 2)}
    co, sim, fit = co_smoothing_tables(bps, truth, failing={(5, 1, study.FFH)})
    out = co_smoothing_validity(co, sim, fit, **CO_SMOOTHING_TRUTH, k=10)
    assert out[out.scope == "runs_and_models"].n.tolist() == [7, 7]
    summary = summarise_co_smoothing(co, fit)
    n = dict(zip(summary.model, summary.n, strict=True))
    assert n[study.FFH] == 1 and n[study.FF] == 2 and n[study.SMOOTHING_BASELINE] == 2
    with pytest.raises(ValueError, match="row must give"):
        co_smoothing_validity(co, sim, fit, metric="cca")
