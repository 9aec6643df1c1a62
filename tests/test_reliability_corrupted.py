"""Corrupted input: a damaged ground-truth store fails the jobs that read it with one line
naming the store and the array, and nothing downstream is written."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from support.reliability import SEEDS, SMALL_RUN, axes, console, snapshot
from support.workflow import (
    BENCHMARKS,
    RESULTS,
    SMALL,
    ground_truth_path,
    make_project,
    observation_path,
    snakemake,
)

pytestmark = pytest.mark.workflow


CORRUPTIONS = {
    "truncated_chunk": lambda soc: os.truncate(soc / "rates/c/0/0/0", 100),
    "deleted_chunk": lambda soc: (soc / "rates/c/0/0/0").unlink(),
    "deleted_array": lambda soc: shutil.rmtree(soc / "rates"),
}
SOC = ground_truth_path("soc", SMALL_RUN)


@pytest.fixture(scope="module")
def ground_truth_only(tmp_path_factory) -> tuple[Path, Path]:
    """A copy holding the ground truth and observations of the small study, and a pristine
    copy of its SOC store."""
    base = tmp_path_factory.mktemp("corrupted")
    project = make_project(base / "study")
    targets = [observation_path(axes(s)) for s in SEEDS]
    snakemake(project, "--cores", "2", SOC, *targets, "--configfile", SMALL)
    pristine = base / "soc.zarr"
    shutil.copytree(project / SOC, pristine)
    assert (pristine / "rates/c/0/0/0").is_file()
    return project, pristine


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_a_corrupted_soc_store_fails_its_consumer_naming_store_and_array(
    corruption, ground_truth_only
):
    project, pristine = ground_truth_only
    soc = project / SOC
    shutil.copytree(pristine, soc, dirs_exist_ok=True)  # copy2: contents and times restored
    CORRUPTIONS[corruption](soc)
    # Snakemake makes the missing directories of a job's outputs (a model's n~/nf~/hg~) before
    # the job and removes them, empty, when it fails: only their parents' times change.
    before = snapshot(project / "results", directory_times=False)

    proc = snakemake(project, "--cores", "2", "--configfile", SMALL, check=False)

    text = console(proc)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.startswith("StoreError:")]
    assert lines, text
    # Whichever consumer of the store Snakemake started first (a training job, the
    # ground-truth figure, ...), its one line names the store, the array and its own log,
    # and that log holds the same error.
    for line in lines:
        assert SOC in line and "'rates'" in line
        logged = re.search(r"\(log: (\S+)\)$", line)
        assert logged, line
        log = project / logged.group(1)
        assert log.is_file() and line.split(" (log: ")[0] in log.read_text(), line
    assert "Traceback" not in text
    # Nothing downstream: no model, similarity or table, not even a temporary sibling; the
    # only change under results/ may be Snakemake's timing of the failed jobs.
    benchmarks = str(Path(BENCHMARKS).relative_to("results"))
    after = snapshot(project / "results", directory_times=False)
    assert {p: v for p, v in after.items() if not p.startswith(benchmarks)} == {
        p: v for p, v in before.items() if not p.startswith(benchmarks)
    }
    assert not (project / RESULTS / "tables").exists()
    runs = project / RESULTS / "runs"
    assert [p for p in runs.rglob("*") if p.suffix == ".zarr" or p.name.startswith(".")] == []
    assert [p for p in runs.rglob("*") if p.suffix == ".csv"] == []
