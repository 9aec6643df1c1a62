"""Wall time of whole studies from empty results, as a user runs them (``snakemake --profile
profiles/local``, all cores), each in its own temporary copy of the project.

Prints one line per study with its wall time, the number of jobs and the slowest rules (from
the jobs' own benchmark files), and a RESULT line. The default runs the default study and the
shipped generalisation study side by side in one invocation (one after the other), so their
times are comparable on a shared machine.

    python benchmarks/bench_studies.py [studies/generalisation.yaml ...] [--default]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("Snakefile", "config.yaml", "workflow", "scripts", "profiles", "src", "studies")


def run_study(config: str | None) -> dict:
    """Run one study from empty results in a temporary copy; its wall time and job times."""
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        for name in COPIED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(
                    source, project / name, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                shutil.copy2(source, project / name)
        args = [sys.executable, "-m", "snakemake", "--profile", "profiles/local"]
        study = "default"
        if config is not None:
            args += ["--configfile", config]
            study = (yaml.safe_load((project / config).read_text()) or {}).get("study", study)
        env = {**os.environ, "PYTHONPATH": str(project / "src")}
        start = time.perf_counter()
        proc = subprocess.run(args, cwd=project, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{config or 'default'} failed:\n{proc.stderr[-3000:]}")
        rows = []
        for path in (project / "results" / study / "benchmarks").rglob("*.tsv"):
            rule = path.relative_to(project / "results" / study / "benchmarks").parts[0]
            rows.append({"file": str(path), "kind": rule, "s": pd.read_csv(path, sep="\t")["s"][0]})
        jobs = pd.DataFrame(rows)
        return {"name": config or "default", "seconds": seconds, "jobs": jobs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", default=["studies/generalisation.yaml"])
    parser.add_argument("--no-default", action="store_true", help="skip the default study")
    args = parser.parse_args()
    results = [] if args.no_default else [run_study(None)]
    results += [run_study(config) for config in args.configs]
    for result in results:
        jobs = result["jobs"]
        slowest = jobs.sort_values("s", ascending=False).head(3)
        shown = ", ".join(
            f"{Path(f).stem} {s:.1f} s" for f, s in zip(slowest.file, slowest.s, strict=True)
        )
        print(
            f"{result['name']}: {result['seconds']:.0f} s wall, {len(jobs)} jobs "
            f"({jobs.s.sum():.0f} s of job time); slowest: {shown}"
        )
    print(
        "RESULT " + " ".join(f"{Path(r['name']).stem}_seconds={r['seconds']:.0f}" for r in results)
    )


if __name__ == "__main__":
    main()
