"""The workflow as a user runs it (see workflow_utils): dry runs, a real run of the small
config, and what a change of setting, seed or library module schedules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_utils import ROOT, SMALL, make_project, planned_jobs, snakemake, with_config

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    project = make_project(tmp_path_factory.mktemp("study"))
    snakemake(project, "--cores", "2", "--configfile", SMALL)
    return project


def test_default_study_dry_run_plans_every_stage(tmp_path):
    project = make_project(tmp_path)
    rules = [rule for rule, _ in planned_jobs(project, "--cores", "2")]
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    n_runs = len(config["sweep"]["seeds"]) * len(config["sweep"]["neuron_fractions"])
    assert rules.count("train") == 3 * n_runs
    assert rules.count("similarity") == n_runs
    for rule in ("emg", "soc_connectivity", "soc_gains", "tables", "statistics"):
        assert rules.count(rule) == 1


def test_snakefmt_and_lint_are_clean():
    fmt = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stderr
    lint = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint"], cwd=ROOT, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stderr
    assert "Lints for" not in lint.stdout + lint.stderr


def test_small_run_writes_every_contract_file(small_run):
    config = yaml.safe_load((small_run / SMALL).read_text())
    n_cond = config["ground_truth"]["emg"]["n_conditions"]
    n_time = config["ground_truth"]["emg"]["n_times"]
    n_muscles = config["ground_truth"]["emg"]["n_muscles"]
    n_neurons = config["ground_truth"]["soc"]["n_neurons"]
    n_units = config["models"]["n_units"]
    seeds = config["sweep"]["seeds"]
    results = small_run / "results"

    from hintforce import store

    emg = store.read_dataset(results / "ground_truth/emg.zarr")
    assert emg["emg"].shape == (n_cond, n_time, n_muscles)
    assert emg["time_ms"].shape == (n_time,)
    assert emg["angle_rad"].shape == (n_cond,)

    soc = store.read_dataset(results / "ground_truth/soc.zarr")
    assert soc["W"].shape == (n_neurons, n_neurons)
    assert soc["gains"].shape == (n_cond, n_neurons)
    assert soc["rates"].shape == (n_cond, n_time, n_neurons)
    assert soc["emg_fit"].shape == (n_cond, n_time, n_muscles)
    for name in ("x0", "readout", "bias", "abscissa_trace"):
        assert name in soc
    attrs = store.read_attrs(results / "ground_truth/soc.zarr")
    assert len(attrs["excitatory"]) == n_neurons
    assert len(attrs["r2"]) == n_muscles

    for seed in seeds:
        run = results / f"runs/nf~0.3/seed~{seed}"
        seen = json.loads((run / "observation.json").read_text())
        assert len(seen["neurons"]) == round(0.3 * n_neurons)
        assert len(seen["muscles"]) == round(0.4 * n_muscles)
        for model in ("ff", "ffh", "floor"):
            arrays = store.read_dataset(run / f"{model}.zarr")
            assert arrays["rates"].shape == (n_cond, n_time, n_units)
            assert arrays["output"].shape == (n_cond, n_time, len(seen["muscles"]))
            assert np.isfinite(arrays["rates"]).all()
        per_run = pd.read_csv(run / "similarity.csv")
        assert set(per_run["seed"]) == {seed}
        assert (run / "similarity.zarr" / "zarr.json").is_file()
        assert len(list(run.rglob("*"))) < 100

    similarity = pd.read_csv(results / "tables/similarity.csv")
    assert list(similarity.columns) == [
        "neuron_fraction",
        "muscle_fraction",
        "seed",
        "model",
        "population",
        "metric",
        "k",
        "value",
    ]
    assert set(similarity["model"]) == {"ff", "ffh", "floor", "soc_split", "soc_observed"}
    assert set(similarity["population"]) == {"all", "observed", "unobserved"}
    assert set(similarity["metric"]) == {"cca", "cka", "procrustes"}
    assert set(similarity["k"]) == set(config["similarity"]["ks"])
    assert set(similarity["seed"]) == set(seeds)
    cube = store.read_dataset(results / "tables/similarity.zarr")
    assert cube["similarity"].shape == (1, len(seeds), 5, 3, 3, len(config["similarity"]["ks"]))
    back = store.read_cube(results / "tables/similarity.zarr", "similarity")
    assert len(back) == len(similarity)

    fit = pd.read_csv(results / "tables/fit.csv")
    assert list(fit.columns) == [
        "neuron_fraction",
        "muscle_fraction",
        "seed",
        "model",
        "start",
        "r2",
    ]
    assert len(fit) == len(seeds) * 3 * 2
    summary = pd.read_csv(results / "tables/summary.csv")
    assert list(summary.columns) == [
        "model",
        "population",
        "metric",
        "k",
        "neuron_fraction",
        "n",
        "mean",
        "sd",
        "ci_low",
        "ci_high",
    ]
    assert (summary["n"] == len(seeds)).all()
    paired = pd.read_csv(results / "tables/paired_tests.csv")
    for column in ("n", "mean_difference", "wins", "wilcoxon_p", "ttest_p"):
        assert column in paired.columns
    for name in ("ground_truth", "model_outputs", "cca_spectra", "cca_means", "trajectories"):
        assert (results / f"figures/{name}.png").stat().st_size > 10_000


def test_a_second_run_does_nothing(small_run):
    assert planned_jobs(small_run, "--configfile", SMALL) == []


def test_changing_the_hint_gain_reruns_only_ffh_and_downstream(small_run):
    config = with_config(
        small_run, "hint.yaml", lambda c: c["models"].__setitem__("hint_gain", 0.5)
    )
    jobs = planned_jobs(small_run, "--configfile", config)
    trained = sorted(out for rule, out in jobs if rule == "train")
    assert trained and all(out.endswith("ffh.zarr") for out in trained)
    assert len(trained) == 2
    rules = {rule for rule, _ in jobs}
    assert rules.isdisjoint({"emg", "soc_connectivity", "soc_gains", "observe"})
    assert {"similarity", "tables", "statistics"} <= rules


def test_adding_a_seed_schedules_only_that_seed_and_the_aggregates(small_run):
    config = with_config(
        small_run, "seed.yaml", lambda c: c["sweep"].__setitem__("seeds", [1, 2, 9])
    )
    jobs = planned_jobs(small_run, "--configfile", config)
    per_run = [out for rule, out in jobs if rule in {"observe", "train", "similarity"}]
    assert len(per_run) == 1 + 3 + 1
    assert all("seed~9/" in out for out in per_run)
    rules = {rule for rule, _ in jobs}
    assert rules.isdisjoint({"emg", "soc_connectivity", "soc_gains"})
    assert {"tables", "statistics"} <= rules


def test_editing_force_py_reruns_training_but_not_the_ground_truth(small_run):
    # Snakemake 9 compares checksums of small inputs: a bare `touch` is rightly not a change.
    with open(small_run / "src/hintforce/force.py", "a") as source:
        source.write("\n# an edit\n")
    jobs = planned_jobs(small_run, "--configfile", SMALL)
    rules = [rule for rule, _ in jobs]
    assert rules.count("train") == 6
    assert set(rules).isdisjoint({"emg", "soc_connectivity", "soc_gains", "observe"})
