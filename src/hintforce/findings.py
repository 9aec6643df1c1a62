"""The study's answer in words, generated from its tables.

:func:`contrast_sentences` states each paired contrast of :data:`hintforce.study.CONTRASTS`
for the headline comparison (similarity to the unobserved SOC neurons, cross-validated, mean
canonical correlation at the largest k), on the condition-specific part of the activity and
on the full activity; every number comes from ``summary.csv`` and ``paired_tests.csv``.
:func:`findings_html` wraps them, the models that failed the fit gate and the two tables into
the page the report shows first. :func:`mechanism_html` states, from ``dynamics_summary.csv``
and ``dynamics_tests.csv``, how close each model's mechanism comes to the SOC's.
"""

from __future__ import annotations

import html
import math

import pandas as pd

from hintforce import stats, study
from hintforce.selection import first_cell, fit_rows, select

__all__ = [
    "HEADLINE",
    "MECHANISM_HEADLINE",
    "contrast_sentences",
    "findings_html",
    "generalisation_sentences",
    "mechanism_html",
    "mechanism_sentences",
    "recording_sentences",
]

#: The row key of the headline comparison (besides k and component).
HEADLINE = {"population": "unobserved", "metric": "cca", "validation": "cross_validated"}
# The contrasted models as a contrast names them ("FFH − shuffled hints").
_SHORT = {study.FF: "FF", study.FFH_SHUFFLED: "shuffled hints", study.FFH_MEAN: "mean hints"}
_LABELS = {
    **{m.name: m.label for m in study.MODELS},
    study.SMOOTHING_BASELINE: "smoothing baseline",
}
_COMPONENT_WORDS = {
    "condition": "the condition-specific part of the activity",
    "full": "the full activity",
}


def _first_cell(table: pd.DataFrame, n_over: str) -> pd.DataFrame:
    """Rows of the first sweep cell summarised over ``n_over``."""
    return first_cell(table, n_over=n_over)[0]


def _p(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.2g}"


def contrast_sentences(summary: pd.DataFrame, paired: pd.DataFrame, k: int) -> list[str]:
    """One sentence per contrast and component for the headline comparison.

    Parameters
    ----------
    summary, paired : pandas.DataFrame
        ``summary.csv`` and ``paired_tests.csv`` as written by the statistics rule.
    k : int
        Number of PCA factors of the headline comparison.

    Returns
    -------
    list of str
        Plain sentences with the means of both models, the mean difference, the wins, the
        paired-t and Wilcoxon p-values (Holm-adjusted over the contrasts of the score, in
        brackets) and, when
        the number of pairs cannot give a Wilcoxon p below 0.05, a statement saying so.
    """
    n_over = paired["n_over"].iloc[0] if len(paired) else study.SEED
    means = _first_cell(select(summary, quantity="value", k=k, **HEADLINE), n_over)
    tests = _first_cell(select(paired, k=k, **HEADLINE), n_over)
    unit = "circuits" if n_over == study.GROUND_TRUTH_SEED else "seeds"
    sentences = []
    for component in ("condition", "full"):
        for a, b in study.CONTRASTS:
            row = select(tests, component=component, contrast=f"{a}-{b}")
            mean = select(means, component=component).set_index("model")["mean"]
            if row.empty or a not in mean or b not in mean:
                continue
            row = row.iloc[0]
            better = "higher" if row["mean_difference"] > 0 else "not higher"
            text = (
                f"On {_COMPONENT_WORDS[component]}, cross-validated, {study.model(a).label}'s "
                f"mean canonical correlation with the unobserved SOC neurons (k = {k}) is "
                f"{mean[a]:.3f} against {mean[b]:.3f} for {study.model(b).label}: "
                f"{better} by {row['mean_difference']:+.3f}, better in {row['wins']} of "
                f"{row['n']} {unit} (paired t p = {_p(row['ttest_p'])} "
                f"[Holm {_p(row['holm_ttest_p'])}], Wilcoxon p = {_p(row['wilcoxon_p'])} "
                f"[Holm {_p(row['holm_wilcoxon_p'])}])."
            )
            if row["wilcoxon_min_p"] >= 0.05:
                text += (
                    f" With {row['n']} pairs no Wilcoxon p can fall below "
                    f"{row['wilcoxon_min_p']:.3g}: more {unit} are needed for that test."
                )
            sentences.append(text)
    return sentences


def _contrast(row: pd.Series, unit: str) -> str:
    """``+0.050, better in 5 of 5 seeds, paired t p = 0.01``."""
    return (
        f"{row['mean_difference']:+.3f}, better in {row['wins']} of {row['n']} {unit}, "
        f"paired t p = {_p(row['ttest_p'])}"
    )


def generalisation_sentences(summary: pd.DataFrame, paired: pd.DataFrame, k: int) -> list[str]:
    """The paper's generalisation claim and the measured answer, one sentence each (none when
    the study holds no direction out).

    The answer compares FFH with FF on the held-out directions' clean-start output R² (next to
    both models' R² on the training directions) and with FF and each sham on the held-out
    directions' condition-specific similarity to the unobserved SOC neurons (mean canonical
    correlation at ``k``); every number comes from ``summary.csv`` and ``paired_tests.csv``.
    """
    n_over = paired["n_over"].iloc[0] if len(paired) else study.SEED
    unit = "circuits" if n_over == study.GROUND_TRUTH_SEED else "seeds"
    means = _first_cell(select(summary, quantity="value"), n_over)
    tests = _first_cell(paired, n_over)
    held_fit = fit_rows(means, study.STARTS[0], held_out=True).set_index("model")["mean"]
    if held_fit.empty:
        return []
    train_fit = fit_rows(means, study.STARTS[0], held_out=False).set_index("model")["mean"]
    similarity = select(
        means,
        population="unobserved",
        metric="cca",
        k=k,
        component="condition",
        validation=study.HELD_OUT_DIRECTIONS,
    ).set_index("model")["mean"]
    ffh, ff = study.FFH, study.FF
    claim = (
        "The study's paper (Salatiello & Giese 2020) reports that training with hints "
        "significantly improves the networks' generalisation to reach directions they were not "
        "trained on."
    )
    fit_test = select(fit_rows(tests, study.STARTS[0], held_out=True), contrast=f"{ffh}-{ff}")
    parts = [
        f"Measured here: on the held-out directions FFH's clean-start output R² is "
        f"{held_fit[ffh]:.3f} against FF's {held_fit[ff]:.3f} (training directions "
        f"{train_fit[ffh]:.3f} and {train_fit[ff]:.3f})"
    ]
    if not fit_test.empty:
        parts[0] += f", FFH − FF {_contrast(fit_test.iloc[0], unit)}"
    if ffh in similarity:
        others = [m for m in (ff, study.FFH_SHUFFLED, study.FFH_MEAN) if m in similarity]
        against = ", ".join(f"{study.model(m).label} {similarity[m]:.3f}" for m in others)
        text = (
            f"its condition-specific similarity to the unobserved SOC neurons on the held-out "
            f"directions (mean canonical correlation, k = {k}) is {similarity[ffh]:.3f} against "
            f"{against}"
        )
        sim_tests = select(
            tests,
            population="unobserved",
            metric="cca",
            k=k,
            component="condition",
            validation=study.HELD_OUT_DIRECTIONS,
        )
        contrasts = [
            f"FFH − {_SHORT.get(m, m)} {_contrast(row.iloc[0], unit)}"
            for m in others
            if not (row := select(sim_tests, contrast=f"{ffh}-{m}")).empty
        ]
        if contrasts:
            text += f" ({'; '.join(contrasts)})"
        parts.append(text)
    return [claim, "; ".join(parts) + "."]


def recording_sentences(
    summary: pd.DataFrame,
    paired: pd.DataFrame,
    k: int,
    co_smoothing: pd.DataFrame | None = None,
    validity: pd.DataFrame | None = None,
) -> list[str]:
    """With a spike recording, the answer at each number of trials per direction (none for a
    study of exact rates).

    Per trial count (every other axis at its first value): FFH's condition-specific,
    cross-validated similarity to the unobserved neurons (mean canonical correlation at
    ``k``) against FF's and both shams', the three contrasts, the trial-split ceiling and the
    data baseline; with ``co_smoothing`` (``co_smoothing_summary.csv``) each model's
    co-smoothing bits per spike and the smoothing baseline's; with ``validity``
    (``co_smoothing_validity.csv``) the rank correlations between co-smoothing and the true
    similarity.
    """
    axis = study.N_TRIALS
    if axis not in summary.columns:
        return []
    n_over = paired["n_over"].iloc[0] if len(paired) else study.SEED
    unit = "circuits" if n_over == study.GROUND_TRUTH_SEED else "seeds"
    key = {**HEADLINE, "component": "condition", "k": k}
    sentences = []
    for n_trials in sorted(summary[axis].dropna().unique()):
        means = _first_cell(select(summary, quantity="value", **{axis: n_trials}), n_over)
        tests = _first_cell(select(paired, **{axis: n_trials}), n_over)
        mean = select(means, **key).set_index("model")["mean"]
        rows = select(tests, **key)
        if study.FFH not in mean:
            continue
        others = ", ".join(
            f"{study.model(b).label} {mean[b]:.3f}" for _, b in study.CONTRASTS if b in mean
        )
        contrasts = "; ".join(
            f"FFH − {_SHORT.get(b, b)} {_contrast(row.iloc[0], unit)}"
            for a, b in study.CONTRASTS
            if not (row := select(rows, contrast=f"{a}-{b}")).empty
        )
        ceiling = select(means, **{**key, "population": "observed"}, model=study.TRIAL_SPLIT)
        text = (
            f"With {int(n_trials)} trials per direction, FFH's condition-specific, "
            f"cross-validated similarity to the unobserved SOC neurons (mean canonical "
            f"correlation, k = {k}) is {mean[study.FFH]:.3f} against {others} ({contrasts})"
        )
        if not ceiling.empty:
            text += (
                f"; the trial-split ceiling of the recorded neurons is "
                f"{ceiling['mean'].iloc[0]:.3f}"
            )
        if study.BASELINE in mean:
            text += f" and the data baseline {mean[study.BASELINE]:.3f}"
        if co_smoothing is not None:
            bps = _first_dynamics_cell(select(co_smoothing, **{axis: n_trials}))
            bps = bps.set_index("model")["mean"]
            names = [m for m in (*study.MODEL_NAMES, study.SMOOTHING_BASELINE) if m in bps]
            text += "; co-smoothing bits per spike on the held-out recorded neurons: " + ", ".join(
                f"{_LABELS.get(m, m)} {bps[m]:.3f}" for m in names
            )
        sentences.append(text + ".")
    if validity is not None:
        pooled = validity[validity[axis].isna()].set_index("scope")
        if {"runs_and_models", "models_within_run"} <= set(pooled.index):
            every, within = pooled.loc["runs_and_models"], pooled.loc["models_within_run"]
            sentences.append(
                f"Does co-smoothing rank models like the true similarity? Spearman's rho "
                f"between the two over every run and model is {every['rho']:.2f} "
                f"(n = {int(every['n'])}, p = {_p(every['p'])}); across the models of one run, "
                f"averaged over {int(within['n'])} runs, {within['rho']:.2f}."
            )
    return sentences


def findings_html(
    summary: pd.DataFrame,
    paired: pd.DataFrame,
    fit: pd.DataFrame,
    k: int,
    co_smoothing: pd.DataFrame | None = None,
    validity: pd.DataFrame | None = None,
) -> str:
    """The report's answer page: the sentences, the fit gate's failures and both tables.

    Parameters
    ----------
    summary, paired, fit : pandas.DataFrame
        ``summary.csv``, ``paired_tests.csv`` and ``fit.csv``.
    k : int
        Number of PCA factors of the headline comparison.
    co_smoothing, validity : pandas.DataFrame, optional
        With a spike recording: ``co_smoothing_summary.csv`` and
        ``co_smoothing_validity.csv`` (see :func:`recording_sentences`).

    Returns
    -------
    str
        A self-contained HTML page.
    """
    sentences = contrast_sentences(summary, paired, k)
    generalisation = generalisation_sentences(summary, paired, k)
    recording = recording_sentences(summary, paired, k, co_smoothing, validity)
    failed = fit[stats.deciding_rows(fit) & ~fit["passes_fit_gate"].astype(bool)]
    if failed.empty:
        gate = "<p>Every model passed the fit gate (clean-start output R² above threshold).</p>"
    else:
        gate = (
            f"<p>{len(failed)} model runs failed the fit gate and are left out of the "
            "statistics:</p>" + failed.to_html(index=False)
        )
    headline = select(summary, k=k, **HEADLINE)
    headline_tests = select(paired, k=k, **HEADLINE)
    parts = [
        "<html><head><meta charset='utf-8'><title>hintforce: the answer</title></head><body>",
        "<h2>Does FFH recover the unobserved neurons' dynamics?</h2>",
        *(f"<p>{html.escape(s)}</p>" for s in sentences),
        *(
            ["<h2>Does FFH generalise to reach directions it was not trained on?</h2>"]
            if generalisation
            else []
        ),
        *(f"<p>{html.escape(s)}</p>" for s in generalisation),
        *(["<h2>Does the answer survive a realistic recording?</h2>"] if recording else []),
        *(f"<p>{html.escape(s)}</p>" for s in recording),
        "<h3>Fit gate</h3>",
        gate,
        "<h3>Headline rows of paired_tests.csv</h3>",
        headline_tests.to_html(index=False, float_format=lambda v: f"{v:.4g}"),
        "<h3>Headline rows of summary.csv</h3>",
        headline.to_html(index=False, float_format=lambda v: f"{v:.4g}"),
        "<p>All rows: results/&lt;study&gt;/tables/summary.csv and paired_tests.csv.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


#: The mechanism measures the findings state (every measure is in the page's table).
MECHANISM_HEADLINE = (
    "return_to_rest",
    "abscissa_rest",
    "slow_modes_rest",
    "amplification_peak",
    "stable_fixed_points",
    "dsa_unobserved",
)


def _first_dynamics_cell(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of the first sweep cell of a dynamics table (every axis at its first value)."""
    return first_cell(table)[0]


def _mechanism_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Model x measure: the mean over seeds (the SOC's column first) of the first cell."""
    values = _first_dynamics_cell(summary[summary["quantity"] == "value"])
    table = values.pivot_table(index="measure", columns="model", values="mean", sort=False)
    models = [m for m in (study.CEILING, *study.MODEL_NAMES) if m in table.columns]
    return table[models]


def mechanism_sentences(summary: pd.DataFrame, tests: pd.DataFrame) -> list[str]:
    """One sentence per measure of :data:`MECHANISM_HEADLINE`: the SOC's value, each model's,
    and FFH's contrasts in distance to the SOC (first sweep cell); then, when a network's rest
    Jacobian is unstable, that its amplification peak is growth rather than a transient."""
    table = _mechanism_table(summary)
    tests = _first_dynamics_cell(tests)
    sentences = []
    for measure in (m for m in MECHANISM_HEADLINE if m in table.index):
        row = table.loc[measure]
        values = ", ".join(f"{m} {row[m]:.3g}" for m in row.index if math.isfinite(row[m]))
        parts = []
        for _, t in select(tests, measure=measure).iterrows():
            other = t["contrast"].split("-", 1)[1]
            parts.append(
                f"FFH is closer than {_SHORT.get(other, other)} in {int(t['wins'])} of "
                f"{int(t['n'])} seeds (mean distance difference {t['mean_difference']:+.3g}, "
                f"t-test p = {_p(t['ttest_p'])}, Holm p = {_p(t['holm_ttest_p'])})"
            )
        sentences.append(f"{measure}: {values}. " + "; ".join(parts) + ".")
    if {"abscissa_rest", "amplification_peak"} <= set(table.index):
        unstable = [m for m in table.columns if table.loc["abscissa_rest", m] > 0]
        if unstable:
            sentences.append(
                f"The rest state of {', '.join(unstable)} is unstable (mean spectral abscissa "
                "at rest above 0): their amplification_peak is growth up to the horizon, not a "
                "transient."
            )
    return sentences


def mechanism_html(summary: pd.DataFrame, tests: pd.DataFrame) -> str:
    """The report's mechanism page: the sentences, the model x measure table next to the SOC's
    values, and the contrasts on distance to the SOC (first sweep cell)."""
    parts = [
        "<html><head><meta charset='utf-8'><title>hintforce: mechanism</title></head><body>",
        "<h2>Do the models work like the SOC?</h2>",
        "<p>Each network runs freely past its trial; a model wins a contrast in a measure "
        "when its value lies closer to the SOC's (dynamical similarity: when its distance to "
        "the SOC is smaller).</p>",
        *(f"<p>{html.escape(s)}</p>" for s in mechanism_sentences(summary, tests)),
        "<h3>Mean over seeds per model (first sweep cell)</h3>",
        _mechanism_table(summary).to_html(float_format=lambda v: f"{v:.4g}"),
        "<h3>Contrasts on distance to the SOC</h3>",
        _first_dynamics_cell(tests).to_html(index=False, float_format=lambda v: f"{v:.4g}"),
        "<p>All rows: results/&lt;study&gt;/tables/dynamics_summary.csv and "
        "dynamics_tests.csv.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)
