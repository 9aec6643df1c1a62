"""What the reliability tests (tests/test_reliability_*.py) share: the small study's runs and
stores, Snakemake in the background, and checks that results are complete or identical.

Real runs use tests/config.small.yaml, run as a user runs it (see support.workflow).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hintforce import store, study
from support.workflow import EXACT_AXES

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
TABLE_CUBES = {*study.SIMILARITY_VALUES, "spectrum", *EXACT_AXES, *study.ROW_KEYS, "index"}
#: A run's recordings (of exact rates in the small study).
RECORDING_ARRAYS = {
    "recording": {"psth", "neurons", "held_out"},
    "emg_recording": {"emg", "muscles"},
}


def start(project: Path, *args: str, log: Path) -> subprocess.Popen:
    """Snakemake in the background, in its own process group (so that it and its jobs can be
    stopped, resumed or killed together), with the environment of support.workflow.snakemake."""
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


def wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"snakemake exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.05)


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


def expected_arrays(path: Path) -> set[str] | None:
    """The arrays of a complete store at ``path`` (None for a store no rule writes)."""
    if path.name == "similarity.zarr":
        return TABLE_CUBES if path.parent.name == "tables" else RUN_CUBES
    if path.stem in MODELS:
        return MODEL_ARRAYS
    return {**GROUND_TRUTH_ARRAYS, **RECORDING_ARRAYS}.get(path.stem)


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
