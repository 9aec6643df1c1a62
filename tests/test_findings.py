"""The generated sentences carry the tables' numbers, never numbers of their own."""

import itertools

import numpy as np
import pandas as pd

from hintforce import findings, stats, study

K = 10


def _tables(n_seeds, ffh_gain=0.1):
    """Similarity and fit tables of a synthetic study where FFH beats every other model by
    ``ffh_gain`` on every row, with seed-to-seed noise."""
    rng = np.random.default_rng(n_seeds)
    axes = {
        study.GROUND_TRUTH_SEED: 1,
        study.MUSCLE_FRACTION: 0.4,
        study.N_UNITS: 30,
        study.NEURON_FRACTION: 0.3,
        study.HINT_GAIN: 0.3,
    }
    rows = []
    for seed, model, component, validation in itertools.product(
        range(n_seeds), study.MODEL_NAMES, study.COMPONENTS, study.VALIDATIONS
    ):
        value = 0.3 + (ffh_gain if model == study.FFH else 0.0) + 0.01 * rng.standard_normal()
        rows.append(
            {
                **axes,
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
        )
    similarity = pd.DataFrame(rows)[list(study.SIMILARITY_COLUMNS)]
    fit = pd.DataFrame(
        [
            {**axes, study.SEED: seed, "model": model, "start": start, "r2": 0.99}
            for seed, model, start in itertools.product(
                range(n_seeds), study.MODEL_NAMES, study.STARTS
            )
        ]
    )
    fit = stats.fit_gate(fit, 0.9)
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
    assert page.count("<p>On ") == len(study.CONTRASTS) * len(study.COMPONENTS)
