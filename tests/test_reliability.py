"""How the workflow behaves when things go wrong, run as a user runs it (see workflow_utils):
bad configs, a run killed mid-job, corrupted inputs, diverging training, the core count and a
second Snakemake on the same directory.

Real runs use tests/config.small.yaml and are shared through module-scoped fixtures:

* ``reference``: the small study run with ``--cores 2`` and, at the same time, with
  ``--cores 1`` in another copy; a second Snakemake is started (and refused) while the
  ``--cores 1`` run holds its lock. The bad configs are then tried on the finished study.
* ``interrupted``: a copy whose run is SIGKILLed while a training job is writing or training,
  then unlocked and resumed with ``--rerun-incomplete``.
* ``ground_truth_only``: a copy holding only the ground truth, whose SOC store is damaged.
* ``diverged``: a copy where a huge hint gain makes every FFH diverge.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_utils import SMALL, make_project, snakemake

from hintforce import store

pytestmark = pytest.mark.workflow

RUNS = "results/runs/nf~0.3"
SEEDS = (1, 2)
MODELS = ("ff", "ffh", "floor")
TABLES = ("similarity.csv", "fit.csv", "summary.csv", "paired_tests.csv")
#: Arrays each kind of store must hold once it is complete (a half-written store lacks some).
EXPECTED_ARRAYS = {
    "ff.zarr": {"rates", "output", "training_mse"},
    "ffh.zarr": {"rates", "output", "training_mse"},
    "floor.zarr": {"rates", "output", "training_mse"},
    "similarity.zarr": {"similarity", "spectrum"},
    "emg.zarr": {"emg", "time_ms", "angle_rad"},
    "connectivity.zarr": {"W", "excitatory", "abscissa_trace"},
    "soc.zarr": {"W", "x0", "gains", "readout", "bias", "rates", "emg_fit"},
}


# ----------------------------------------------------------------------------------------------
# helpers


def start(project: Path, *args: str, log: Path) -> subprocess.Popen:
    """Snakemake in the background, in its own process group (so that it and its jobs can be
    stopped, resumed or killed together), with the environment of workflow_utils.snakemake."""
    env = {
        **os.environ,
        "PYTHONPATH": str(project / "src"),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    with open(log, "w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "snakemake", *args],
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_group(proc: subprocess.Popen) -> None:
    """Kill a background Snakemake started by :func:`start` and its jobs, if still running."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def console(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``directory`` with its size and modification time."""
    if not directory.exists():
        return {}
    return {
        str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in directory.rglob("*")
    }


def final_stores(results: Path) -> list[Path]:
    """Zarr stores at their final paths (not the hidden temporary siblings of a write)."""
    return sorted(
        p
        for p in results.rglob("*.zarr")
        if p.is_dir()
        and not p.name.startswith(".")
        and not any(part.endswith(".zarr") for part in p.relative_to(results).parts[:-1])
    )


def final_results(results: Path) -> list[Path]:
    """Stores, tables and JSON documents at their final paths."""
    if not results.exists():
        return []
    files = [
        p
        for p in results.rglob("*")
        if p.suffix in (".csv", ".json")
        and not any(
            part.endswith(".zarr") or part.startswith(".") for part in p.relative_to(results).parts
        )
    ]
    return final_stores(results) + sorted(files)


def incomplete_reason(path: Path) -> str | None:
    """Why a result at its final path is not complete (None if it is)."""
    try:
        if path.suffix == ".zarr":
            attrs = store.read_attrs(path)
            if "hintforce_version" not in attrs:  # group attributes are written last
                return "no attributes"
            arrays = store.read_dataset(path)
            expected = EXPECTED_ARRAYS.get(path.name, set())
            if attrs.get("status") == "diverged":
                expected = set()
            if not expected <= set(arrays):
                return f"arrays {sorted(expected - set(arrays))} missing"
        elif path.suffix == ".json":
            json.loads(path.read_text())["neurons"]
        elif path.suffix == ".csv" and pd.read_csv(path).empty:
            return "empty table"
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    return None


def same_stores(a: Path, b: Path) -> list[str]:
    """Differences between the Zarr stores under two results directories, bit for bit."""
    found_a = [p.relative_to(a) for p in final_stores(a)]
    found_b = [p.relative_to(b) for p in final_stores(b)]
    if found_a != found_b:
        return [f"different stores: {found_a} vs {found_b}"]
    differences = []
    for rel in found_a:
        arrays_a, arrays_b = store.read_dataset(a / rel), store.read_dataset(b / rel)
        if sorted(arrays_a) != sorted(arrays_b):
            differences.append(f"{rel}: arrays {sorted(arrays_a)} vs {sorted(arrays_b)}")
            continue
        for name, x in arrays_a.items():
            y = arrays_b[name]
            if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                differences.append(f"{rel}/{name}")
        if store.read_attrs(a / rel) != store.read_attrs(b / rel):
            differences.append(f"{rel}: attributes")
    return differences


def wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"snakemake exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.05)


# ----------------------------------------------------------------------------------------------
# reference runs, concurrency and reproducibility


@dataclass
class Reference:
    parallel: Path  # the small study, --cores 2
    serial: Path  # the same, --cores 1
    refused: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)
    serial_was_running: bool = False


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Reference:
    base = tmp_path_factory.mktemp("reference")
    ref = Reference(make_project(base / "parallel"), make_project(base / "serial"))
    serial = start(ref.serial, "--cores", "1", "--configfile", SMALL, log=base / "serial.out")
    try:
        locks = ref.serial / ".snakemake" / "locks"
        wait_for(lambda: locks.is_dir() and any(locks.iterdir()), serial, "lock")
        # Freeze the first run (and its job) while it holds the lock, so that the second
        # invocation meets it running whatever the machine's speed.
        os.killpg(serial.pid, signal.SIGSTOP)
        try:
            # As `make run` does (the local profile reruns incomplete jobs) ...
            ref.refused["profile"] = snakemake(
                ref.serial, "--profile", "profiles/local", "--configfile", SMALL, check=False
            )
            # ... and with no options beyond the config.
            ref.refused["plain"] = snakemake(
                ref.serial, "--cores", "1", "--configfile", SMALL, check=False
            )
            ref.serial_was_running = serial.poll() is None
        finally:
            os.killpg(serial.pid, signal.SIGCONT)
        snakemake(ref.parallel, "--cores", "2", "--configfile", SMALL)
        serial.wait(timeout=1200)
    finally:
        stop_group(serial)
    assert serial.returncode == 0, (base / "serial.out").read_text()
    return ref


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
    for name in TABLES:
        assert incomplete_reason(reference.serial / "results/tables" / name) is None
    for path in final_stores(reference.serial / "results"):
        assert incomplete_reason(path) is None, path


def test_one_and_two_cores_give_byte_identical_csv_tables(reference):
    serial, parallel = reference.serial / "results", reference.parallel / "results"
    csvs = sorted(p.relative_to(parallel) for p in parallel.rglob("*.csv"))
    assert {Path("tables") / name for name in TABLES} <= set(csvs)
    assert csvs == sorted(p.relative_to(serial) for p in serial.rglob("*.csv"))
    for rel in csvs:
        assert (serial / rel).read_bytes() == (parallel / rel).read_bytes(), rel


def test_one_and_two_cores_give_identical_observations(reference):
    for seed in SEEDS:
        rel = f"{RUNS}/seed~{seed}/observation.json"
        assert (reference.serial / rel).read_bytes() == (reference.parallel / rel).read_bytes()


def test_one_and_two_cores_give_identical_zarr_arrays(reference):
    stores = final_stores(reference.parallel / "results")
    assert len(stores) == 3 + len(SEEDS) * (len(MODELS) + 1) + 1
    assert same_stores(reference.serial / "results", reference.parallel / "results") == []


# ----------------------------------------------------------------------------------------------
# bad configs


@dataclass(frozen=True)
class BadConfig:
    key: str  # the offending key, dotted
    allowed: str  # a piece of the message stating what is allowed
    layer: dict | None = None  # layered over the small config with --configfile ...
    replace: object = None  # or: a function editing config.yaml itself (missing keys)


NAN, INF = float("nan"), float("inf")


def _drop(section: str):
    def change(config):
        del config[section]

    return change


def _rename(old: str, new: str):
    def change(config):
        config[new] = config.pop(old)

    return change


BAD_CONFIGS = {
    "seeds_empty": BadConfig("sweep.seeds", "non-empty", {"sweep": {"seeds": []}}),
    "seeds_duplicated": BadConfig("sweep.seeds", "non-unique", {"sweep": {"seeds": [1, 1]}}),
    "seed_not_an_integer": BadConfig("sweep.seeds", "integer", {"sweep": {"seeds": [1.5]}}),
    "fraction_zero": BadConfig(
        "sweep.neuron_fractions", "minimum of 0", {"sweep": {"neuron_fractions": [0]}}
    ),
    "fraction_above_one": BadConfig(
        "sweep.neuron_fractions", "maximum of 1", {"sweep": {"neuron_fractions": [1.5]}}
    ),
    "fraction_rounding_to_no_neuron": BadConfig(
        "sweep.neuron_fractions", "at least one", {"sweep": {"neuron_fractions": [0.001]}}
    ),
    "muscle_fraction_rounding_to_no_muscle": BadConfig(
        "observation.muscle_fraction", "at least one", {"observation": {"muscle_fraction": 0.05}}
    ),
    "muscle_fraction_above_one": BadConfig(
        "observation.muscle_fraction", "maximum of 1", {"observation": {"muscle_fraction": 1.2}}
    ),
    "allow_failed_runs_not_boolean": BadConfig(
        "sweep.allow_failed_runs", "boolean", {"sweep": {"allow_failed_runs": "yes"}}
    ),
    "unknown_top_level_key": BadConfig("foo", "allowed keys", {"foo": 1}),
    "misspelled_model_setting": BadConfig(
        "models.n_unit", "allowed keys", {"models": {"n_unit": 50}}
    ),
    "misspelled_stage_name": BadConfig("model", "allowed keys", {"model": {"n_units": 50}}),
    "k_above_the_soc_components": BadConfig(
        "similarity.ks", "principal components available", {"similarity": {"ks": [50]}}
    ),
    "k_above_the_model_units": BadConfig(
        "similarity.ks", "4 model units", {"models": {"n_units": 4}}
    ),
    "dt_not_below_tau": BadConfig("models.dt_ms", "< tau_ms", {"models": {"tau_ms": 10.0}}),
    "network_dt_not_the_emg_dt": BadConfig(
        "models.dt_ms", "must equal ground_truth.emg.dt_ms", {"models": {"dt_ms": 5.0}}
    ),
    "g_not_a_number": BadConfig("models.g", ">= 0", {"models": {"g": NAN}}),
    "tau_infinite": BadConfig("models.tau_ms", "finite", {"models": {"tau_ms": INF}}),
    "envelope_ramp_infinite": BadConfig(
        "ground_truth.emg.envelope_ramp_ms",
        "finite",
        {"ground_truth": {"emg": {"envelope_ramp_ms": INF}}},
    ),
    "no_soc_neurons": BadConfig(
        "ground_truth.soc.n_neurons", "minimum of 2", {"ground_truth": {"soc": {"n_neurons": 0}}}
    ),
    "negative_model_units": BadConfig(
        "models.n_units", "minimum of 1", {"models": {"n_units": -3}}
    ),
    "fractional_model_units": BadConfig("models.n_units", "integer", {"models": {"n_units": 2.5}}),
    "baseline_low_above_high": BadConfig(
        "ground_truth.emg.baseline_low",
        "<= baseline_high",
        {"ground_truth": {"emg": {"baseline_low": 0.2, "baseline_high": 0.1}}},
    ),
    "missing_stage": BadConfig("observation", "required", replace=_drop("observation")),
    "misspelled_stage_in_config_yaml": BadConfig(
        "similarty", "allowed keys", replace=_rename("similarity", "similarty")
    ),
}
MISSING_CONFIG = "tests/no-such-config.yaml"


@dataclass
class BadRun:
    proc: subprocess.CompletedProcess
    before: dict
    after: dict


@pytest.fixture(scope="module")
def bad_config_runs(reference, tmp_path_factory) -> dict[str, BadRun]:
    """Every bad config, against the finished small study (two at a time). Configs layered with
    --configfile run in the study itself; configs that lack a key replace config.yaml, so they
    run in copies of it (copies are not up to date, but nothing may run anyway)."""
    study = reference.parallel
    jobs = {}
    for name, bad in BAD_CONFIGS.items():
        if bad.layer is not None:
            path = study / "tests" / f"bad_{name}.yaml"
            path.write_text(yaml.safe_dump(bad.layer))
            jobs[name] = (study, ["--cores", "1", "--configfile", SMALL, f"tests/{path.name}"])
        else:
            copy = tmp_path_factory.mktemp(name) / "study"
            shutil.copytree(study, copy, symlinks=True)
            config = yaml.safe_load((copy / "config.yaml").read_text())
            bad.replace(config)
            (copy / "config.yaml").write_text(yaml.safe_dump(config))
            jobs[name] = (copy, ["--cores", "1"])
    jobs["missing_config_file"] = (study, ["--cores", "1", "--configfile", SMALL, MISSING_CONFIG])
    before = {project: snapshot(project / "results") for project, _ in jobs.values()}
    assert before[study]  # the finished study

    with ThreadPoolExecutor(max_workers=2) as pool:
        procs = dict(
            zip(
                jobs,
                pool.map(lambda job: snakemake(job[0], *job[1], check=False), jobs.values()),
                strict=True,
            )
        )
    after = {project: snapshot(project / "results") for project in before}
    return {
        name: BadRun(procs[name], before[project], after[project])
        for name, (project, _) in jobs.items()
    }


def names_key(line: str, key: str) -> bool:
    """Whether an "invalid config: <where>: <message>" line names the dotted ``key``: as its
    key path (possibly with an index, e.g. sweep.seeds.0), or as a section plus the rest of
    the key in the message (library checks: "models: dt_ms must be < tau_ms ...")."""
    match = re.fullmatch(r"invalid config: (top level|[\w.]+): (.+)", line)
    if match is None:
        return False
    where, message = match.groups()
    if where == key or where.startswith(key + "."):
        return True
    prefix = "" if where == "top level" else where + "."
    rest = key[len(prefix) :]
    return key.startswith(prefix) and re.search(rf"\b{re.escape(rest)}\b", message) is not None


def test_names_key_reads_the_key_path_or_the_section_and_the_message():
    assert names_key(
        "invalid config: sweep.seeds.0: -1 is less than the minimum of 0", "sweep.seeds"
    )
    assert names_key("invalid config: models: dt_ms must be < tau_ms=10.0", "models.dt_ms")
    assert names_key("invalid config: top level: unknown key(s) ['model']; allowed", "model")
    assert not names_key("invalid config: models: unknown key(s) ['models']", "model")
    assert not names_key("invalid config: sweep.neuron_fractions: x", "observation.x")
    assert not names_key("some other line", "sweep")


@pytest.mark.parametrize(
    "name",
    [n for n in BAD_CONFIGS],
)
def test_a_bad_config_stops_before_any_job_with_one_line_naming_the_key(name, bad_config_runs):
    bad, run = BAD_CONFIGS[name], bad_config_runs[name]
    assert run.proc.returncode != 0
    assert "Building DAG of jobs" not in console(run.proc)  # stopped while parsing
    assert "Traceback" not in console(run.proc)
    lines = [line for line in run.proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("invalid config:")]
    assert len(errors) == 1 and errors[0] == lines[-1], run.proc.stderr
    assert names_key(errors[0], bad.key), errors[0]
    assert bad.allowed in errors[0]
    assert run.after == run.before


def test_at_least_twenty_distinct_bad_configs_are_checked():
    assert len(BAD_CONFIGS) >= 20
    assert len({json.dumps(b.layer, sort_keys=True) for b in BAD_CONFIGS.values() if b.layer}) == (
        sum(b.layer is not None for b in BAD_CONFIGS.values())
    )


def test_a_missing_config_file_fails_naming_the_file(bad_config_runs):
    # Snakemake reads --configfile before the Snakefile, so the workflow cannot turn this into
    # its one-line message: the most it gets is Snakemake's traceback, whose last line names
    # the file. Nothing runs and results/ stays as it was.
    run = bad_config_runs["missing_config_file"]
    assert run.proc.returncode != 0
    last = run.proc.stderr.strip().splitlines()[-1]
    assert MISSING_CONFIG in last and "No such file" in last
    assert "Building DAG of jobs" not in console(run.proc)
    assert run.after == run.before


# ----------------------------------------------------------------------------------------------
# a run killed mid-job


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
    for log in (project / "logs").glob("runs/*/*/*.log"):
        if log.stem not in MODELS:
            continue
        final = project / "results/runs" / log.parent.parent.name / log.parent.name
        final = final / f"{log.stem}.zarr"
        if final.exists():
            done += 1
        elif any(final.parent.glob(f".{final.name}.tmp-*")):
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
    # A killed run leaves its lock behind: Snakemake refuses until told to unlock.
    after_kill = snakemake(project, "--cores", "2", "--configfile", SMALL, check=False)
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
    for name in TABLES:
        resumed = (interrupted.project / "results/tables" / name).read_bytes()
        assert resumed == (reference.parallel / "results/tables" / name).read_bytes(), name


def test_rerun_incomplete_rewrites_the_killed_store_as_an_uninterrupted_run_wrote_it(
    interrupted, reference
):
    rel = interrupted.killed.relative_to(interrupted.project)
    killed = store.read_dataset(interrupted.killed)
    clean = store.read_dataset(reference.parallel / rel)
    assert sorted(killed) == sorted(clean)
    for name in clean:
        assert killed[name].tobytes() == clean[name].tobytes(), name


# ----------------------------------------------------------------------------------------------
# corrupted input


CORRUPTIONS = {
    "truncated_chunk": lambda soc: os.truncate(soc / "rates/c/0/0/0", 100),
    "deleted_chunk": lambda soc: (soc / "rates/c/0/0/0").unlink(),
    "deleted_array": lambda soc: shutil.rmtree(soc / "rates"),
}


@pytest.fixture(scope="module")
def ground_truth_only(tmp_path_factory) -> tuple[Path, Path]:
    """A copy holding the ground truth and observations of the small study, and a pristine
    copy of its SOC store."""
    base = tmp_path_factory.mktemp("corrupted")
    project = make_project(base / "study")
    targets = [f"{RUNS}/seed~{s}/observation.json" for s in SEEDS]
    snakemake(project, "--cores", "2", "results/ground_truth/soc.zarr", *targets,
              "--configfile", SMALL)  # fmt: skip
    pristine = base / "soc.zarr"
    shutil.copytree(project / "results/ground_truth/soc.zarr", pristine)
    assert (pristine / "rates/c/0/0/0").is_file()
    return project, pristine


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_a_corrupted_soc_store_fails_its_consumer_naming_store_and_array(
    corruption, ground_truth_only
):
    project, pristine = ground_truth_only
    soc = project / "results/ground_truth/soc.zarr"
    shutil.copytree(pristine, soc, dirs_exist_ok=True)  # copy2: contents and times restored
    CORRUPTIONS[corruption](soc)
    before = snapshot(project / "results")

    proc = snakemake(project, "--cores", "2", "--configfile", SMALL, check=False)

    text = console(proc)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.startswith("StoreError:")]
    assert lines, text
    for line in lines:
        assert "results/ground_truth/soc.zarr" in line and "'rates'" in line
        assert re.search(r"\(log: logs/runs/nf~0\.3/seed~\d/(ff|ffh|floor)\.log\)$", line)
    assert "Traceback" not in text
    # Nothing downstream: no model, similarity or table, not even a temporary sibling; the
    # only change under results/ may be Snakemake's timing of the failed jobs.
    after = snapshot(project / "results")
    assert {p: v for p, v in after.items() if not p.startswith("benchmarks")} == {
        p: v for p, v in before.items() if not p.startswith("benchmarks")
    }
    assert not (project / "results/tables").exists()
    assert list((project / RUNS).glob("seed~*/*.zarr")) == []
    assert list((project / RUNS).glob("seed~*/.*")) == []
    assert list((project / RUNS).glob("seed~*/similarity.csv")) == []


# ----------------------------------------------------------------------------------------------
# numerical failure


@dataclass
class Diverged:
    project: Path
    kept_going: subprocess.CompletedProcess  # allow_failed_runs false, --keep-going
    allowed: subprocess.CompletedProcess  # allow_failed_runs true, --keep-going
    refused: subprocess.CompletedProcess  # the tables alone, allow_failed_runs false
    kept: dict  # what the --keep-going run left: whether tables exist, stores, FFH logs
    allowed_tables: Path  # results/tables as the allow_failed_runs run wrote them


#: Hint gain so large that FFH's target-generating network explodes on the first step; FF and
#: the floor never see the hint gain.
HUGE_HINT = {"models": {"hint_gain": 1.0e6}}


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
        "tables": (project / "results/tables").exists(),
        "stores": sorted(str(p.relative_to(project)) for p in project.glob(f"{RUNS}/*/*.zarr")),
        "logs": {s: (project / f"logs/runs/nf~0.3/seed~{s}/ffh.log").read_text() for s in SEEDS},
    }
    allowed = snakemake(
        project, "--cores", "2", "--keep-going", *configs, "tests/diverge_allowed.yaml",
        check=False,
    )  # fmt: skip
    allowed_tables = project.parent / "allowed_tables"  # the next run deletes the tables
    shutil.copytree(project / "results/tables", allowed_tables)
    # The tables alone with allow_failed_runs false, over the stores of the diverged FFH
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
        run = f"{RUNS}/seed~{seed}/ffh.zarr"
        log = f"logs/runs/nf~0.3/seed~{seed}/ffh.log"
        text = diverged.kept["logs"][seed]
        assert f"run {run}: model ffh" in text
        assert re.search(r"TrainingDiverged: .* in pass \d+, condition \d+, step \d+", text)
        line = [x for x in proc.stderr.splitlines() if x.endswith(f"(log: {log})")]
        assert len(line) == 1 and line[0].startswith("TrainingDiverged: ")
        assert f"output: {run}" in console(proc)  # Snakemake names the failed job's output
    assert "Traceback" not in console(proc)


def test_with_keep_going_the_other_models_finish_and_no_table_is_written(diverged):
    expected = [f"{RUNS}/seed~{s}/{m}.zarr" for s in SEEDS for m in ("ff", "floor")]
    assert diverged.kept["stores"] == expected
    assert diverged.kept["tables"] is False


def test_allowed_failures_record_the_divergence_in_the_model_store(diverged):
    for seed in SEEDS:
        attrs = store.read_attrs(diverged.project / f"{RUNS}/seed~{seed}/ffh.zarr")
        assert attrs["status"] == "diverged"
        assert re.search(r"pass \d+, condition \d+, step \d+", attrs["error"])
        for model in ("ff", "floor"):
            path = diverged.project / f"{RUNS}/seed~{seed}/{model}.zarr"
            assert store.read_attrs(path)["status"] == "ok"


def test_allowed_failures_give_tables_whose_n_counts_the_runs_that_exist(diverged):
    tables = diverged.allowed_tables
    similarity = pd.read_csv(tables / "similarity.csv")
    assert "ffh" not in set(similarity["model"])
    assert {"ff", "floor"} <= set(similarity["model"])
    summary = pd.read_csv(tables / "summary.csv")
    assert "ffh" not in set(summary["model"])
    assert (summary.loc[summary["model"].isin(["ff", "floor"]), "n"] == len(SEEDS)).all()
    paired = pd.read_csv(tables / "paired_tests.csv")
    assert (paired["n"] == 0).all()
    fit = pd.read_csv(tables / "fit.csv")
    assert len(fit) == len(SEEDS) * len(MODELS) * 2
    assert fit.loc[fit["model"] == "ffh", "r2"].isna().all()
    assert np.isfinite(fit.loc[fit["model"] != "ffh", "r2"]).all()


def test_allowed_failures_let_the_whole_workflow_complete(diverged):
    assert diverged.allowed.returncode == 0, diverged.allowed.stderr[-2000:]


def test_tables_refuse_to_summarise_over_missing_runs_naming_them(diverged):
    proc = diverged.refused
    assert proc.returncode != 0
    line = [x for x in proc.stderr.splitlines() if x.startswith("ValueError: ")]
    assert len(line) == 1, proc.stderr
    for seed in SEEDS:
        assert f"nf~0.3/seed~{seed}/ffh" in line[0]
    assert "sweep.allow_failed_runs" in line[0]
    assert "nf~0.3/seed~1/ff;" not in line[0] and "floor" not in line[0]
    assert not (diverged.project / "results/tables/similarity.csv").exists()
