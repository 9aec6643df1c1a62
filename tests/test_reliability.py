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
* ``diverged``: a copy where a huge hint gain makes every hinted model (FFH and both shams)
  diverge.
* ``suggestions``: dry runs, in a fresh copy, of configs refused with a suggested bound and of
  the same configs with the suggested value.
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
from workflow_utils import (
    BENCHMARKS,
    LOGS,
    RESULTS,
    SMALL,
    STUDY,
    ground_truth_path,
    log_path,
    make_project,
    model_path,
    observation_path,
    run_path,
    snakemake,
)

from hintforce import stats, store, study

pytestmark = pytest.mark.workflow

#: The small study (tests/config.small.yaml over config.yaml): one circuit, one muscle
#: fraction, size, neuron fraction and hint gain, and two run seeds.
SMALL_RUN = {
    study.GROUND_TRUTH_SEED: 7,
    study.MUSCLE_FRACTION: 0.4,
    study.N_UNITS: 80,
    study.NEURON_FRACTION: 0.3,
    study.HINT_GAIN: 0.3,
}
SEEDS = (1, 2)
MODELS = study.MODEL_NAMES
HINTED = study.hinted_models()
UNHINTED = tuple(m for m in MODELS if m not in HINTED)
TABLES = ("similarity.csv", "fit.csv", "summary.csv", "paired_tests.csv")
#: Every file of results/<study>/tables/ but the similarity cube.
TABLE_FILES = (*TABLES, "findings.html")
GROUND_TRUTH = ("emg", "connectivity", "soc")


def axes(seed: int, **more) -> dict:
    """The axes of the small study's run of ``seed`` (with some values replaced)."""
    return {**SMALL_RUN, study.SEED: seed, **more}


#: Arrays each kind of store must hold once it is complete (a half-written store lacks some).
GROUND_TRUTH_ARRAYS = {
    "emg": {"emg", "time_ms", "angle_rad"},
    "connectivity": {"W", "excitatory", "abscissa_trace"},
    "soc": {"W", "x0", "gains", "readout", "bias", "rates", "emg_fit"},
}
MODEL_ARRAYS = {"rates", "output", "training_mse"}
#: A run's similarity store, and the study's similarity cube (its text coordinates included).
RUN_CUBES = {"similarity", "spectrum", *study.ROW_KEYS, "index"}
TABLE_CUBES = {*study.SIMILARITY_VALUES, "spectrum", *study.AXIS_NAMES, *study.ROW_KEYS, "index"}


def expected_stores() -> list[str]:
    """Every Zarr store a complete small study holds, relative to the project."""
    stores = {ground_truth_path(name, SMALL_RUN) for name in GROUND_TRUTH}
    for seed in SEEDS:
        stores |= {model_path(m, axes(seed)) for m in MODELS}
        stores.add(run_path("similarity.zarr", axes(seed)))
    stores.add(f"{RESULTS}/tables/similarity.zarr")
    return sorted(stores)


def test_the_small_study_layout_is_the_documented_one():
    # The paths the tests below use, spelled out once: a wrong helper fails here first.
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


def snapshot(directory: Path, directory_times: bool = True) -> dict[str, tuple[int, int] | str]:
    """Every path under ``directory`` with its size and modification time (with
    ``directory_times`` false, a directory is only listed: a run that creates an entry and
    removes it again changes the directory's time and nothing else)."""
    if not directory.exists():
        return {}
    return {
        str(p.relative_to(directory)): (
            "directory"
            if p.is_dir() and not directory_times
            else (p.stat().st_size, p.stat().st_mtime_ns)
        )
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


def expected_arrays(path: Path) -> set[str] | None:
    """The arrays of a complete store at ``path`` (None for a store no rule writes)."""
    if path.name == "similarity.zarr":
        return TABLE_CUBES if path.parent.name == "tables" else RUN_CUBES
    if path.stem in MODELS:
        return MODEL_ARRAYS
    return GROUND_TRUTH_ARRAYS.get(path.stem)


def incomplete_reason(path: Path) -> str | None:
    """Why a result at its final path is not complete (None if it is)."""
    try:
        if path.suffix == ".zarr":
            attrs = store.read_attrs(path)
            if "hintforce_version" not in attrs:  # group attributes are written last
                return "no attributes"
            arrays = store.read_dataset(path)
            expected = expected_arrays(path)
            if expected is None:
                return "a store no rule writes"
            if attrs.get("status") == "diverged":
                expected = set()
            if not expected <= set(arrays):
                return f"arrays {sorted(expected - set(arrays))} missing"
        elif path.suffix == ".json":
            store.read_observation(path)  # the neuron order and the muscles, checked
        elif path.suffix == ".csv" and pd.read_csv(path).empty:
            return "empty table"
        elif path.suffix == ".html" and not path.read_text().rstrip().endswith("</html>"):
            return "truncated page"
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    return None


def same_array(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether two arrays are identical: bit for bit, text (whose bytes hold pointers) by
    value."""
    if x.dtype != y.dtype or x.shape != y.shape:
        return False
    if x.dtype.kind in "OTU":
        return x.tolist() == y.tolist()
    return x.tobytes() == y.tobytes()


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
            if not same_array(x, arrays_b[name]):
                differences.append(f"{rel}/{name}")
        if store.read_attrs(a / rel) != store.read_attrs(b / rel):
            differences.append(f"{rel}: attributes")
    return differences


def test_same_array_compares_text_by_value_and_numbers_bit_for_bit():
    long = "x" * 40  # longer than numpy keeps inline: its bytes are a pointer
    text = np.array(["ff", long], dtype=np.dtypes.StringDType())
    assert same_array(text, np.array(["ff", "x" * 40], dtype=np.dtypes.StringDType()))
    assert not same_array(text, np.array(["ff", "y" * 40], dtype=np.dtypes.StringDType()))
    assert same_array(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]))
    assert not same_array(np.array([0.0]), np.array([-0.0]))
    assert not same_array(np.array([1, 2]), np.array([1.0, 2.0]))


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
    assert len(stores) == len(GROUND_TRUTH) + len(SEEDS) * (len(MODELS) + 1) + 1
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


def _sweep(key: str, values: list, allowed: str) -> BadConfig:
    return BadConfig(f"sweep.{key}", allowed, {"sweep": {key: values}})


EMPTY = "at least one value"
REPEATED = "must not repeat"

BAD_CONFIGS = {
    "seeds_empty": _sweep("seeds", [], EMPTY),
    "seeds_duplicated": _sweep("seeds", [1, 1], REPEATED),
    "seed_not_an_integer": _sweep("seeds", [1.5], "integer"),
    # Every sweep axis refuses an empty list and a repeated value.
    "ground_truth_seeds_empty": _sweep("ground_truth_seeds", [], EMPTY),
    "muscle_fractions_empty": _sweep("muscle_fractions", [], EMPTY),
    "neuron_fractions_empty": _sweep("neuron_fractions", [], EMPTY),
    "hint_gains_empty": _sweep("hint_gains", [], EMPTY),
    "n_units_empty": _sweep("n_units", [], EMPTY),
    "ground_truth_seeds_duplicated": _sweep("ground_truth_seeds", [7, 3, 7], REPEATED),
    "muscle_fractions_duplicated": _sweep("muscle_fractions", [0.4, 0.4], REPEATED),
    "neuron_fractions_duplicated": _sweep("neuron_fractions", [0.3, 0.5, 0.3], REPEATED),
    "hint_gains_duplicated": _sweep("hint_gains", [0.3, 0.3], REPEATED),
    "n_units_duplicated": _sweep("n_units", [80, 80], REPEATED),
    # 80 and 80.0 are one value (one path segment, one run).
    "n_units_duplicated_as_a_float": _sweep("n_units", [80, 80.0], REPEATED),
    "fraction_zero": _sweep("neuron_fractions", [0], "minimum of 0"),
    "fraction_above_one": _sweep("neuron_fractions", [1.5], "maximum of 1"),
    "fraction_rounding_to_no_neuron": _sweep("neuron_fractions", [0.001], "selects 0 of 60"),
    # Observing every neuron leaves no test set: refused for that, before any check of k
    # (which an empty held-out set would fail too).
    "fraction_observing_every_neuron": _sweep("neuron_fractions", [1.0], "leaves none unobserved"),
    "fraction_rounding_to_every_neuron": _sweep(
        "neuron_fractions", [0.3, 0.995], "leaves none unobserved"
    ),
    "muscle_fraction_rounding_to_no_muscle": BadConfig(
        "observation.muscle_fraction", "selects 0 of 5", {"observation": {"muscle_fraction": 0.05}}
    ),
    "swept_muscle_fraction_rounding_to_no_muscle": _sweep(
        "muscle_fractions", [0.4, 0.08], "selects 0 of 5"
    ),
    "muscle_fraction_above_one": BadConfig(
        "observation.muscle_fraction", "maximum of 1", {"observation": {"muscle_fraction": 1.2}}
    ),
    "swept_muscle_fraction_zero": _sweep("muscle_fractions", [0.0], "minimum of 0"),
    "no_model_units": _sweep("n_units", [0], "minimum of 1"),
    "negative_swept_model_units": _sweep("n_units", [80, -3], "minimum of 1"),
    "negative_hint_gain": _sweep("hint_gains", [-0.1], "minimum of 0"),
    "negative_ground_truth_seed": _sweep("ground_truth_seeds", [-1], "minimum of 0"),
    "allow_failed_runs_not_boolean": BadConfig(
        "sweep.allow_failed_runs", "boolean", {"sweep": {"allow_failed_runs": "yes"}}
    ),
    "unknown_sweep_axis": BadConfig("sweep.gains", "allowed keys", {"sweep": {"gains": [1.0]}}),
    # A study name is a directory name: no path separators, nothing hidden or empty.
    "study_name_with_a_slash": BadConfig("study", "does not match", {"study": "a/../b"}),
    "study_name_hidden": BadConfig("study", "does not match", {"study": ".hidden"}),
    "study_name_empty": BadConfig("study", "does not match", {"study": ""}),
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
    "k_above_the_smallest_swept_model": BadConfig(
        "similarity.ks", "4 model units", {"sweep": {"n_units": [80, 4]}}
    ),
    "no_permutations": BadConfig(
        "similarity.n_permutations", "minimum of 1", {"similarity": {"n_permutations": 0}}
    ),
    "fit_gate_above_one": BadConfig(
        "statistics.min_fit_r2", "maximum of 1", {"statistics": {"min_fit_r2": 1.5}}
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
# a refusal's suggested bound


@dataclass(frozen=True)
class Refusal:
    key: str  # the dotted key refused, a list of values (a sweep axis, similarity.ks)
    value: float  # its one value, refused
    more: dict = field(default_factory=dict)  # the rest of the layer, kept when the value changes

    def layer(self, value: float) -> dict:
        """The config layer with ``value`` as the key's one value."""
        layer: dict = {self.key.split(".")[-1]: [value]}
        for section in reversed(self.key.split(".")[:-1]):
            layer = {section: layer}
        return _merged(self.more, layer)


#: Configs refused with a suggested bound ("use <name> >= <bound>" or "<= <bound>").
REFUSALS = {
    # 0.08 x 6 muscles rounds to 0: the suggestion must not be 1/6 rounded down (selects none).
    "too_few_muscles": Refusal(
        "sweep.muscle_fractions", 0.08, {"ground_truth": {"emg": {"n_muscles": 6}}}
    ),
    "too_few_neurons": Refusal("sweep.neuron_fractions", 0.001),
    "every_neuron": Refusal("sweep.neuron_fractions", 1.0),
    "k_too_large": Refusal("similarity.ks", 50),
}


def _merged(a: dict, b: dict) -> dict:
    """``b`` layered over ``a``, section by section."""
    out = dict(a)
    for key, value in b.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and key in out else value
    return out


@dataclass
class Suggestion:
    refused: subprocess.CompletedProcess
    bound: tuple[str, str, int | float] | None  # (name, ">=" or "<=", value) as the message says
    accepted: subprocess.CompletedProcess | None  # the dry run with the suggested value


def _suggested_bound(proc: subprocess.CompletedProcess) -> tuple[str, str, int | float] | None:
    found = re.search(r"use (\w+) ([<>]=) ([-+.\deE]+)\)?$", proc.stderr.strip())
    if found is None:
        return None
    name, direction, text = found.groups()
    return name, direction, int(text) if re.fullmatch(r"[-+]?\d+", text) else float(text)


def _names(name: str, key: str) -> bool:
    """Whether the ``name`` of a suggestion is the config ``key`` or the axis it sweeps."""
    last = key.split(".")[-1]
    return name == last or any(a.name == name and a.sweep == last for a in study.AXES)


@pytest.fixture(scope="module")
def suggestions(tmp_path_factory) -> dict[str, Suggestion]:
    """Each refusal dry-run in a fresh copy of the project, then (when its message suggests a
    bound) the same config with the suggested value."""
    project = make_project(tmp_path_factory.mktemp("suggestions") / "study")
    args = ["--dry-run", "--cores", "1", "--configfile", SMALL]
    out = {}
    for name, case in REFUSALS.items():
        refused_config = project / "tests" / f"refused_{name}.yaml"
        refused_config.write_text(yaml.safe_dump(case.layer(case.value)))
        refused = snakemake(project, *args, f"tests/{refused_config.name}", check=False)
        bound = _suggested_bound(refused)
        accepted = None
        if bound is not None:
            accepted_config = project / "tests" / f"accepted_{name}.yaml"
            accepted_config.write_text(yaml.safe_dump(case.layer(bound[2])))
            accepted = snakemake(project, *args, f"tests/{accepted_config.name}", check=False)
        out[name] = Suggestion(refused, bound, accepted)
    return out


@pytest.mark.parametrize("name", list(REFUSALS))
def test_a_suggested_bound_is_itself_accepted(name, suggestions):
    case, run = REFUSALS[name], suggestions[name]
    lines = [line for line in run.refused.stderr.splitlines() if line.strip()]
    assert run.refused.returncode != 0
    assert lines and lines[-1].startswith(f"invalid config: {case.key}: "), lines[-1:]
    assert run.bound is not None, f"no suggested bound in: {lines[-1]}"
    suggested, direction, bound = run.bound
    assert _names(suggested, case.key), lines[-1]
    # The suggestion lies on the accepted side of the refused value ...
    assert bound > case.value if direction == ">=" else bound < case.value
    # ... and a config with it passes every check: the dry run plans the study.
    assert run.accepted is not None
    text = console(run.accepted)
    assert run.accepted.returncode == 0, f"{lines[-1]}\nthen, with {bound:g}:\n{text[-1500:]}"
    assert "invalid config" not in text
    planned = re.findall(r"^\s+output: (.+)$", text, flags=re.M)
    axis = next((a for a in study.AXES if f"sweep.{a.sweep}" == case.key), None)
    if axis is not None:  # the runs of the suggested value
        assert any(f"/{axis.key}~{axis.label(bound)}/" in out for out in planned), planned[:5]
    else:
        assert planned


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


# ----------------------------------------------------------------------------------------------
# corrupted input


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
    training_logs = {log_path(model_path(m, axes(s))) for s in SEEDS for m in MODELS}
    for line in lines:
        assert SOC in line and "'rates'" in line
        assert any(line.endswith(f"(log: {log})") for log in training_logs), line
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


# ----------------------------------------------------------------------------------------------
# numerical failure


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
    expected = sorted(model_path(m, huge(s)) for s in SEEDS for m in UNHINTED)
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
        " ".join(f"{a.key}~{a.label(huge(seed)[a.name])}" for a in study.AXES) + f" {model}"
        for seed in SEEDS
        for model in HINTED
    }
    assert set(named.group(1).split("; ")) == expected
    assert not (diverged.project / RESULTS / "tables/similarity.csv").exists()
