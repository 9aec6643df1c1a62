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
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
COPIED = ["Snakefile", "config.yaml", "workflow", "scripts", "profiles", "src", "tests"]
SMALL = "tests/config.small.yaml"


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
