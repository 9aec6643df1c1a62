import numpy as np
import pandas as pd
import pytest
import scipy.stats

from hintforce.stats import missing_runs, paired_tests, summarise

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
    out = paired_tests(_paired_table([0.5, 0.6, 0.7], [0.4, 0.5, 0.4]))
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
    ]
    assert len(out) == 1


def test_five_wins_out_of_five_give_the_hand_computed_p_values():
    ff = np.array([0.30, 0.35, 0.40, 0.38, 0.42])
    d = np.array([0.01, 0.02, 0.03, 0.04, 0.05])
    row = paired_tests(_paired_table(ff + d, ff)).iloc[0]
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
    row = paired_tests(_paired_table(ffh, ff)).iloc[0]
    assert row["wilcoxon_p"] == pytest.approx(scipy.stats.wilcoxon(ffh, ff).pvalue, rel=1e-12)
    assert row["ttest_p"] == pytest.approx(scipy.stats.ttest_rel(ffh, ff).pvalue, rel=1e-12)
    assert row["wins"] == np.count_nonzero(ffh > ff)
    assert row["mean_difference"] == pytest.approx(np.mean(ffh - ff))


def test_pairing_by_seed_ignores_unmatched_seeds_and_row_order():
    ffh = {0: 0.9, 1: 0.5, 2: 0.6, 3: 0.7, 4: 0.55, 5: 0.2}
    ff = {6: 0.9, 4: 0.50, 3: 0.6, 2: 0.52, 1: 0.45}
    table = _paired_table(list(ffh.values()), list(ff.values()), list(ffh), list(ff))
    row = paired_tests(table).iloc[0]
    seeds = [1, 2, 3, 4]
    a, b = np.array([ffh[s] for s in seeds]), np.array([ff[s] for s in seeds])
    assert row["n"] == 4
    assert row["mean_difference"] == pytest.approx(np.mean(a - b))
    assert row["ttest_p"] == pytest.approx(scipy.stats.ttest_rel(a, b).pvalue, rel=1e-12)
    assert row["wilcoxon_p"] == pytest.approx(scipy.stats.wilcoxon(a, b).pvalue, rel=1e-12)


def test_tied_pairs_are_counted_and_dropped_from_the_signed_ranks():
    ff = np.array([0.4, 0.4, 0.5, 0.3, 0.6, 0.2, 0.35, 0.45])
    d = np.array([0.0, 0.0, 0.1, 0.2, 0.3, -0.4, 0.5, 0.6])
    row = paired_tests(_paired_table(ff + d, ff)).iloc[0]
    assert row["ties"] == 2 and row["wins"] == 5 and row["n"] == 8
    # the six non-zero differences alone: the negative one has rank 4, and 2 * #{subsets of
    # 1..6 with rank sum <= 4} / 2**6 = 2 * (1 + 1 + 1 + 2 + 2) / 64 (sums 0, 1, 2, 3, 4)
    assert row["wilcoxon_p"] == pytest.approx(2 * 7 / 64)
    assert row["wilcoxon_p"] == pytest.approx(scipy.stats.wilcoxon(d[2:]).pvalue, rel=1e-12)


def test_all_zero_differences_give_nan_p_values_without_warnings():
    ff = [0.4, 0.5, 0.6]
    row = paired_tests(_paired_table(ff, ff)).iloc[0]
    assert row["ties"] == 3 and row["wins"] == 0 and row["mean_difference"] == 0.0
    assert np.isnan(row["wilcoxon_p"]) and np.isnan(row["ttest_p"])


def test_constant_nonzero_differences_give_a_nan_t_test_but_a_wilcoxon_p():
    ff = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    row = paired_tests(_paired_table(ff + 0.25, ff)).iloc[0]
    assert np.isnan(row["ttest_p"])
    assert row["wilcoxon_p"] == pytest.approx(2 / 2**6)


@pytest.mark.parametrize(("n_ffh", "n_ff"), [(1, 1), (1, 0), (0, 3)])
def test_fewer_than_two_pairs_give_nan_p_values(n_ffh, n_ff):
    table = _paired_table([0.5, 0.6, 0.7][:n_ffh], [0.4, 0.3, 0.2][:n_ff])
    row = paired_tests(table).iloc[0]
    assert row["n"] == min(n_ffh, n_ff)
    assert np.isnan(row["wilcoxon_p"]) and np.isnan(row["ttest_p"])


def test_paired_tests_group_by_every_requested_column():
    low = _paired_table([0.5, 0.6, 0.7], [0.4, 0.5, 0.6], neuron_fraction=0.1)
    high = _paired_table([0.9, 0.8, 0.95], [0.4, 0.5, 0.6], neuron_fraction=0.3)
    floor = _paired_table([0.1, 0.1, 0.1], [0.1, 0.1, 0.1], neuron_fraction=0.3)
    floor["model"] = floor["model"].map({"ffh": "floor", "ff": "other"})
    table = pd.concat([high, low, floor], ignore_index=True)
    out = paired_tests(table, by=["neuron_fraction", "metric"])
    assert list(out.neuron_fraction) == [0.1, 0.3]
    np.testing.assert_allclose(out.mean_difference, [0.1, (0.5 + 0.3 + 0.35) / 3])
    assert list(out.n) == [3, 3]


def test_paired_tests_refuse_ambiguous_pairs():
    table = _paired_table([0.5, 0.6], [0.4, 0.5], seeds_ffh=[0, 0], seeds_ff=[0, 1])
    with pytest.raises(ValueError, match="more than one row"):
        paired_tests(table)


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
