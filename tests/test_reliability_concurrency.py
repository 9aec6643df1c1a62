"""Concurrency and reproducibility: a second Snakemake started on a directory whose run holds
the lock is refused, and the small study run with one core and with two gives identical
results (the session's ``reference`` runs, see conftest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support.reliability import (
    GROUND_TRUTH,
    HINTED,
    MODELS,
    SEEDS,
    SMALL_RUN,
    TABLE_FILES,
    TABLES,
    UNHINTED,
    axes,
    console,
    final_stores,
    incomplete_reason,
    same_array,
    same_stores,
)
from support.workflow import (
    BENCHMARKS,
    LOGS,
    RESULTS,
    STUDY,
    ground_truth_path,
    log_path,
    model_path,
    observation_path,
    recording_paths,
    run_path,
)

pytestmark = pytest.mark.workflow


def expected_stores() -> list[str]:
    """Every Zarr store a complete small study holds, relative to the project."""
    stores = {ground_truth_path(name, SMALL_RUN) for name in GROUND_TRUTH}
    for seed in SEEDS:
        stores |= {model_path(m, axes(seed)) for m in MODELS}
        stores |= set(recording_paths(axes(seed)))
        stores.add(run_path("similarity.zarr", axes(seed)))
    stores.add(f"{RESULTS}/tables/similarity.zarr")
    return sorted(stores)


def test_the_small_study_layout_is_the_documented_one():
    # The paths the reliability tests use, spelled out once: a wrong helper fails here first.
    run = axes(1)
    assert ground_truth_path("soc", run) == "results/default/ground_truth/gt~7/soc.zarr"
    assert observation_path(run) == "results/default/runs/gt~7/mf~0.4/seed~1/observation.json"
    base = "results/default/runs/gt~7/mf~0.4/seed~1/n~80"
    assert [model_path(m, run) for m in UNHINTED] == [f"{base}/floor.zarr", f"{base}/ff.zarr"]
    assert [model_path(m, run) for m in HINTED] == [
        f"{base}/nf~0.3/hg~0.3/{m}.zarr" for m in ("ffh", "ffh_shuffled", "ffh_mean")
    ]
    assert run_path("fit.csv", run) == f"{base}/nf~0.3/hg~0.3/fit.csv"
    assert log_path(model_path("ffh", run)) == (
        "logs/default/runs/gt~7/mf~0.4/seed~1/n~80/nf~0.3/hg~0.3/ffh.log"
    )
    assert model_path("ffh", axes(1, hint_gain=1.0e6)).endswith("/hg~1000000.0/ffh.zarr")
    assert (RESULTS, LOGS, BENCHMARKS) == (
        f"results/{STUDY}",
        f"logs/{STUDY}",
        f"results/{STUDY}/benchmarks",
    )


def test_same_array_compares_text_by_value_and_numbers_bit_for_bit():
    long = "x" * 40  # longer than numpy keeps inline: its bytes are a pointer
    text = np.array(["ff", long], dtype=np.dtypes.StringDType())
    assert same_array(text, np.array(["ff", "x" * 40], dtype=np.dtypes.StringDType()))
    assert not same_array(text, np.array(["ff", "y" * 40], dtype=np.dtypes.StringDType()))
    assert same_array(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]))
    assert not same_array(np.array([0.0]), np.array([-0.0]))
    assert not same_array(np.array([1, 2]), np.array([1.0, 2.0]))


def test_a_second_snakemake_is_refused_by_the_lock_of_a_running_one(reference):
    proc = reference.refused["profile"]
    assert reference.serial_was_running
    assert proc.returncode != 0
    assert "LockException" in proc.stderr
    assert "Directory cannot be locked" in proc.stderr
    assert "Select jobs to execute" not in console(proc)


def test_a_plain_second_snakemake_is_refused_before_running_any_job(reference):
    # Without --rerun-incomplete, Snakemake refuses even before it checks the lock: the running
    # job's output is marked incomplete. Either refusal is clear and runs nothing.
    proc = reference.refused["plain"]
    assert proc.returncode != 0
    assert "Directory cannot be locked" in proc.stderr or (
        "IncompleteFilesException" in proc.stderr and "seem to be incomplete" in proc.stderr
    )
    assert "Select jobs to execute" not in console(proc)


def test_the_locked_run_completes_every_table_after_the_refusals(reference):
    for name in TABLE_FILES:
        assert incomplete_reason(reference.serial / RESULTS / "tables" / name) is None, name
    stores = final_stores(reference.serial / "results")
    assert [str(p.relative_to(reference.serial)) for p in stores] == expected_stores()
    for path in stores:
        assert incomplete_reason(path) is None, path


def test_one_and_two_cores_give_byte_identical_csv_tables(reference):
    serial, parallel = reference.serial / "results", reference.parallel / "results"
    csvs = sorted(p.relative_to(parallel) for p in parallel.rglob("*.csv"))
    assert {Path(STUDY) / "tables" / name for name in TABLES} <= set(csvs)
    for seed in SEEDS:
        for name in ("similarity.csv", "fit.csv"):
            assert Path(run_path(name, axes(seed))).relative_to("results") in csvs
    assert csvs == sorted(p.relative_to(serial) for p in serial.rglob("*.csv"))
    for rel in [*csvs, Path(STUDY) / "tables" / "findings.html"]:
        assert (serial / rel).read_bytes() == (parallel / rel).read_bytes(), rel


def test_one_and_two_cores_give_identical_observations(reference):
    for seed in SEEDS:
        rel = observation_path(axes(seed))
        assert (reference.serial / rel).read_bytes() == (reference.parallel / rel).read_bytes()


def test_one_and_two_cores_give_identical_zarr_arrays(reference):
    stores = final_stores(reference.parallel / "results")
    assert [str(p.relative_to(reference.parallel)) for p in stores] == expected_stores()
    # per seed: its models, its two recordings and its similarity store
    assert len(stores) == len(GROUND_TRUTH) + len(SEEDS) * (len(MODELS) + 2 + 1) + 1
    assert same_stores(reference.serial / "results", reference.parallel / "results") == []
