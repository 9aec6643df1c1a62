"""The generated sentences carry the tables' numbers, never numbers of their own."""

import html
import itertools
import re

import numpy as np
import pandas as pd
import scipy.stats

from hintforce import findings, stats, study

#: The validations of a run whose task holds no direction out.
TRAINING_VALIDATIONS = tuple(v for v in study.VALIDATIONS if v != study.HELD_OUT_DIRECTIONS)

K = 10
#: A decimal number as the findings write one (``+0.111``, ``0.37``, ``1.2e-05``).
NUMBER = r"[-+]?\d+\.\d+(?:e[-+]?\d+)?"
#: The sweep cell of the synthetic studies.
AXES = {
    study.GROUND_TRUTH_SEED: 1,
    study.MUSCLE_FRACTION: 0.4,
    study.N_UNITS: 30,
    study.NEURON_FRACTION: 0.3,
    study.HINT_GAIN: 0.3,
}


def _headline_row(seed, model, component, validation, value):
    """A similarity row of the headline population and metric, its null at 0."""
    return {
        **AXES,
        study.SEED: seed,
        "model": model,
        "population": findings.HEADLINE["population"],
        "metric": findings.HEADLINE["metric"],
        "k": K,
        "component": component,
        "validation": validation,
        "value": value,
        "null_mean": 0.0,
        "null_p": 0.05,
        "above_null": value,
    }


def _passing_fit(n_seeds: int) -> pd.DataFrame:
    """A gated fit table in which every model of every seed passes."""
    fit = pd.DataFrame(
        [
            {**AXES, study.SEED: seed, "model": model, "start": start, "r2": 0.99}
            for seed, model, start in itertools.product(
                range(n_seeds), study.MODEL_NAMES, study.STARTS
            )
        ]
    )
    return stats.fit_gate(fit, 0.9)


def _tables(n_seeds, ffh_gain=0.1):
    """Similarity and fit tables of a synthetic study where FFH beats every other model by
    ``ffh_gain`` on every row, with seed-to-seed noise."""
    rng = np.random.default_rng(n_seeds)
    rows = []
    for seed, model, component, validation in itertools.product(
        range(n_seeds), study.MODEL_NAMES, study.COMPONENTS, TRAINING_VALIDATIONS
    ):
        value = 0.3 + (ffh_gain if model == study.FFH else 0.0) + 0.01 * rng.standard_normal()
        rows.append(_headline_row(seed, model, component, validation, value))
    similarity = pd.DataFrame(rows)[
        [*study.axes_in([*AXES, study.SEED]), *study.SIMILARITY_COLUMNS]
    ]
    fit = _passing_fit(n_seeds)
    return stats.summarise_study(similarity, fit), stats.paired_study(similarity, fit), fit


def test_one_sentence_per_contrast_and_component_with_the_tables_numbers():
    summary, paired, fit = _tables(8)
    sentences = findings.contrast_sentences(summary, paired, K)
    assert len(sentences) == len(study.CONTRASTS) * len(study.COMPONENTS)
    rows = paired[
        (paired["contrast"] == f"{study.FFH}-{study.FF}")
        & (paired["component"] == "condition")
        & (paired["validation"] == findings.HEADLINE["validation"])
    ]
    assert f"{rows['mean_difference'].iloc[0]:+.3f}" in sentences[0]
    assert f"better in {rows['wins'].iloc[0]} of 8 seeds" in sentences[0]
    means = summary[
        (summary["model"] == study.FFH)
        & (summary["quantity"] == "value")
        & (summary["component"] == "condition")
        & (summary["validation"] == findings.HEADLINE["validation"])
    ]
    assert f"{means['mean'].iloc[0]:.3f}" in sentences[0]
    assert "no Wilcoxon p can fall below" not in sentences[0]


def test_too_few_seeds_for_a_wilcoxon_p_below_005_is_said():
    summary, paired, fit = _tables(4)
    sentences = findings.contrast_sentences(summary, paired, K)
    assert all("no Wilcoxon p can fall below 0.125" in s for s in sentences)


def test_a_worse_ffh_is_reported_as_not_higher():
    summary, paired, fit = _tables(6, ffh_gain=-0.1)
    assert all("not higher" in s for s in findings.contrast_sentences(summary, paired, K))


def test_the_page_lists_models_failing_the_fit_gate():
    summary, paired, fit = _tables(6)
    fit.loc[0, "passes_fit_gate"] = False
    page = findings.findings_html(summary, paired, fit, K)
    assert "1 model runs failed the fit gate" in page
    assert "<h2>Fit gate</h2>" in page


def test_the_page_keeps_every_number_of_the_contrast_sentences_in_one_table():
    summary, paired, fit = _tables(4)
    page = findings.findings_html(summary, paired, fit, K)
    detail = page.split("<h1>The detail</h1>", 1)[1]
    table = detail.split("<h2>Fit gate</h2>", 1)[0]
    # one table row per contrast and component instead of one sentence each
    assert table.count("<td>FFH − ") == len(study.CONTRASTS) * len(study.COMPONENTS)
    assert "<p>On " not in page
    cells = " ".join(re.findall(r"<td>(.*?)</td>", table))
    in_cells = set(re.findall(NUMBER, cells))
    for sentence in findings.contrast_sentences(summary, paired, K):
        for number in re.findall(NUMBER, sentence):
            assert number in in_cells, (number, sentence)
    # the Wilcoxon caveat is said once, not once per contrast
    assert detail.count("no Wilcoxon p can fall below 0.125") == 1


# ---------------------------------------------------------------------------------------------
# generalisation to held-out reach directions

HOD = study.HELD_OUT_DIRECTIONS
#: Held-out R² of each model (clean start) before seed noise; FFH generalises best.
HELD_R2 = {study.FFH: 0.70, study.FF: 0.50, study.FFH_SHUFFLED: 0.55, study.FFH_MEAN: 0.6}
#: Similarity on the held-out directions before seed noise.
HELD_SIMILARITY = {study.FFH: 0.45, study.FF: 0.30, study.FFH_SHUFFLED: 0.35, study.FFH_MEAN: 0.4}


def _held_out_tables(n_seeds, failing_seed=None):
    """Similarity and fit tables (returned raw, with the gated fit and the two statistics
    tables) of a synthetic study that holds directions out: every validation, including
    ``held_out_directions``, and fit rows on both sets of directions. With
    ``failing_seed``, FF's store of that seed fails the fit gate."""
    rng = np.random.default_rng(100 + n_seeds)
    rows = []
    for seed, model, component, validation in itertools.product(
        range(n_seeds), study.MODEL_NAMES, study.COMPONENTS, study.VALIDATIONS
    ):
        base = HELD_SIMILARITY.get(model, 0.2) if validation == HOD else 0.3
        value = base + 0.03 * rng.standard_normal()
        rows.append(_headline_row(seed, model, component, validation, value))
    similarity = pd.DataFrame(rows)[
        [*study.axes_in([*AXES, study.SEED]), *study.SIMILARITY_COLUMNS]
    ]
    fit_rows = []
    for seed, model, directions, start in itertools.product(
        range(n_seeds), study.MODEL_NAMES, study.DIRECTION_SETS, study.STARTS
    ):
        if directions == "train":
            r2 = 0.97 + 0.01 * rng.standard_normal()
            if model == study.FF and seed == failing_seed and start == "clean":
                r2 = 0.5
        else:
            r2 = HELD_R2.get(model, 0.1) + 0.05 * rng.standard_normal()
        fit_rows.append(
            {**AXES, study.SEED: seed, "model": model, "start": start}
            | {study.DIRECTIONS: directions, "r2": r2}
        )
    raw = pd.DataFrame(fit_rows)
    fit = stats.fit_gate(raw, 0.9)
    summary = stats.summarise_study(similarity, fit)
    paired = stats.paired_study(similarity, fit)
    return similarity, raw, fit, summary, paired


def _seed_values(table, value, **match):
    rows = table
    for column, wanted in match.items():
        rows = rows[rows[column] == wanted]
    return rows.sort_values(study.SEED)[value].to_numpy(dtype=float)


def test_generalisation_sentences_carry_the_measured_numbers():
    similarity, raw, fit, summary, paired = _held_out_tables(7)
    sentences = findings.generalisation_sentences(summary, paired, K)
    assert len(sentences) == 2
    claim, answer = sentences
    assert "Salatiello & Giese 2020" in claim and "not trained on" in claim
    ffh, ff = study.FFH, study.FF

    def r2(model, directions):
        return _seed_values(raw, "r2", model=model, directions=directions, start="clean")

    a, b = r2(ffh, "held_out"), r2(ff, "held_out")
    assert f"output R² is {a.mean():.3f} against FF's {b.mean():.3f}" in answer
    train = f"(training directions {r2(ffh, 'train').mean():.3f} and {r2(ff, 'train').mean():.3f})"
    assert train in answer
    p = scipy.stats.ttest_rel(a, b).pvalue
    contrast = (
        f"FFH − FF {np.mean(a - b):+.3f}, better in {np.count_nonzero(a > b)} of 7 seeds, "
        f"paired t p = {p:.2g}"
    )
    assert contrast in answer

    def sim(model):
        return _seed_values(similarity, "value", model=model, validation=HOD, component="condition")

    others = (ff, study.FFH_SHUFFLED, study.FFH_MEAN)
    against = ", ".join(f"{study.model(m).label} {sim(m).mean():.3f}" for m in others)
    assert f"(mean canonical correlation, k = {K}) is {sim(ffh).mean():.3f} against {against}" in (
        answer
    )
    for other, short in zip(others, ("FF", "shuffled hints", "mean hints"), strict=True):
        x, y = sim(ffh), sim(other)
        text = (
            f"FFH − {short} {np.mean(x - y):+.3f}, better in {np.count_nonzero(x > y)} of 7 "
            f"seeds, paired t p = {scipy.stats.ttest_rel(x, y).pvalue:.2g}"
        )
        assert text in answer, short
    assert answer.endswith(").")


def test_generalisation_sentences_leave_out_a_seed_whose_store_fails_the_gate():
    similarity, raw, fit, summary, paired = _held_out_tables(6, failing_seed=2)
    (_, answer) = findings.generalisation_sentences(summary, paired, K)
    held = raw[(raw["directions"] == "held_out") & (raw["start"] == "clean")]
    a = _seed_values(held, "r2", model=study.FFH)
    b = _seed_values(held, "r2", model=study.FF)
    keep = np.arange(6) != 2
    assert f"against FF's {b[keep].mean():.3f}" in answer
    assert f"FFH − FF {np.mean(a[keep] - b[keep]):+.3f}" in answer
    assert "of 5 seeds" in answer


def test_the_page_has_a_generalisation_section_only_with_held_out_rows():
    summary, paired, fit = _tables(6)
    assert findings.generalisation_sentences(summary, paired, K) == []
    page = findings.findings_html(summary, paired, fit, K)
    assert "generalise" not in page and "held-out directions" not in page
    assert "Salatiello" not in page

    similarity, raw, fit, summary, paired = _held_out_tables(6)
    page = findings.findings_html(summary, paired, fit, K)
    heading = "<h2>Does FFH generalise to reach directions it was not trained on?</h2>"
    assert page.count(heading) == 1
    sentences = findings.generalisation_sentences(summary, paired, K)
    assert len(sentences) == 2
    after = page.split(heading, 1)[1]
    for sentence in sentences:
        assert f"<p>{html.escape(sentence)}</p>" in after
    # the headline contrasts are still there, before it
    assert page.index(f"<h2>{findings.QUESTIONS['similarity']}</h2>") < page.index(heading)
    assert "Every model passed the fit gate" in page


def test_the_page_lists_a_failing_store_once_though_it_has_held_out_rows():
    similarity, raw, fit, summary, paired = _held_out_tables(6, failing_seed=4)
    assert (~fit["passes_fit_gate"]).sum() == 4  # 2 starts x 2 sets of directions
    page = findings.findings_html(summary, paired, fit, K)
    assert "1 model runs failed the fit gate" in page


# ---------------------------------------------------------------------------------------------
# a spike recording

#: FFH's similarity gain over the other models at each trial count.
TRIAL_GAIN = {5: 0.02, 50: 0.1}


def _recording_tables(n_seeds):
    """Summary and paired tables of a synthetic spike study at two trial counts, with the
    trial-split ceiling row; FFH's lead grows with the trials."""
    rng = np.random.default_rng(200 + n_seeds)
    rows = []
    for n_trials, seed, model in itertools.product(TRIAL_GAIN, range(n_seeds), study.MODEL_NAMES):
        value = 0.3 + (TRIAL_GAIN[n_trials] if model == study.FFH else 0.0)
        value += 0.01 * rng.standard_normal()
        row = _headline_row(seed, model, "condition", "cross_validated", value)
        rows.append(row | {study.N_TRIALS: n_trials, study.SMOOTHING_MS: 30.0})
        if model == study.FF:
            ceiling = row | {study.N_TRIALS: n_trials, study.SMOOTHING_MS: 30.0}
            rows.append(ceiling | {"model": study.TRIAL_SPLIT, "population": "observed"})
    similarity = pd.DataFrame(rows)
    similarity = similarity[[*study.axes_in(similarity.columns), *study.SIMILARITY_COLUMNS]]
    similarity.loc[similarity.model == study.TRIAL_SPLIT, "value"] = [
        0.2 + 0.1 * (n == 50)
        for n in similarity.loc[similarity.model == study.TRIAL_SPLIT, study.N_TRIALS]
    ]
    fit = pd.DataFrame(
        [
            {**AXES, study.SEED: seed, "model": model, "start": start, "r2": 0.99}
            | {study.N_TRIALS: n_trials, study.SMOOTHING_MS: 30.0}
            for n_trials, seed, model, start in itertools.product(
                TRIAL_GAIN, range(n_seeds), study.MODEL_NAMES, study.STARTS
            )
        ]
    )
    fit = stats.fit_gate(fit, 0.9)
    return similarity, stats.summarise_study(similarity, fit), stats.paired_study(similarity, fit)


def test_recording_sentences_give_each_trial_counts_numbers():
    similarity, summary, paired = _recording_tables(6)
    sentences = findings.recording_sentences(summary, paired, K)
    assert len(sentences) == len(TRIAL_GAIN)
    for n_trials, sentence in zip(TRIAL_GAIN, sentences, strict=True):
        assert sentence.startswith(f"With {n_trials} trials per direction")
        at = similarity[similarity[study.N_TRIALS] == n_trials]
        x = _seed_values(at, "value", model=study.FFH)
        y = _seed_values(at, "value", model=study.FF)
        assert f"is {x.mean():.3f} against FF {y.mean():.3f}" in sentence
        p = scipy.stats.ttest_rel(x, y).pvalue
        wins = np.count_nonzero(x > y)
        contrast = (
            f"FFH − FF {np.mean(x - y):+.3f}, better in {wins} of 6 seeds, paired t p = {p:.2g}"
        )
        assert contrast in sentence
        ceiling = 0.2 + 0.1 * (n_trials == 50)
        assert f"trial-split ceiling of the recorded neurons is {ceiling:.3f}" in sentence
    summary_exact, paired_exact, fit = _tables(6)
    assert findings.recording_sentences(summary_exact, paired_exact, K) == []
    assert "realistic recording" not in findings.findings_html(summary_exact, paired_exact, fit, K)


# ---------------------------------------------------------------------------------------------
# the answer first: one sentence per question and the compact table (findings page and the
# report's landing text)

#: Headline similarity of each model and reference row before seed noise, and its null's.
BASE = {
    study.FLOOR: 0.10,
    study.FF: 0.30,
    study.FFH: 0.50,
    study.FFH_SHUFFLED: 0.35,
    study.FFH_MEAN: 0.40,
    study.CEILING: 0.90,
    study.BASELINE: 0.45,
}
NULL = {name: 0.2 * value for name, value in BASE.items()}


def _reference_study(n_seeds, ffh_gain=0.0, noise=0.02):
    """The raw similarity table (every model and the ceiling and data-baseline rows, both
    components, the training validations, nulls that differ by model) and the summary,
    paired and gated fit tables of a synthetic study; FFH's base score is raised by
    ``ffh_gain``."""
    rng = np.random.default_rng(300 + n_seeds)
    rows = []
    for seed, name, component, validation in itertools.product(
        range(n_seeds), BASE, study.COMPONENTS, TRAINING_VALIDATIONS
    ):
        value = BASE[name] + (ffh_gain if name == study.FFH else 0.0)
        value += noise * rng.standard_normal()
        row = _headline_row(seed, name, component, validation, value)
        row["null_mean"] = NULL[name] + 0.01 * rng.standard_normal()
        rows.append(row | {"above_null": value - row["null_mean"]})
    similarity = pd.DataFrame(rows)[
        [*study.axes_in([*AXES, study.SEED]), *study.SIMILARITY_COLUMNS]
    ]
    fit = _passing_fit(n_seeds)
    summary = stats.summarise_study(similarity, fit)
    return similarity, summary, stats.paired_study(similarity, fit), fit


def _headline(similarity, model, column="value"):
    """The headline score's per-seed values of ``model`` in the raw table, in seed order."""
    return _seed_values(
        similarity,
        column,
        model=model,
        component=findings.HEADLINE_COMPONENT,
        validation=findings.HEADLINE["validation"],
    )


def _interval(values):
    """Mean and 95% t-interval, computed here from the raw values."""
    mean = values.mean()
    half = scipy.stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return mean, mean - half, mean + half


def test_the_compact_table_carries_each_models_score_interval_null_and_contrast():
    similarity, summary, paired, fit = _reference_study(7)
    table, cell = findings.score_table(summary, paired, K)
    assert list(table.index) == [*study.MODEL_NAMES, study.CEILING, study.BASELINE]
    assert cell[study.NEURON_FRACTION] == AXES[study.NEURON_FRACTION]
    ffh = _headline(similarity, study.FFH)
    for name in table.index:
        values = _headline(similarity, name)
        mean, low, high = _interval(values)
        row = table.loc[name]
        assert row["n"] == 7
        np.testing.assert_allclose([row["mean"], row["ci_low"], row["ci_high"]], [mean, low, high])
        np.testing.assert_allclose(
            row["null_mean"], _headline(similarity, name, "null_mean").mean()
        )
        if name in (b for _, b in study.CONTRASTS):
            np.testing.assert_allclose(row["difference"], np.mean(ffh - values))
            assert row["wins"] == np.count_nonzero(ffh > values)
        else:
            assert np.isnan(row["difference"])


def test_the_landing_text_states_the_tables_numbers():
    similarity, summary, paired, fit = _reference_study(7)
    text = findings.answer_rst(summary, paired, fit, K)
    answer, table = text.split(".. list-table::", 1)
    ffh = _headline(similarity, study.FFH)
    mean, low, high = _interval(ffh)
    interval = f"{mean:.3f} [{low:.3f}, {high:.3f}]"
    # the sentence
    assert f"k = {K}, 7 seeds) is {interval}" in answer
    null = _headline(similarity, study.FFH, "null_mean").mean()
    ceiling = _headline(similarity, study.CEILING).mean()
    baseline = _headline(similarity, study.BASELINE).mean()
    scale = (
        f"its permutation null is {null:.3f}, the SOC ceiling {ceiling:.3f} and the data "
        f"baseline {baseline:.3f}."
    )
    assert scale in answer
    # the table: FFH's row, and each contrasted model's score and difference from FFH
    assert f"   * - FFH\n     - {interval}\n     - {null:.3f}\n" in table
    for _, other in study.CONTRASTS:
        values = _headline(similarity, other)
        assert f"     - {_interval(values)[0]:.3f} [" in table
        assert f"     - {np.mean(ffh - values):+.3f} [" in table
    assert "Every model passed the fit gate" in table


def test_the_verdict_follows_the_contrasts():
    _, summary, paired, fit = _reference_study(8, ffh_gain=0.2)
    ((question, sentence),) = findings.answers(summary, paired, K)
    assert question == findings.QUESTIONS["similarity"]
    assert sentence.startswith("Yes: ")
    assert "significantly above FF, shuffled hints and mean hints" in sentence

    _, summary, paired, fit = _reference_study(8, ffh_gain=-0.4)
    ((_, sentence),) = findings.answers(summary, paired, K)
    assert sentence.startswith("Not shown: ")
    assert "not above FF, shuffled hints and mean hints" in sentence

    # FFH just above FF, within the noise: above but not significantly
    _, summary, paired, fit = _reference_study(4, ffh_gain=-0.18, noise=0.1)
    ((_, sentence),) = findings.answers(summary, paired, K)
    row = paired[
        (paired["contrast"] == f"{study.FFH}-{study.FF}")
        & (paired["component"] == findings.HEADLINE_COMPONENT)
        & (paired["validation"] == findings.HEADLINE["validation"])
    ].iloc[0]
    assert row["mean_difference"] > 0 and row["holm_ttest_p"] >= findings.ALPHA  # the case
    assert sentence.startswith("Not shown: ")
    assert ", above FF but not significantly and not above" in sentence


def test_the_landing_text_renders_as_the_report_renders_it():
    """Snakemake renders the landing text as a Jinja template (``snakemake.config``), then as
    reStructuredText: the generated part passes through Jinja untouched, the description's
    expressions are filled in, and the table is an HTML table."""
    from docutils.core import publish_parts
    from jinja2 import Environment

    similarity, summary, paired, fit = _reference_study(5)
    intro = 'This is study **{{ snakemake.config["study"] }}**.\n'
    text = findings.answer_rst(summary, paired, fit, K, intro)

    class Snakemake:
        config = {"study": "toy"}

    rendered = Environment(trim_blocks=True, lstrip_blocks=True).from_string(text)
    body = publish_parts(rendered.render(snakemake=Snakemake), writer="html")["html_body"]
    assert "This is study <strong>toy</strong>." in body
    assert body.index("The answer") < body.index("<table") < body.index("The study")
    mean = _headline(similarity, study.FFH).mean()
    assert f"<td>{mean:.3f} [" in body
    assert "raw %}" not in body and "System Message" not in body


def test_the_page_opens_with_the_answer_then_the_detail():
    similarity, summary, paired, fit = _reference_study(5)
    page = findings.findings_html(summary, paired, fit, K)
    answer, detail = page.split("<h1>The detail</h1>", 1)
    for question, sentence in findings.answers(summary, paired, K):
        assert f"<dt><b>{html.escape(question)}</b></dt><dd>{html.escape(sentence)}</dd>" in answer
    cells = re.findall(r"<td>(.*?)</td>", answer)
    assert f"{_headline(similarity, study.CEILING).mean():.3f} [" in " ".join(cells)
    assert "observed SOC neurons (data baseline)" in cells
    assert "<h3>Headline rows of summary.csv</h3>" in detail


def test_held_out_directions_add_their_question_and_table():
    similarity, raw, fit, summary, paired = _held_out_tables(6)
    questions = [q for q, _ in findings.answers(summary, paired, K)]
    assert questions == [findings.QUESTIONS["similarity"], findings.QUESTIONS["generalisation"]]
    table = findings.generalisation_table(summary, paired, K)
    held = raw[(raw["directions"] == "held_out") & (raw["start"] == "clean")]
    train = raw[(raw["directions"] == "train") & (raw["start"] == "clean")]
    for model in study.MODEL_NAMES:
        np.testing.assert_allclose(
            table.loc[model, "r2_held_out"], _seed_values(held, "r2", model=model).mean()
        )
        np.testing.assert_allclose(
            table.loc[model, "r2_train"], _seed_values(train, "r2", model=model).mean()
        )
        sim = _seed_values(similarity, "value", model=model, validation=HOD, component="condition")
        np.testing.assert_allclose(table.loc[model, "similarity_held_out"], sim.mean())
    text = findings.answer_rst(summary, paired, fit, K)
    ffh = _seed_values(held, "r2", model=study.FFH).mean()
    assert f"**{findings.QUESTIONS['generalisation']}** On the held-out directions FFH" in text
    assert f"clean-start output R² is {ffh:.3f}" in text
    assert text.count(".. list-table::") == 2


def test_a_spike_recording_adds_its_question():
    similarity, summary, paired = _recording_tables(6)
    answers = dict(findings.answers(summary, paired, K))
    sentence = answers[findings.QUESTIONS["recording"]]
    for n_trials in TRIAL_GAIN:
        at = similarity[similarity[study.N_TRIALS] == n_trials]
        x = _seed_values(at, "value", model=study.FFH)
        y = _seed_values(at, "value", model=study.FF)
        assert f"{x.mean():.3f} against FF's {y.mean():.3f} with {n_trials} trials" in sentence
    table, cell = findings.score_table(summary, paired, K)
    # the first trial count, and the trial-split noise ceiling of the recorded neurons
    assert cell[study.N_TRIALS] == min(TRIAL_GAIN)
    first = similarity[similarity[study.N_TRIALS] == min(TRIAL_GAIN)]
    ceiling = _seed_values(first, "value", model=study.TRIAL_SPLIT, population="observed")
    np.testing.assert_allclose(table.loc[study.TRIAL_SPLIT, "mean"], ceiling.mean())


def _mechanism_tables(closer_than_ff, significant):
    """Dynamics summary and tests of one cell: FFH closer to the SOC than FF in the first
    ``closer_than_ff`` headline measures, significantly in the first ``significant``; never
    closer than the shams."""
    summary = pd.DataFrame(
        [
            {**AXES, "model": model, "measure": measure, "quantity": "value", "n": 5}
            | {"mean": 1.0, "sd": 0.1, "ci_low": 0.9, "ci_high": 1.1}
            for model in (study.CEILING, *study.MODEL_NAMES)
            for measure in findings.MECHANISM_HEADLINE
        ]
    )
    tests = pd.DataFrame(
        [
            {**AXES, "measure": measure, "contrast": f"{a}-{b}", "n": 5}
            | {
                "mean_difference": -0.1 if b == study.FF and i < closer_than_ff else 0.1,
                "wins": 4,
                "holm_ttest_p": 0.01 if b == study.FF and i < significant else 0.5,
            }
            for i, measure in enumerate(findings.MECHANISM_HEADLINE)
            for a, b in study.CONTRASTS
        ]
    )
    return summary, tests


def test_the_mechanism_question_counts_the_measures_closer_to_the_soc():
    dynamics_summary, dynamics_tests = _mechanism_tables(closer_than_ff=4, significant=1)
    _, summary, paired, fit = _reference_study(5)
    answers = dict(
        findings.answers(
            summary, paired, K, dynamics_summary=dynamics_summary, dynamics_tests=dynamics_tests
        )
    )
    sentence = answers[findings.QUESTIONS["mechanism"]]
    n = len(findings.MECHANISM_HEADLINE)
    first = findings.MECHANISM_HEADLINE[0]
    assert f"than FF in 4 of {n} (1 significantly: {first})" in sentence
    assert f"than shuffled hints in 0 of {n} and than mean hints in 0 of {n}" in sentence
    text = findings.answer_rst(
        summary, paired, fit, K, dynamics_summary=dynamics_summary, dynamics_tests=dynamics_tests
    )
    assert first.replace("_", "\\_") in text  # escaped for reStructuredText
