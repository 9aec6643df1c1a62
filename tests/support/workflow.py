"""Running the workflow as a user does, for the workflow tests: Snakemake in a subprocess, in
a copy of the project.

The copy includes the package sources, put first on PYTHONPATH, so that editing a library
module of the copy is what the workflow sees, without touching this checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

from hintforce import study
from hintforce.layout import Layout

ROOT = Path(__file__).resolve().parents[2]
COPIED = ["Snakefile", "config.yaml", "workflow", "scripts", "profiles", "src", "studies", "tests"]
SMALL = "tests/config.small.yaml"
#: The study name of config.yaml and of the small config (which does not set one), and where
#: its results, logs and benchmarks go.
STUDY = "default"
#: The axes of a study of exact rates (no spike-recording axis): the small study's.
EXACT_AXES = tuple(a.name for a in study.AXES if not a.spikes)
_EXACT = Layout(STUDY, tuple(study.axis(a) for a in EXACT_AXES))
RESULTS = _EXACT.results
LOGS = _EXACT.logs
BENCHMARKS = _EXACT.benchmarks


def _layout(axes: Mapping[str, int | float], root: str = RESULTS) -> Layout:
    """The layout of a study whose axes are those named in ``axes`` (at least the exact-rate
    study's), with its results under ``root``."""
    unknown = set(axes) - set(study.AXIS_NAMES)
    if unknown:
        raise ValueError(f"unknown axes {sorted(unknown)}")
    present = tuple(a for a in study.AXES if a.name in axes or not a.spikes)
    if not root.startswith("results/"):
        raise ValueError(f"{root} is not under results/")
    return Layout(root.removeprefix("results/"), present)


def segments(axes: Mapping[str, int | float]) -> str:
    """The ``key~value`` path segments of some axes' values, in the registry's path order
    (``{"seed": 1, "ground_truth_seed": 7}`` -> ``gt~7/seed~1``)."""
    layout = _layout(axes)
    return layout.fill(layout.segments(axes), axes)


def ground_truth_path(name: str, axes: Mapping[str, int | float], root: str = RESULTS) -> str:
    """A ground-truth store (``emg``, ``connectivity``, ``soc``) of the circuit of ``axes``."""
    layout = _layout(axes, root)
    return layout.fill(f"{layout.ground_truth}/{name}.zarr", axes)


def observation_path(axes: Mapping[str, int | float], root: str = RESULTS) -> str:
    """The ``observation.json`` of the run seed (and circuit, muscle fraction) of ``axes``."""
    layout = _layout(axes, root)
    return layout.fill(layout.observation, axes)


def recording_paths(axes: Mapping[str, int | float], root: str = RESULTS) -> list[str]:
    """The two recordings of the run ``axes``: its EMG (per run seed) and its neurons (per
    neuron fraction and, with spikes, trial count and smoothing)."""
    layout = _layout(axes, root)
    return [layout.fill(layout.emg_recording, axes), layout.fill(layout.recording, axes)]


def model_path(model: str, axes: Mapping[str, int | float], root: str = RESULTS) -> str:
    """The store of ``model`` for the run ``axes``: under the axes the model depends on."""
    layout = _layout(axes, root)
    return layout.fill(layout.model_path(model), axes)


def run_path(name: str, axes: Mapping[str, int | float], root: str = RESULTS) -> str:
    """A per-run result (``similarity.csv``, ``similarity.zarr``, ``fit.csv``) of a full run
    (``axes`` holds every axis of its study)."""
    layout = _layout(axes, root)
    return layout.fill(f"{layout.run}/{name}", axes)


def log_path(result: str) -> str:
    """The log of the job that writes ``result``: its path under logs/<study>/, ending .log."""
    return _EXACT.log_path(result)


def make_project(where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source,
                where / name,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".snakemake", "results"),
            )
        else:
            shutil.copy2(source, where / name)
    return where


def snakemake(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(project / "src"),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def planned_jobs(project: Path, *args: str) -> list[tuple[str, str]]:
    """(rule, output) of every job a dry run schedules."""
    proc = snakemake(project, "--dry-run", *args)
    text = proc.stdout + proc.stderr
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", text):
        head = re.match(r"(?:local)?rule (\w+):", block)
        if head is None or head.group(1) == "all":
            continue
        output = re.search(r"^\s+output: (.+)$", block, flags=re.M)
        jobs.append((head.group(1), output.group(1) if output else ""))
    return jobs


def with_config(project: Path, name: str, change) -> str:
    """Write a modified copy of the small config; return its path relative to the project."""
    config = yaml.safe_load((project / SMALL).read_text())
    change(config)
    path = project / "tests" / name
    path.write_text(yaml.safe_dump(config))
    return f"tests/{name}"
