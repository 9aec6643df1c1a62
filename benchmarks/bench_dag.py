"""How long Snakemake takes to plan a large sweep (a dry run of >= 10,000 jobs, three axes).

Copies the workflow into a temporary directory, layers a sweep of ``--seeds`` seeds x
``--fractions`` neuron fractions x ``--hint-gains`` hint gains over the default config and
times ``snakemake --dry-run``. With the defaults: per seed one observation, FF and the floor,
and per (fraction, hint gain) three hinted models and a similarity job: 39 jobs per seed.

    python benchmarks/bench_dag.py [--seeds 260] [--fractions 0.1 0.2 0.3] [--hint-gains ...]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=260)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.2, 0.3])
    parser.add_argument("--hint-gains", type=float, nargs="+", default=[0.1, 0.3, 1.0])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        for name in ("Snakefile", "config.yaml"):
            shutil.copy2(ROOT / name, project / name)
        for name in ("workflow", "scripts"):
            shutil.copytree(ROOT / name, project / name)
        sweep = {
            "study": "bench_dag",
            "sweep": {
                "seeds": list(range(args.seeds)),
                "neuron_fractions": args.fractions,
                "hint_gains": args.hint_gains,
            },
        }
        (project / "sweep.yaml").write_text(yaml.safe_dump(sweep))
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "snakemake", "--dry-run", "--quiet", "rules"]
            + ["--cores", "1", "--configfile", "sweep.yaml"],
            cwd=project,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"dry run failed:\n{proc.stdout}\n{proc.stderr}")
    total = re.search(r"^total\s+(\d+)", proc.stdout + proc.stderr, flags=re.M)
    jobs = int(total.group(1))
    print(proc.stdout + proc.stderr)
    print(f"{jobs} jobs planned in {seconds:.1f} s ({jobs / seconds:.0f} jobs/s)")
    print(f"RESULT jobs={jobs} dry_run_seconds={seconds:.1f}")


if __name__ == "__main__":
    main()
