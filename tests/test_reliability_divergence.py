"""Numerical failure: a huge hint gain makes every hinted model (FFH and both shams) diverge;
the failed jobs name the run and the step, and the tables refuse the missing runs unless
``sweep.allow_failed_runs`` is set."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from support.reliability import HINTED, MODELS, SEEDS, UNHINTED, axes, console, final_stores
from support.workflow import (
    EXACT_AXES,
    RESULTS,
    SMALL,
    log_path,
    make_project,
    model_path,
    recording_paths,
    snakemake,
)

from hintforce import stats, store, study

pytestmark = pytest.mark.workflow


@dataclass
class Diverged:
    project: Path
    kept_going: subprocess.CompletedProcess  # allow_failed_runs false, --keep-going
    allowed: subprocess.CompletedProcess  # allow_failed_runs true, --keep-going
    refused: subprocess.CompletedProcess  # the tables alone, allow_failed_runs false
    kept: dict  # what the --keep-going run left: whether tables exist, stores, hinted logs
    allowed_tables: Path  # results/<study>/tables as the allow_failed_runs run wrote them


#: Hint gain so large that the target-generating network of every hinted model (FFH and both
#: shams) explodes on the first step; FF and the floor never see the hint gain.
HUGE = 1.0e6
HUGE_HINT = {"models": {"hint_gain": HUGE}}


def huge(seed: int) -> dict:
    """The axes of a run of the diverging study."""
    return axes(seed, **{study.HINT_GAIN: HUGE})


@pytest.fixture(scope="module")
def diverged(tmp_path_factory) -> Diverged:
    project = make_project(tmp_path_factory.mktemp("diverged") / "study")
    strict = project / "tests/diverge.yaml"
    strict.write_text(yaml.safe_dump(HUGE_HINT))
    allow = project / "tests/diverge_allowed.yaml"
    allow.write_text(yaml.safe_dump({**HUGE_HINT, "sweep": {"allow_failed_runs": True}}))
    configs = ["--configfile", SMALL]
    kept_going = snakemake(
        project, "--cores", "2", "--keep-going", *configs, "tests/diverge.yaml", check=False
    )
    kept = {
        "tables": (project / RESULTS / "tables").exists(),
        "stores": [str(p.relative_to(project)) for p in final_stores(project / RESULTS / "runs")],
        "logs": {
            (s, m): (project / log_path(model_path(m, huge(s)))).read_text()
            for s in SEEDS
            for m in HINTED
        },
    }
    allowed = snakemake(
        project, "--cores", "2", "--keep-going", *configs, "tests/diverge_allowed.yaml",
        check=False,
    )  # fmt: skip
    allowed_tables = project.parent / "allowed_tables"  # the next run deletes the tables
    shutil.copytree(project / RESULTS / "tables", allowed_tables)
    # The tables alone with allow_failed_runs false, over the stores of the diverged models
    # (`--rerun-triggers mtime`: the changed setting must not retrain the models first).
    refused = snakemake(
        project, "--cores", "1", "--rerun-triggers", "mtime", "--forcerun", "tables",
        "--until", "tables", *configs, "tests/diverge.yaml", check=False,
    )  # fmt: skip
    return Diverged(project, kept_going, allowed, refused, kept, allowed_tables)


def test_diverging_training_fails_its_job_with_a_log_naming_the_run_and_the_step(diverged):
    proc = diverged.kept_going
    assert proc.returncode != 0
    for seed in SEEDS:
        for model in HINTED:
            run = model_path(model, huge(seed))
            log = log_path(run)
            text = diverged.kept["logs"][seed, model]
            assert f"{run}: model {model}" in text
            assert re.search(r"TrainingDiverged: .* in pass \d+, condition \d+, step \d+", text)
            line = [x for x in proc.stderr.splitlines() if x.endswith(f"(log: {log})")]
            assert len(line) == 1 and line[0].startswith("TrainingDiverged: "), line
            assert f"output: {run}" in console(proc)  # Snakemake names the failed job's output
    assert "Traceback" not in console(proc)


def test_with_keep_going_the_other_models_finish_and_no_table_is_written(diverged):
    # the recordings and the models without hints; no hinted model, no table
    expected = sorted(
        [model_path(m, huge(s)) for s in SEEDS for m in UNHINTED]
        + [path for s in SEEDS for path in recording_paths(huge(s))]
    )
    assert diverged.kept["stores"] == expected
    assert diverged.kept["tables"] is False


def test_allowed_failures_record_the_divergence_in_the_model_store(diverged):
    for seed in SEEDS:
        for model in HINTED:
            attrs = store.read_attrs(diverged.project / model_path(model, huge(seed)))
            assert attrs["status"] == "diverged", model
            assert re.search(r"pass \d+, condition \d+, step \d+", attrs["error"])
        for model in UNHINTED:
            path = diverged.project / model_path(model, huge(seed))
            assert store.read_attrs(path)["status"] == "ok"


def test_allowed_failures_give_tables_whose_n_counts_the_runs_that_exist(diverged):
    tables = diverged.allowed_tables
    similarity = pd.read_csv(tables / "similarity.csv")
    assert not set(HINTED) & set(similarity["model"])
    assert set(UNHINTED) <= set(similarity["model"])
    summary = pd.read_csv(tables / "summary.csv")
    # A diverged model has no similarity row; its fit rows count no run.
    hinted = summary["model"].isin(HINTED)
    assert (summary.loc[hinted, "metric"] == stats.FIT_METRIC).all()
    assert (summary.loc[hinted, "n"] == 0).all()
    # The others count every seed: included, or left out by the fit gate.
    unhinted = summary.loc[summary["model"].isin(UNHINTED)]
    assert set(unhinted["model"]) == set(UNHINTED)
    assert (unhinted["n"] + unhinted["n_excluded"] == len(SEEDS)).all()
    paired = pd.read_csv(tables / "paired_tests.csv")
    assert (paired["n"] == 0).all()
    fit = pd.read_csv(tables / "fit.csv")
    assert len(fit) == len(SEEDS) * len(MODELS) * len(study.STARTS)
    assert fit.loc[fit["model"].isin(HINTED), "r2"].isna().all()
    assert not fit.loc[fit["model"].isin(HINTED), "passes_fit_gate"].any()
    assert np.isfinite(fit.loc[fit["model"].isin(UNHINTED), "r2"]).all()


def test_allowed_failures_let_the_whole_workflow_complete(diverged):
    assert diverged.allowed.returncode == 0, diverged.allowed.stderr[-2000:]


def test_tables_refuse_to_summarise_over_missing_runs_naming_them(diverged):
    proc = diverged.refused
    assert proc.returncode != 0
    line = [x for x in proc.stderr.splitlines() if x.startswith("ValueError: ")]
    assert len(line) == 1, proc.stderr
    assert "sweep.allow_failed_runs" in line[0]
    # Exactly the diverged models' runs are named, each by its axes and model.
    named = re.search(r"\((.+)\); ", line[0])
    assert named, line[0]
    expected = {
        " ".join(
            f"{a.key}~{a.label(huge(seed)[a.name])}" for a in study.AXES if a.name in EXACT_AXES
        )
        + f" {model}"
        for seed in SEEDS
        for model in HINTED
    }
    assert set(named.group(1).split("; ")) == expected
    assert not (diverged.project / RESULTS / "tables/similarity.csv").exists()
