"""The study's answer in words, generated from its tables.

:func:`contrast_sentences` states each paired contrast of :data:`hintforce.study.CONTRASTS`
for the headline comparison (similarity to the unobserved SOC neurons, cross-validated, mean
canonical correlation at the largest k), on the condition-specific part of the activity and
on the full activity; every number comes from ``summary.csv`` and ``paired_tests.csv``.
:func:`findings_html` wraps them, the models that failed the fit gate and the two tables into
the page the report shows first.
"""

from __future__ import annotations

import html
import math

import pandas as pd

from hintforce import study

__all__ = ["HEADLINE", "contrast_sentences", "findings_html"]

#: The row key of the headline comparison (besides k and component).
HEADLINE = {"population": "unobserved", "metric": "cca", "validation": "cross_validated"}
_COMPONENT_WORDS = {
    "condition": "the condition-specific part of the activity",
    "full": "the full activity",
}


def _first_cell(table: pd.DataFrame, n_over: str) -> pd.DataFrame:
    """Rows of the first sweep cell (every axis but the seed at its first value); with several
    circuits, the cross-circuit rows."""
    rows = table[table["n_over"] == n_over]
    for name in study.AXIS_NAMES:
        if name in rows and rows[name].notna().any():
            rows = rows[rows[name] == rows[name].dropna().min()]
    return rows


def _select(table: pd.DataFrame, **keys) -> pd.DataFrame:
    mask = pd.Series(True, index=table.index)
    for column, value in keys.items():
        mask &= table[column] == value
    return table[mask]


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
        paired-t and Wilcoxon p-values (Holm-adjusted across the table in brackets) and, when
        the number of pairs cannot give a Wilcoxon p below 0.05, a statement saying so.
    """
    n_over = paired["n_over"].iloc[0] if len(paired) else study.SEED
    means = _first_cell(_select(summary, quantity="value", k=k, **HEADLINE), n_over)
    tests = _first_cell(_select(paired, k=k, **HEADLINE), n_over)
    unit = "circuits" if n_over == study.GROUND_TRUTH_SEED else "seeds"
    sentences = []
    for component in ("condition", "full"):
        for a, b in study.CONTRASTS:
            row = _select(tests, component=component, contrast=f"{a}-{b}")
            mean = _select(means, component=component).set_index("model")["mean"]
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


def findings_html(summary: pd.DataFrame, paired: pd.DataFrame, fit: pd.DataFrame, k: int) -> str:
    """The report's answer page: the sentences, the fit gate's failures and both tables.

    Parameters
    ----------
    summary, paired, fit : pandas.DataFrame
        ``summary.csv``, ``paired_tests.csv`` and ``fit.csv``.
    k : int
        Number of PCA factors of the headline comparison.

    Returns
    -------
    str
        A self-contained HTML page.
    """
    sentences = contrast_sentences(summary, paired, k)
    failed = fit[(fit["start"] == study.STARTS[0]) & ~fit["passes_fit_gate"].astype(bool)]
    if failed.empty:
        gate = "<p>Every model passed the fit gate (clean-start output R² above threshold).</p>"
    else:
        gate = (
            f"<p>{len(failed)} model runs failed the fit gate and are left out of the "
            "statistics:</p>" + failed.to_html(index=False)
        )
    headline = _select(summary, k=k, **HEADLINE)
    headline_tests = _select(paired, k=k, **HEADLINE)
    parts = [
        "<html><head><meta charset='utf-8'><title>hintforce: the answer</title></head><body>",
        "<h2>Does FFH recover the unobserved neurons' dynamics?</h2>",
        *(f"<p>{html.escape(s)}</p>" for s in sentences),
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
