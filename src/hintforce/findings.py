"""The study's answer in words, generated from its tables.

The answer comes first, one sentence per question the study answers (:func:`answers`), with
a compact table of the headline score per model next to its permutation null, the shams, the
ceiling and the data baseline (:func:`score_table`; with held-out directions
:func:`generalisation_table`). Two documents carry it:

* :func:`answer_rst`: the HTML report's landing text (reStructuredText; the report's front
  page), the answer before the study's description;
* :func:`findings_html`: the report's answer page, the answer, then the detail: every paired
  contrast of :data:`hintforce.study.CONTRASTS` on both components (:func:`contrast_table`,
  :func:`contrast_sentences` in words), the generalisation and recording sentences, the models
  that failed the fit gate and the headline rows of both tables.

The headline comparison is the similarity to the unobserved SOC neurons, cross-validated,
mean canonical correlation at the largest k (:data:`HEADLINE`), on the condition-specific
part of the activity (:data:`HEADLINE_COMPONENT`). :func:`mechanism_html` states, from
``dynamics_summary.csv`` and ``dynamics_tests.csv``, how close each model's mechanism comes to
the SOC's. Every number comes from the tables; rows are picked by :mod:`hintforce.selection`.
"""

from __future__ import annotations

import html
import math

import pandas as pd

from hintforce import stats, study
from hintforce.selection import first_cell, fit_rows, select

__all__ = [
    "ALPHA",
    "HEADLINE",
    "HEADLINE_COMPONENT",
    "MECHANISM_HEADLINE",
    "QUESTIONS",
    "answer_rst",
    "answers",
    "contrast_sentences",
    "contrast_table",
    "findings_html",
    "generalisation_sentences",
    "generalisation_table",
    "mechanism_html",
    "mechanism_sentences",
    "recording_sentences",
    "score_table",
]

#: The row key of the headline comparison (besides k and component).
HEADLINE = {"population": "unobserved", "metric": "cca", "validation": "cross_validated"}
#: The component of the one-sentence answer and the compact table: the condition-specific
#: part of the activity, which shared timing alone cannot explain.
HEADLINE_COMPONENT = "condition"
#: The level below which the answer calls a Holm-adjusted paired t p significant.
ALPHA = 0.05
#: The questions the study answers, in the order the answer states them.
QUESTIONS = {
    "similarity": "Does FFH recover the dynamics of the SOC neurons it never saw?",
    "generalisation": "Does FFH generalise to reach directions it was not trained on?",
    "recording": "Does the answer survive a realistic recording?",
    "co_smoothing": "Does co-smoothing rank models like the true similarity?",
    "mechanism": "Do the models work like the SOC?",
}
# The contrasted models as a contrast names them ("FFH − shuffled hints").
_SHORT = {study.FF: "FF", study.FFH_SHUFFLED: "shuffled hints", study.FFH_MEAN: "mean hints"}
_LABELS = {
    **{m.name: m.label for m in study.MODELS},
    study.CEILING: "SOC (ceiling)",
    study.BASELINE: "observed SOC neurons (data baseline)",
    study.RELIABILITY: "split halves of the SOC (reliability)",
    study.TRIAL_SPLIT: "trial halves, recorded neurons (noise ceiling)",
    study.SMOOTHING_BASELINE: "smoothing baseline",
}
_COMPONENT_WORDS = {
    "condition": "the condition-specific part of the activity",
    "full": "the full activity",
}
# Columns of paired_tests.csv a contrast row of contrast_table carries.
_TEST_COLUMNS = (
    "mean_difference",
    "wins",
    "n",
    "ttest_p",
    "holm_ttest_p",
    "wilcoxon_p",
    "holm_wilcoxon_p",
    "wilcoxon_min_p",
)


def _first_cell(table: pd.DataFrame, n_over: str) -> pd.DataFrame:
    """Rows of the first sweep cell summarised over ``n_over``."""
    return first_cell(table, n_over=n_over)[0]


def _n_over(paired: pd.DataFrame) -> str:
    """What the statistics count: ``seed``, or ``ground_truth_seed`` across circuits."""
    return paired["n_over"].iloc[0] if len(paired) else study.SEED


def _unit(n_over: str) -> str:
    return "circuits" if n_over == study.GROUND_TRUTH_SEED else "seeds"


def _p(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.2g}"


def _label(name: str) -> str:
    return _LABELS.get(name, name)


def contrast_table(summary: pd.DataFrame, paired: pd.DataFrame, k: int) -> pd.DataFrame:
    """Every contrast and component of the headline comparison (first sweep cell).

    Returns
    -------
    pandas.DataFrame
        One row per component (condition-specific first) and contrast ``a - b`` whose models
        both have a mean: ``component, a, b, mean_a, mean_b`` (``summary.csv``) and the
        contrast's ``mean_difference, wins, n, ttest_p, holm_ttest_p, wilcoxon_p,
        holm_wilcoxon_p, wilcoxon_min_p`` (``paired_tests.csv``).
    """
    n_over = _n_over(paired)
    means = _first_cell(select(summary, quantity="value", k=k, **HEADLINE), n_over)
    tests = _first_cell(select(paired, k=k, **HEADLINE), n_over)
    rows = []
    for component in (
        HEADLINE_COMPONENT,
        *(c for c in _COMPONENT_WORDS if c != HEADLINE_COMPONENT),
    ):
        mean = select(means, component=component).set_index("model")["mean"]
        for a, b in study.CONTRASTS:
            row = select(tests, component=component, contrast=f"{a}-{b}")
            if row.empty or a not in mean or b not in mean:
                continue
            tested = row.iloc[0][list(_TEST_COLUMNS)].to_dict()
            rows.append({"component": component, "a": a, "b": b} | tested)
            rows[-1] |= {"mean_a": mean[a], "mean_b": mean[b]}
    columns = ["component", "a", "b", "mean_a", "mean_b", *_TEST_COLUMNS]
    return pd.DataFrame(rows, columns=columns)


def _wilcoxon_note(n: int, min_p: float, unit: str) -> str:
    return (
        f"With {n} pairs no Wilcoxon p can fall below {min_p:.3g}: more {unit} are needed "
        "for that test."
    )


def contrast_sentences(summary: pd.DataFrame, paired: pd.DataFrame, k: int) -> list[str]:
    """One sentence per contrast and component for the headline comparison (the rows of
    :func:`contrast_table` in words).

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
        brackets) and, when the number of pairs cannot give a Wilcoxon p below 0.05, a
        statement saying so.
    """
    unit = _unit(_n_over(paired))
    sentences = []
    for _, row in contrast_table(summary, paired, k).iterrows():
        a, b = row["a"], row["b"]
        better = "higher" if row["mean_difference"] > 0 else "not higher"
        text = (
            f"On {_COMPONENT_WORDS[row['component']]}, cross-validated, "
            f"{study.model(a).label}'s mean canonical correlation with the unobserved SOC "
            f"neurons (k = {k}) is {row['mean_a']:.3f} against {row['mean_b']:.3f} for "
            f"{study.model(b).label}: {better} by {row['mean_difference']:+.3f}, better in "
            f"{row['wins']} of {row['n']} {unit} (paired t p = {_p(row['ttest_p'])} "
            f"[Holm {_p(row['holm_ttest_p'])}], Wilcoxon p = {_p(row['wilcoxon_p'])} "
            f"[Holm {_p(row['holm_wilcoxon_p'])}])."
        )
        if row["wilcoxon_min_p"] >= 0.05:
            text += " " + _wilcoxon_note(row["n"], row["wilcoxon_min_p"], unit)
        sentences.append(text)
    return sentences


def _contrast_cells(table: pd.DataFrame, unit: str) -> pd.DataFrame:
    """:func:`contrast_table` as the answer page shows it, every number as the sentences
    of :func:`contrast_sentences` write it."""
    return pd.DataFrame(
        {
            "activity": table["component"].map({"condition": "condition-specific", "full": "full"}),
            "contrast": [f"FFH − {_SHORT.get(b, b)}" for b in table["b"]],
            "FFH": table["mean_a"].map("{:.3f}".format),
            "other": table["mean_b"].map("{:.3f}".format),
            "difference": table["mean_difference"].map("{:+.3f}".format),
            f"better in ({unit})": [
                f"{w} of {n}" for w, n in zip(table["wins"], table["n"], strict=True)
            ],
            "paired t p [Holm]": [
                f"{_p(p)} [Holm {_p(h)}]"
                for p, h in zip(table["ttest_p"], table["holm_ttest_p"], strict=True)
            ],
            "Wilcoxon p [Holm]": [
                f"{_p(p)} [Holm {_p(h)}]"
                for p, h in zip(table["wilcoxon_p"], table["holm_wilcoxon_p"], strict=True)
            ],
            "lowest possible Wilcoxon p": table["wilcoxon_min_p"].map("{:.3g}".format),
        }
    )


def score_table(
    summary: pd.DataFrame,
    paired: pd.DataFrame,
    k: int,
    co_smoothing: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, object]]:
    """The compact table: the headline score of every model and reference row (first sweep
    cell, condition-specific).

    Returns
    -------
    table : pandas.DataFrame
        Indexed by model, the models first, then the reference rows (with a spike recording
        the trial-split noise ceiling, whose population is the recorded neurons): ``label``;
        from ``summary.csv`` ``n``, ``mean``, ``ci_low``, ``ci_high`` (the 95% interval over
        seeds, or circuits) and ``null_mean`` (the permutation null's mean); from
        ``paired_tests.csv``, for each model FFH is contrasted with, ``difference`` (FFH minus
        the model), ``wins`` and ``holm_ttest_p``; with ``co_smoothing``
        (``co_smoothing_summary.csv``) ``bits_per_spike``, and the smoothing baseline's row.
    cell : dict
        The sweep cell (:func:`hintforce.selection.first_cell`).
    """
    n_over = _n_over(paired)
    key = {**HEADLINE, "k": k, "component": HEADLINE_COMPONENT}
    rows, cell = first_cell(select(summary, **key), n_over=n_over)
    noise = select(summary, **key | {"population": "observed"}, model=study.TRIAL_SPLIT)
    rows = pd.concat([rows, _first_cell(noise, n_over)])
    values = select(rows, quantity="value").set_index("model")
    null = select(rows, quantity="null_mean").set_index("model")["mean"]
    order = [m for m in (*study.MODEL_NAMES, *study.REFERENCES) if m in values.index]
    table = values.loc[order, ["n", "mean", "ci_low", "ci_high"]]
    table = table.assign(null_mean=null, difference=math.nan, wins=math.nan, holm_ttest_p=math.nan)
    tests = _first_cell(select(paired, **key), n_over)
    for a, b in study.CONTRASTS:
        row = select(tests, contrast=f"{a}-{b}")
        if not row.empty and b in table.index:
            tested = row.iloc[0][["mean_difference", "wins", "holm_ttest_p"]].to_numpy(float)
            table.loc[b, ["difference", "wins", "holm_ttest_p"]] = tested
    if co_smoothing is not None:
        bps = first_cell(co_smoothing)[0].set_index("model")["mean"]
        if study.SMOOTHING_BASELINE in bps:
            table.loc[study.SMOOTHING_BASELINE, "n"] = math.nan
        table["bits_per_spike"] = bps.reindex(table.index)
    table.insert(0, "label", [_label(m) for m in table.index])
    return table, cell


def _interval(mean: float, low: float, high: float) -> str:
    if not math.isfinite(mean):
        return ""
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{mean:.3f}"
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def _score_cells(table: pd.DataFrame, unit: str) -> pd.DataFrame:
    """:func:`score_table` as the landing text and the answer page show it."""
    number = "{:.3f}".format
    cells = pd.DataFrame(
        {
            "model": table["label"],
            f"score [95% interval over {unit}]": [
                _interval(*r) for r in table[["mean", "ci_low", "ci_high"]].to_numpy()
            ],
            "permutation null": [number(v) if math.isfinite(v) else "" for v in table.null_mean],
            "FFH − model [Holm p]": [
                f"{d:+.3f} [{_p(p)}]" if math.isfinite(d) else ""
                for d, p in zip(table["difference"], table["holm_ttest_p"], strict=True)
            ],
        }
    )
    if "bits_per_spike" in table:
        cells["co-smoothing (bits/spike)"] = [
            number(v) if math.isfinite(v) else "" for v in table["bits_per_spike"]
        ]
    return cells


def _score_caption(
    table: pd.DataFrame, cell: dict, summary: pd.DataFrame, k: int, unit: str
) -> str:
    """What the compact table shows: the score, k, the number of seeds, the sweep cell."""
    swept = [a for a, v in cell.items() if summary[a].nunique() > 1 and not pd.isna(v)]
    where = "; ".join(f"{a} {cell[a]:g}" for a in swept)
    n = table["n"].dropna()
    counted = f", {int(n.max())} {unit}" if len(n) else ""
    return (
        f"Similarity to the unobserved SOC neurons: condition-specific, cross-validated mean "
        f"canonical correlation, k = {k}{counted} (mean, 95% t-interval)"
        + (f"; sweep cell {where}" if where else "")
    )


def _join(words: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _similarity_answer(table: pd.DataFrame, k: int, unit: str) -> str | None:
    """The headline question in one sentence, from :func:`score_table`: FFH's score, whether
    it lies above FF and each sham (significantly: Holm-adjusted paired t p below
    :data:`ALPHA`), next to its null, the ceiling and the data baseline."""
    if study.FFH not in table.index:
        return None
    ffh = table.loc[study.FFH]
    above, unproven, below = [], [], []
    for _, b in study.CONTRASTS:
        if b not in table.index or not math.isfinite(table.loc[b, "difference"]):
            continue
        row = table.loc[b]
        if row["difference"] <= 0:
            below.append(_SHORT.get(b, b))
        elif row["holm_ttest_p"] < ALPHA:
            above.append(_SHORT.get(b, b))
        else:
            unproven.append(_SHORT.get(b, b))
    tested = len(above) + len(unproven) + len(below)
    if tested and len(above) == tested and ffh["mean"] > ffh["null_mean"]:
        verdict = "Yes"
    else:
        verdict = "In part" if above else "Not shown"
    parts = [
        *([f"significantly above {_join(above)}"] if above else []),
        *([f"above {_join(unproven)} but not significantly"] if unproven else []),
        *([f"not above {_join(below)}"] if below else []),
    ]
    scale = [f"its permutation null is {ffh['null_mean']:.3f}"] + [
        f"the {what} {table.loc[name, 'mean']:.3f}"
        for name, what in ((study.CEILING, "SOC ceiling"), (study.BASELINE, "data baseline"))
        if name in table.index
    ]
    n = f", {int(ffh['n'])} {unit}" if math.isfinite(ffh["n"]) else ""
    text = (
        f"{verdict}: FFH's condition-specific, cross-validated similarity to the unobserved "
        f"SOC neurons (mean canonical correlation, k = {k}{n}) is "
        f"{_interval(ffh['mean'], ffh['ci_low'], ffh['ci_high'])}"
    )
    if parts:
        text += f", {_join(parts)} (significance: Holm-adjusted paired t-test, p < {ALPHA:g})"
    return f"{text}; for scale, {_join(scale)}."


def _contrast(row: pd.Series, unit: str) -> str:
    """``+0.050, better in 5 of 5 seeds, paired t p = 0.01``."""
    return (
        f"{row['mean_difference']:+.3f}, better in {row['wins']} of {row['n']} {unit}, "
        f"paired t p = {_p(row['ttest_p'])}"
    )


def _held_out_key(k: int) -> dict[str, object]:
    """The headline row key on the held-out directions."""
    return {
        **HEADLINE,
        "k": k,
        "component": HEADLINE_COMPONENT,
        "validation": study.HELD_OUT_DIRECTIONS,
    }


def generalisation_table(summary: pd.DataFrame, paired: pd.DataFrame, k: int) -> pd.DataFrame:
    """With held-out directions, per model (first sweep cell): ``label``, the clean-start
    output R² on the training directions (``r2_train``) and on the held-out directions
    (``r2_held_out``) and the condition-specific similarity to the unobserved SOC neurons on
    the held-out directions (``similarity_held_out``: mean canonical correlation at ``k``),
    every value a mean over seeds from ``summary.csv``. Empty when the study holds no
    direction out."""
    means = _first_cell(select(summary, quantity="value"), _n_over(paired))
    held = fit_rows(means, study.STARTS[0], held_out=True).set_index("model")["mean"]
    if held.empty:
        return pd.DataFrame(columns=["label", "r2_train", "r2_held_out", "similarity_held_out"])
    train = fit_rows(means, study.STARTS[0], held_out=False).set_index("model")["mean"]
    similarity = select(means, **_held_out_key(k)).set_index("model")["mean"]
    order = [m for m in study.MODEL_NAMES if m in held.index]
    return pd.DataFrame(
        {
            "label": [_label(m) for m in order],
            "r2_train": train.reindex(order).to_numpy(),
            "r2_held_out": held.reindex(order).to_numpy(),
            "similarity_held_out": similarity.reindex(order).to_numpy(),
        },
        index=order,
    )


def _generalisation_cells(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`generalisation_table` as the landing text and the answer page show it."""
    cells = {"model": table["label"]}
    for column, title in (
        ("r2_train", "output R², training directions"),
        ("r2_held_out", "output R², held-out directions"),
        ("similarity_held_out", "similarity, held-out directions"),
    ):
        cells[title] = [f"{v:.3f}" if math.isfinite(v) else "" for v in table[column]]
    return pd.DataFrame(cells)


def _generalisation_answer(summary: pd.DataFrame, paired: pd.DataFrame, k: int) -> str | None:
    """The measured answer to the generalisation question (see
    :func:`generalisation_sentences`), or None when the study holds no direction out."""
    table = generalisation_table(summary, paired, k)
    if table.empty:
        return None
    unit = _unit(_n_over(paired))
    tests = _first_cell(paired, _n_over(paired))
    ffh, ff = table.loc[study.FFH], table.loc[study.FF]
    fit_test = fit_rows(tests, study.STARTS[0], held_out=True)
    fit_test = select(fit_test, contrast=f"{study.FFH}-{study.FF}")
    parts = [
        f"On the held-out directions FFH's clean-start output R² is "
        f"{ffh['r2_held_out']:.3f} against FF's {ff['r2_held_out']:.3f} (training directions "
        f"{ffh['r2_train']:.3f} and {ff['r2_train']:.3f})"
    ]
    if not fit_test.empty:
        parts[0] += f", FFH − FF {_contrast(fit_test.iloc[0], unit)}"
    similarity = table["similarity_held_out"].dropna()
    if study.FFH in similarity:
        others = [m for m in (study.FF, study.FFH_SHUFFLED, study.FFH_MEAN) if m in similarity]
        against = ", ".join(f"{_label(m)} {similarity[m]:.3f}" for m in others)
        text = (
            f"its condition-specific similarity to the unobserved SOC neurons on the held-out "
            f"directions (mean canonical correlation, k = {k}) is "
            f"{similarity[study.FFH]:.3f} against {against}"
        )
        sim_tests = select(tests, **_held_out_key(k))
        contrasts = [
            f"FFH − {_SHORT.get(m, m)} {_contrast(row.iloc[0], unit)}"
            for m in others
            if not (row := select(sim_tests, contrast=f"{study.FFH}-{m}")).empty
        ]
        if contrasts:
            text += f" ({'; '.join(contrasts)})"
        parts.append(text)
    return "; ".join(parts) + "."


def generalisation_sentences(summary: pd.DataFrame, paired: pd.DataFrame, k: int) -> list[str]:
    """The paper's generalisation claim and the measured answer, one sentence each (none when
    the study holds no direction out).

    The answer compares FFH with FF on the held-out directions' clean-start output R² (next to
    both models' R² on the training directions) and with FF and each sham on the held-out
    directions' condition-specific similarity to the unobserved SOC neurons (mean canonical
    correlation at ``k``); every number comes from ``summary.csv`` (through
    :func:`generalisation_table`) and ``paired_tests.csv``.
    """
    answer = _generalisation_answer(summary, paired, k)
    if answer is None:
        return []
    claim = (
        "The study's paper (Salatiello & Giese 2020) reports that training with hints "
        "significantly improves the networks' generalisation to reach directions they were not "
        "trained on."
    )
    return [claim, f"Measured here: {answer[0].lower()}{answer[1:]}"]


def _trial_cells(summary: pd.DataFrame, paired: pd.DataFrame, k: int) -> list[tuple]:
    """With a spike recording, per number of trials per direction (every other axis at its
    first value) where FFH has a score: the count, the headline means by model
    (condition-specific), their contrasts and the cell's value rows of ``summary.csv``."""
    axis = study.N_TRIALS
    if axis not in summary.columns:
        return []
    n_over = _n_over(paired)
    key = {**HEADLINE, "component": HEADLINE_COMPONENT, "k": k}
    cells = []
    for n_trials in sorted(summary[axis].dropna().unique()):
        means = _first_cell(select(summary, quantity="value", **{axis: n_trials}), n_over)
        mean = select(means, **key).set_index("model")["mean"]
        if study.FFH in mean:
            tests = _first_cell(select(paired, **{axis: n_trials}), n_over)
            cells.append((int(n_trials), mean, select(tests, **key), means))
    return cells


def _validity_sentence(validity: pd.DataFrame) -> str | None:
    """The rank correlations of ``co_smoothing_validity.csv`` (its pooled rows) in words."""
    pooled = validity[validity[study.N_TRIALS].isna()].set_index("scope")
    if not {"runs_and_models", "models_within_run"} <= set(pooled.index):
        return None
    every, within = pooled.loc["runs_and_models"], pooled.loc["models_within_run"]
    return (
        f"Spearman's rho "
        f"between the two over every run and model is {every['rho']:.2f} "
        f"(n = {int(every['n'])}, p = {_p(every['p'])}); across the models of one run, "
        f"averaged over {int(within['n'])} runs, {within['rho']:.2f}."
    )


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
    if study.N_TRIALS not in summary.columns:
        return []
    unit = _unit(_n_over(paired))
    key = {**HEADLINE, "component": HEADLINE_COMPONENT, "k": k}
    sentences = []
    for n_trials, mean, rows, means in _trial_cells(summary, paired, k):
        others = ", ".join(f"{_label(b)} {mean[b]:.3f}" for _, b in study.CONTRASTS if b in mean)
        contrasts = "; ".join(
            f"FFH − {_SHORT.get(b, b)} {_contrast(row.iloc[0], unit)}"
            for a, b in study.CONTRASTS
            if not (row := select(rows, contrast=f"{a}-{b}")).empty
        )
        ceiling = select(means, **{**key, "population": "observed"}, model=study.TRIAL_SPLIT)
        text = (
            f"With {n_trials} trials per direction, FFH's condition-specific, "
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
            bps = first_cell(select(co_smoothing, **{study.N_TRIALS: n_trials}))[0]
            bps = bps.set_index("model")["mean"]
            names = [m for m in (*study.MODEL_NAMES, study.SMOOTHING_BASELINE) if m in bps]
            text += "; co-smoothing bits per spike on the held-out recorded neurons: " + ", ".join(
                f"{_label(m)} {bps[m]:.3f}" for m in names
            )
        sentences.append(text + ".")
    if validity is not None and (sentence := _validity_sentence(validity)) is not None:
        sentences.append(f"{QUESTIONS['co_smoothing']} {sentence}")
    return sentences


def _recording_answer(summary: pd.DataFrame, paired: pd.DataFrame, k: int) -> str | None:
    """The recording question in one sentence: FFH against FF at each trial count."""
    unit = _unit(_n_over(paired))
    clauses = []
    for n_trials, mean, rows, _ in _trial_cells(summary, paired, k):
        row = select(rows, contrast=f"{study.FFH}-{study.FF}")
        if study.FF in mean and not row.empty:
            clauses.append(
                f"{mean[study.FFH]:.3f} against FF's {mean[study.FF]:.3f} with {n_trials} "
                f"trials per direction (FFH − FF {_contrast(row.iloc[0], unit)})"
            )
    if not clauses:
        return None
    return (
        f"Trained on the PSTHs of a spike recording, FFH's condition-specific, cross-validated "
        f"similarity to the unobserved SOC neurons (mean canonical correlation, k = {k}) is "
        + "; ".join(clauses)
        + "."
    )


def _mechanism_answer(summary: pd.DataFrame, tests: pd.DataFrame) -> str | None:
    """The mechanism question in one sentence: in how many of :data:`MECHANISM_HEADLINE`'s
    measures FFH's value lies closer to the SOC's than each other model's, on average over
    seeds (``dynamics_tests.csv``, first sweep cell), and in which significantly."""
    measures = [m for m in MECHANISM_HEADLINE if m in _mechanism_table(summary).index]
    tests = _first_dynamics_cell(tests)
    clauses, any_significant = [], False
    for a, b in study.CONTRASTS:
        rows = [select(tests, measure=m, contrast=f"{a}-{b}") for m in measures]
        rows = [r.iloc[0] for r in rows if not r.empty]
        if not rows:
            continue
        closer = [r for r in rows if r["mean_difference"] < 0]
        significant = [r["measure"] for r in closer if r["holm_ttest_p"] < ALPHA]
        clauses.append(f"than {_SHORT.get(b, b)} in {len(closer)} of {len(rows)}")
        if significant:
            clauses[-1] += f" ({len(significant)} significantly: {', '.join(significant)})"
        any_significant |= bool(significant)
    if not clauses:
        return None
    return (
        f"On the headline mechanism measures ({', '.join(measures)}), FFH lies closer to the "
        f"SOC, on average over seeds, {_join(clauses)}"
        + ("" if any_significant else ", in none significantly")
        + f" (Holm-adjusted paired t-test on the distance to the SOC, p < {ALPHA:g})."
    )


def answers(
    summary: pd.DataFrame,
    paired: pd.DataFrame,
    k: int,
    co_smoothing: pd.DataFrame | None = None,
    validity: pd.DataFrame | None = None,
    dynamics_summary: pd.DataFrame | None = None,
    dynamics_tests: pd.DataFrame | None = None,
) -> list[tuple[str, str]]:
    """One sentence per question the study answers (:data:`QUESTIONS`), as (question,
    sentence) pairs; a question the tables cannot answer is left out.

    * similarity: FFH against FF and both shams on the headline score, next to its null, the
      SOC ceiling and the data baseline (:func:`score_table`);
    * generalisation, with held-out directions: the answer of
      :func:`generalisation_sentences`;
    * recording, with a spike recording: FFH against FF at each trial count;
    * co-smoothing, with ``validity`` (``co_smoothing_validity.csv``): its rank correlations
      with the true similarity;
    * mechanism, with ``dynamics_summary`` and ``dynamics_tests``: in how many headline
      measures FFH is closer to the SOC than each other model.
    """
    table, _ = score_table(summary, paired, k)
    mechanism = None
    if dynamics_summary is not None and dynamics_tests is not None:
        mechanism = _mechanism_answer(dynamics_summary, dynamics_tests)
    found = {
        "similarity": _similarity_answer(table, k, _unit(_n_over(paired))),
        "generalisation": _generalisation_answer(summary, paired, k),
        "recording": _recording_answer(summary, paired, k),
        "co_smoothing": None if validity is None else _validity_sentence(validity),
        "mechanism": mechanism,
    }
    return [(QUESTIONS[name], text) for name, text in found.items() if text]


def _failed_runs(fit: pd.DataFrame) -> pd.DataFrame:
    """The deciding fit rows (clean start, training directions) that fail the fit gate."""
    return fit[stats.deciding_rows(fit) & ~fit["passes_fit_gate"].astype(bool)]


def _gate_sentence(failed: pd.DataFrame) -> str:
    if failed.empty:
        return "Every model passed the fit gate (clean-start output R² above threshold)."
    return f"{len(failed)} model runs failed the fit gate and are left out of the statistics."


def _rst(text: str) -> str:
    """``text`` with reStructuredText's inline markup characters escaped."""
    text = text.replace("\\", "\\\\")
    for char in "*`|_":
        text = text.replace(char, "\\" + char)
    return text


def _rst_table(caption: str, cells: pd.DataFrame) -> list[str]:
    """A ``list-table`` of ``cells`` (strings), header row first."""
    lines = [f".. list-table:: {_rst(caption)}", "   :header-rows: 1", ""]
    for row in [list(cells.columns), *cells.astype(str).to_numpy().tolist()]:
        first, *rest = (_rst(str(v)) for v in row)
        lines.append(f"   * - {first}".rstrip())
        lines += [f"     - {v}".rstrip() for v in rest]
    return [*lines, ""]


def _tables(summary, paired, k, co_smoothing) -> list[tuple[str, pd.DataFrame]]:
    """The answer's tables as (caption, cells): the scores, and with held-out directions
    the generalisation."""
    unit = _unit(_n_over(paired))
    table, cell = score_table(summary, paired, k, co_smoothing)
    tables = [(_score_caption(table, cell, summary, k, unit), _score_cells(table, unit))]
    held = generalisation_table(summary, paired, k)
    if not held.empty:
        caption = (
            f"Generalisation: clean-start output R² and condition-specific similarity to the "
            f"unobserved SOC neurons (k = {k}) on the directions no model was trained on, "
            f"mean over {unit}"
        )
        tables.append((caption, _generalisation_cells(held)))
    return tables


def answer_rst(
    summary: pd.DataFrame,
    paired: pd.DataFrame,
    fit: pd.DataFrame,
    k: int,
    intro: str = "",
    **optional: pd.DataFrame | None,
) -> str:
    """The HTML report's landing text (reStructuredText): the answer, then ``intro``.

    Parameters
    ----------
    summary, paired, fit : pandas.DataFrame
        ``summary.csv``, ``paired_tests.csv`` and ``fit.csv``.
    k : int
        Number of PCA factors of the headline comparison.
    intro : str
        The study's description (``workflow/report/workflow.rst``), appended verbatim under
        its own heading: Snakemake renders its Jinja expressions when it writes the report.
    **optional
        ``co_smoothing``, ``validity``, ``dynamics_summary``, ``dynamics_tests``, as for
        :func:`answers`.

    Returns
    -------
    str
        A section *The answer*: one paragraph per question (:func:`answers`), the compact
        table (:func:`score_table`; with held-out directions the generalisation table) and the
        fit gate, inside a Jinja ``raw`` block (the report renders the text as a Jinja
        template first); then a section *The study* holding ``intro``.
    """
    lines = ["The answer", "==========", ""]
    for question, sentence in answers(summary, paired, k, **optional):
        lines += [f"**{_rst(question)}** {_rst(sentence)}", ""]
    for caption, cells in _tables(summary, paired, k, optional.get("co_smoothing")):
        lines += _rst_table(caption, cells)
    gate = _gate_sentence(_failed_runs(fit))
    lines += [f"{_rst(gate)} The detail is on the *1. Answer* page (findings.html).", ""]
    text = "{% raw %}\n" + "\n".join(lines) + "{% endraw %}\n"
    if intro:
        text += "\nThe study\n=========\n\n" + intro
    return text


def _html_table(caption: str, cells: pd.DataFrame) -> str:
    return f"<p><i>{html.escape(caption)}</i></p>\n" + cells.to_html(index=False)


def _answer_html(summary, paired, fit, k, optional: dict) -> list[str]:
    """The answer page's first part: the questions and sentences, the tables, the gate."""
    items = [
        f"<dt><b>{html.escape(q)}</b></dt><dd>{html.escape(s)}</dd>"
        for q, s in answers(summary, paired, k, **optional)
    ]
    tables = _tables(summary, paired, k, optional.get("co_smoothing"))
    return [
        "<h1>The answer</h1>",
        "<dl>",
        *items,
        "</dl>",
        *(_html_table(caption, cells) for caption, cells in tables),
        f"<p>{html.escape(_gate_sentence(_failed_runs(fit)))} The detail follows.</p>",
    ]


def _detail_html(summary, paired, fit, k, optional: dict) -> list[str]:
    """The answer page's detail: every contrast as a table, the generalisation, recording
    and mechanism sentences, the fit gate's failures and the headline rows."""
    unit = _unit(_n_over(paired))
    contrasts = contrast_table(summary, paired, k)
    notes = sorted(
        {(int(n), p) for n, p in zip(contrasts["n"], contrasts["wilcoxon_min_p"], strict=True)}
    )
    generalisation = generalisation_sentences(summary, paired, k)
    recording = recording_sentences(
        summary, paired, k, optional.get("co_smoothing"), optional.get("validity")
    )
    mechanism = []
    if optional.get("dynamics_summary") is not None and optional.get("dynamics_tests") is not None:
        mechanism = mechanism_sentences(optional["dynamics_summary"], optional["dynamics_tests"])
    failed = _failed_runs(fit)
    sections = [
        (QUESTIONS["generalisation"], generalisation),
        (QUESTIONS["recording"], recording),
        (QUESTIONS["mechanism"], mechanism),
    ]
    return [
        "<h1>The detail</h1>",
        f"<h2>{html.escape(QUESTIONS['similarity'])}</h2>",
        f"<p>Each paired contrast of the headline comparison (similarity to the unobserved SOC "
        f"neurons, cross-validated, mean canonical correlation, k = {k}) on both components "
        f"(p-values Holm-adjusted over the contrasts of the score in brackets).</p>",
        _contrast_cells(contrasts, unit).to_html(index=False),
        *(f"<p>{html.escape(_wilcoxon_note(n, p, unit))}</p>" for n, p in notes if p >= 0.05),
        *(
            line
            for question, sentences in sections
            if sentences
            for line in (
                f"<h2>{html.escape(question)}</h2>",
                *(f"<p>{html.escape(s)}</p>" for s in sentences),
            )
        ),
        "<h2>Fit gate</h2>",
        f"<p>{html.escape(_gate_sentence(failed))}</p>",
        *([] if failed.empty else [failed.to_html(index=False)]),
        "<h3>Headline rows of paired_tests.csv</h3>",
        select(paired, k=k, **HEADLINE).to_html(index=False, float_format=lambda v: f"{v:.4g}"),
        "<h3>Headline rows of summary.csv</h3>",
        select(summary, k=k, **HEADLINE).to_html(index=False, float_format=lambda v: f"{v:.4g}"),
        "<p>All rows: results/&lt;study&gt;/tables/summary.csv and paired_tests.csv.</p>",
    ]


def findings_html(
    summary: pd.DataFrame,
    paired: pd.DataFrame,
    fit: pd.DataFrame,
    k: int,
    **optional: pd.DataFrame | None,
) -> str:
    """The report's answer page: the answer as on the landing text (:func:`answer_rst`),
    then the detail.

    Parameters
    ----------
    summary, paired, fit : pandas.DataFrame
        ``summary.csv``, ``paired_tests.csv`` and ``fit.csv``.
    k : int
        Number of PCA factors of the headline comparison.
    **optional
        ``co_smoothing``, ``validity`` (with a spike recording: ``co_smoothing_summary.csv``
        and ``co_smoothing_validity.csv``, see :func:`recording_sentences`),
        ``dynamics_summary``, ``dynamics_tests`` (``dynamics_summary.csv`` and
        ``dynamics_tests.csv``: the mechanism's answer and sentences), as for :func:`answers`.

    Returns
    -------
    str
        A self-contained HTML page: one sentence per question and the compact tables, then
        every contrast of the headline comparison as a table (both components), the
        generalisation, recording and mechanism sentences, the fit gate's failures and the
        headline rows of both tables.
    """
    return "\n".join(
        [
            "<html><head><meta charset='utf-8'><title>hintforce: the answer</title></head><body>",
            *_answer_html(summary, paired, fit, k, optional),
            *_detail_html(summary, paired, fit, k, optional),
            "</body></html>",
        ]
    )


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
    values = _first_dynamics_cell(select(summary, quantity="value"))
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
