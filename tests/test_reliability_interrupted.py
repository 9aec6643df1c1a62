"""A run killed mid-job: no incomplete result is ever seen at its final path, Snakemake then
names the stale lock and the fix, and ``--rerun-incomplete`` completes the study as an
uninterrupted run does."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.reliability import (
    MODELS,
    SEEDS,
    TABLE_FILES,
    axes,
    console,
    final_stores,
    incomplete_reason,
    same_array,
    start,
    stop_group,
)
from support.workflow import RESULTS, SMALL, log_path, make_project, model_path, snakemake

from hintforce import store

pytestmark = pytest.mark.workflow


def final_results(results: Path) -> list[Path]:
    """Stores, tables, HTML and JSON documents at their final paths."""
    if not results.exists():
        return []
    files = [
        p
        for p in results.rglob("*")
        if p.suffix in (".csv", ".json", ".html")
        and not any(
            part.endswith(".zarr") or part.startswith(".") for part in p.relative_to(results).parts
        )
    ]
    return final_stores(results) + sorted(files)


@dataclass
class Interrupted:
    project: Path
    killed: Path  # final path of the training job that was killed mid-way
    phase: str  # "writing" (a temporary sibling existed) or "training" (its log showed passes)
    at_kill: list[str]  # names beside the killed store's final path when killed
    checked: int  # frozen moments at which every final result was verified complete
    incomplete: list[str]  # final results found incomplete at some moment (must stay empty)
    after_kill: subprocess.CompletedProcess
    resumed: subprocess.CompletedProcess


def _training_state(project: Path) -> tuple[list[Path], list[Path], int]:
    """(stores being written, stores whose training shows progress, finished training stores)
    of every training job that has started."""
    writing, training, done = [], [], 0
    for seed in SEEDS:
        for model in MODELS:
            final = project / model_path(model, axes(seed))
            log = project / log_path(model_path(model, axes(seed)))
            if not log.exists():
                continue
            if final.exists():
                done += 1
            elif final.parent.exists() and any(final.parent.glob(f".{final.name}.tmp-*")):
                writing.append(final)
            elif " pass 1/" in log.read_text():
                training.append(final)
    return writing, training, done


@pytest.fixture(scope="module")
def interrupted(reference, tmp_path_factory) -> Interrupted:
    """The small study, SIGKILLed with Snakemake and all its jobs while a training job is
    writing its store (or, failing that, training), then unlocked and resumed.

    Snakemake is stepped: resumed for a few milliseconds, then stopped (SIGSTOP to the whole
    process group) and inspected. While it is stopped nothing moves, so every final result
    that exists at that moment must be complete.
    """
    base = tmp_path_factory.mktemp("interrupted")
    project = make_project(base / "study")
    proc = start(project, "--cores", "2", "--configfile", SMALL, log=base / "killed.out")
    verified: set[Path] = set()
    incomplete: list[str] = []
    checked = 0
    target = None
    try:
        while target is None:
            if proc.poll() is not None:
                raise AssertionError(
                    "the run ended before a training job was caught mid-way:\n"
                    + (base / "killed.out").read_text()
                )
            time.sleep(0.003)
            os.killpg(proc.pid, signal.SIGSTOP)
            results = project / "results"
            for path in final_results(results):
                if path in verified:
                    continue
                reason = incomplete_reason(path)
                if reason is None:
                    verified.add(path)
                else:
                    incomplete.append(f"{path.relative_to(project)}: {reason}")
            checked += 1
            writing, training, done = _training_state(project)
            if writing:
                target = (writing[0], "writing")
            elif training and done >= len(SEEDS) * len(MODELS) - 2:
                # Fallback: the last training jobs are running and no write was caught.
                target = (training[0], "training")
            else:
                os.killpg(proc.pid, signal.SIGCONT)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        stop_group(proc)
    killed, phase = target
    at_kill = sorted(p.name for p in killed.parent.iterdir())
    # A killed run leaves its lock behind: Snakemake refuses until told to unlock. (A job
    # killed between its output's rename and Snakemake's bookkeeping, e.g. a sub-second
    # recording job, leaves that output marked incomplete, and Snakemake names it before the
    # lock; --rerun-incomplete sets that aside, so the refusal is always the lock's.)
    after_kill = snakemake(
        project, "--cores", "2", "--rerun-incomplete", "--configfile", SMALL, check=False
    )
    snakemake(project, "--unlock", "--configfile", SMALL)
    resumed = snakemake(
        project, "--cores", "2", "--rerun-incomplete", "--configfile", SMALL, check=False
    )
    return Interrupted(project, killed, phase, at_kill, checked, incomplete, after_kill, resumed)


def test_a_killed_training_job_leaves_no_store_at_its_final_path(interrupted):
    assert interrupted.killed.name not in interrupted.at_kill
    if interrupted.phase == "writing":
        # The write went to a hidden temporary sibling, to be renamed when complete.
        assert any(n.startswith(f".{interrupted.killed.name}.tmp-") for n in interrupted.at_kill)


def test_no_final_result_is_ever_seen_incomplete_during_a_run(interrupted):
    assert interrupted.checked > 10
    assert interrupted.incomplete == []


def test_after_a_kill_snakemake_names_the_stale_lock_and_the_fix(interrupted):
    proc = interrupted.after_kill
    assert proc.returncode != 0
    assert "Directory cannot be locked" in proc.stderr and "--unlock" in proc.stderr
    assert "Select jobs to execute" not in console(proc)


def test_rerun_incomplete_completes_with_the_tables_of_an_uninterrupted_run(interrupted, reference):
    assert interrupted.resumed.returncode == 0, console(interrupted.resumed)
    for name in TABLE_FILES:
        resumed = (interrupted.project / RESULTS / "tables" / name).read_bytes()
        assert resumed == (reference.parallel / RESULTS / "tables" / name).read_bytes(), name


def test_rerun_incomplete_rewrites_the_killed_store_as_an_uninterrupted_run_wrote_it(
    interrupted, reference
):
    rel = interrupted.killed.relative_to(interrupted.project)
    killed = store.read_dataset(interrupted.killed)
    clean = store.read_dataset(reference.parallel / rel)
    assert sorted(killed) == sorted(clean)
    for name in clean:
        assert same_array(killed[name], clean[name]), name
