"""The small study on a real single-node SLURM cluster gives the same tables as a local run.

`tests/support/slurm_cluster.py` installs Debian's SLURM (with slurmdbd on a private MariaDB, so
that ``sacct`` answers as on a production cluster) and brings it up for this module. The
workflow runs twice in copies of the project: once locally, once through
``--profile profiles/slurm`` with the partition and account pointed at the test cluster
(and its logs kept, status polled sooner). The SLURM run must have executed every
rule-job inside a SLURM job step that slurmdbd recorded, in fewer SLURM jobs than
rule-jobs (the profile's groups), and must produce byte-identical tables
(``results/<study>/tables/*.csv`` and ``findings.html``).

Needs root and apt-get (skipped otherwise) and the ``slurm`` extra
(``pip install '.[slurm]'``).
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from support.slurm_cluster import SlurmCluster, slurm_cluster, unavailable_reason
from support.workflow import RESULTS, SMALL, make_project

from hintforce import study

PROFILE = "profiles/slurm"
#: Tables of the output contract (README, "Outputs"); every csv and HTML page under
#: results/<study>/tables is compared.
CONTRACT_TABLES = ("similarity.csv", "fit.csv", "summary.csv", "paired_tests.csv", "findings.html")
#: The directory of a run seed's observation (circuit, muscle fraction, seed): its jobs (the
#: observation, the models and the similarities) form one connected piece of the `run` group.
_RUN_SEED_DIR = re.compile(
    re.escape(f"{RESULTS}/runs/")
    + "/".join(
        f"{study.axis(a).key}~[^/]+"
        for a in (study.GROUND_TRUTH_SEED, study.MUSCLE_FRACTION, study.SEED)
    )
    + "/"
)
#: Wall-clock bounds of one Snakemake run (seconds); `timeout -k` enforces them, since
#: Snakemake traps SIGTERM to cancel its jobs.
LOCAL_LIMIT = 600
SLURM_LIMIT = 900

_JOB_HEAD = re.compile(r"^(local)?rule (\w+):$", flags=re.M)


def start_snakemake(
    project: Path, args: list[str], env: dict[str, str], limit: float
) -> subprocess.Popen:
    """Start Snakemake in `project`, to be killed after `limit` seconds; output to a file.

    `timeout -k` bounds it: Snakemake traps SIGTERM (to cancel its SLURM jobs), so the
    follow-up SIGKILL is what guarantees the end.
    """
    env = {
        **env,
        "PYTHONPATH": str(project / "src"),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    cmd = ["timeout", "-k", "30", str(int(limit)), sys.executable, "-m", "snakemake", *args]
    with open(project / "snakemake.out", "wb") as out:
        return subprocess.Popen(
            cmd, cwd=project, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        )


def finish_snakemake(proc: subprocess.Popen, project: Path, limit: float) -> str:
    """Wait for a `start_snakemake` process; return its output, raise if it failed."""
    try:
        proc.wait(timeout=limit + 60)
    finally:
        if proc.poll() is None:  # only if `timeout` itself hung
            proc.kill()
            proc.wait()
    text = (project / "snakemake.out").read_text(errors="replace")
    if proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(proc.args[7:])} exited {proc.returncode} "
            f"(124/137: killed after {limit:.0f} s)\n{text[-12000:]}"
        )
    return text


def stop_snakemake(proc: subprocess.Popen) -> None:
    """End a `start_snakemake` process early: SIGTERM to `timeout`, which passes it on."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_snakemake(project: Path, args: list[str], env: dict[str, str], limit: float) -> str:
    """Run Snakemake in `project` to the end; return its output, raise if it failed."""
    return finish_snakemake(start_snakemake(project, args, env, limit), project, limit)


def executed_jobs(text: str, local_only: bool = False) -> list[tuple[str, str]]:
    """(rule, output) of every job announced in a Snakemake log, rule `all` left out.

    With `local_only`, only ``localrule`` blocks count: in a SLURM job's log those are
    printed by the Snakemake process that ran the job inside its job step.
    """
    jobs = []
    heads = list(_JOB_HEAD.finditer(text))
    for head, nxt in zip(heads, [*heads[1:], None], strict=True):
        if head.group(2) == "all" or (local_only and not head.group(1)):
            continue
        block = text[head.end() : nxt.start() if nxt else len(text)]
        output = re.search(r"^\s+output: (.+)$", block, flags=re.M)
        jobs.append((head.group(2), output.group(1).strip() if output else ""))
    return jobs


def slurm_profile_args(project: Path, cluster: SlurmCluster) -> list[str]:
    """Command-line overrides that aim the unedited profile at the test cluster.

    ``--default-resources`` on the command line replaces the profile's list, so the
    profile's own defaults are repeated with the partition and account added.
    """
    profile = yaml.safe_load((project / PROFILE / "config.yaml").read_text())
    defaults = {
        **profile.get("default-resources", {}),
        "slurm_partition": cluster.partition,
        "slurm_account": cluster.account,
    }
    return [
        "--profile",
        PROFILE,
        "--default-resources",
        *(f"{key}={value}" for key, value in defaults.items()),
        # Keep every SLURM log as evidence, and poll sooner than a production cluster needs.
        "--slurm-keep-successful-logs",
        "--slurm-init-seconds-before-status-checks",
        "2",
    ]


def slurm_evidence(project: Path, cluster: SlurmCluster, main_log: str) -> dict:
    """What the SLURM run left: its submissions, sacct's records and the jobs in each log.

    Returns
    -------
    dict with
        run_id : the plugin's run UUID (the SLURM job name of every submission);
        submitted : SLURM job ids the plugin reported submitting;
        allocations : {job id: sacct row} of this run's jobs;
        steps : {job id: [sacct rows of its numbered job steps]};
        log_jobs : {job id: [(rule, output) run inside that job's steps]};
        log_dirs : {job id: name of the log directory (``group_*`` or ``rule_*``)}.
    """
    found = re.search(r"SLURM run ID: (\S+)", main_log)
    assert found, "the SLURM executor did not report a run ID"
    run_id = found.group(1)
    submitted = set(re.findall(r"submitted with SLURM jobid (\d+)", main_log))
    rows = cluster.sacct("JobID", "JobName", "State", "Partition", "Account")
    allocations = {r["JobID"]: r for r in rows if r["JobName"] == run_id}
    steps: dict[str, list[dict]] = {}
    for r in rows:
        job, _, step = r["JobID"].partition(".")
        if job in allocations and step.isdigit():
            steps.setdefault(job, []).append(r)
    log_jobs, log_dirs = {}, {}
    for log in (project / ".snakemake" / "slurm_logs").rglob("*.log"):
        if log.stem.isdigit():
            log_jobs[log.stem] = executed_jobs(log.read_text(errors="replace"), local_only=True)
            log_dirs[log.stem] = log.relative_to(project / ".snakemake" / "slurm_logs").parts[0]
    return dict(
        run_id=run_id,
        submitted=submitted,
        allocations=allocations,
        steps=steps,
        log_jobs=log_jobs,
        log_dirs=log_dirs,
    )


def tables(project: Path) -> dict[str, bytes]:
    """The study's tables (CSV and HTML) by name, as bytes."""
    directory = project / RESULTS / "tables"
    return {
        p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.suffix in (".csv", ".html")
    }


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def cluster():
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.fail("the SLURM test needs the slurm extra: pip install '.[slurm]'")
    with slurm_cluster() as running:
        yield running


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """The small study run locally and through the SLURM profile, side by side.

    The SLURM run keeps one CPU busy at a time (its group jobs depend on each other and run
    their members one by one), so the local run shares the machine with it.
    """
    local = make_project(tmp_path_factory.mktemp("local"))
    slurm = make_project(tmp_path_factory.mktemp("slurm"))
    local_proc = start_snakemake(
        local, ["--cores", "2", "--configfile", SMALL], os.environ.copy(), LOCAL_LIMIT
    )
    try:
        args = ["--configfile", SMALL, *slurm_profile_args(slurm, cluster)]
        slurm_log = run_snakemake(slurm, args, cluster.env, SLURM_LIMIT)
        local_log = finish_snakemake(local_proc, local, LOCAL_LIMIT)
    finally:
        stop_snakemake(local_proc)
    return (local, local_log), (slurm, slurm_log, slurm_evidence(slurm, cluster, slurm_log))


@pytest.fixture(scope="module")
def local_run(runs):
    return runs[0]


@pytest.fixture(scope="module")
def slurm_run(runs):
    return runs[1]


# --------------------------------------------------------------------------- tests


@pytest.mark.slurm
def test_every_rule_job_ran_in_a_recorded_slurm_job_step(local_run, slurm_run, capsys):
    _, local_log = local_run
    _, _, ev = slurm_run
    with capsys.disabled():  # the job ids go to the test log, passing or not
        for job_id, jobs in sorted(ev["log_jobs"].items()):
            rules = ", ".join(sorted(rule for rule, _ in jobs))
            print(f"\nSLURM job {job_id} ({ev['allocations'][job_id]['State']}): {rules}")
    expected = Counter(executed_jobs(local_log))
    assert expected, "the local run executed no job"
    ran_under_slurm = Counter(job for jobs in ev["log_jobs"].values() for job in jobs)
    assert ran_under_slurm == expected
    # Each SLURM log belongs to a job of this run that slurmdbd recorded as completed,
    # with one completed job step per rule-job that the log shows running.
    assert ev["submitted"] == set(ev["allocations"]) == set(ev["log_jobs"])
    for job_id, jobs in ev["log_jobs"].items():
        assert ev["allocations"][job_id]["State"] == "COMPLETED", ev["allocations"][job_id]
        steps = ev["steps"].get(job_id, [])
        assert len(steps) == len(jobs), (job_id, steps, jobs)
        assert all(s["State"] == "COMPLETED" for s in steps), steps


@pytest.mark.slurm
def test_slurm_jobs_go_to_the_requested_partition_and_account(cluster, slurm_run):
    _, _, ev = slurm_run
    assert ev["allocations"]
    for row in ev["allocations"].values():
        assert (row["Partition"], row["Account"]) == (cluster.partition, cluster.account)


@pytest.mark.slurm
def test_groups_bundle_rule_jobs_into_fewer_slurm_jobs(local_run, slurm_run):
    _, local_log = local_run
    project, _, ev = slurm_run
    jobs = executed_jobs(local_log)
    runs = {m.group(0) for _, out in jobs if (m := _RUN_SEED_DIR.search(out))}
    assert runs, "the local run trained no run"
    profile = yaml.safe_load((project / PROFILE / "config.yaml").read_text())
    # Every rule-job of the run group lies in one of these pieces.
    for rule, out in jobs:
        if profile["groups"][rule] == "run":
            assert _RUN_SEED_DIR.search(out), (rule, out)
    per_job = profile["group-components"]["run"]
    # One SLURM job for each of the other groups (ground truth, aggregation), and the runs
    # in batches of group-components.
    n_other = len(set(profile["groups"].values()) - {"run"})
    assert len(ev["allocations"]) == n_other + math.ceil(len(runs) / per_job) < len(jobs)
    assert all(name.startswith("group_") for name in ev["log_dirs"].values()), ev["log_dirs"]


@pytest.mark.slurm
def test_slurm_run_tables_are_byte_identical_to_the_local_run(local_run, slurm_run):
    local_tables = tables(local_run[0])
    slurm_tables = tables(slurm_run[0])
    assert set(CONTRACT_TABLES) <= set(local_tables)
    assert list(slurm_tables) == list(local_tables)
    for name, content in local_tables.items():
        assert slurm_tables[name] == content, f"{RESULTS}/tables/{name} differs"


@pytest.mark.workflow
def test_slurm_profile_names_exactly_the_workflow_rules(tmp_path):
    project = make_project(tmp_path / "project")
    listed = run_snakemake(project, ["--list-rules", "--configfile", SMALL], os.environ.copy(), 120)
    rules = {line for line in listed.splitlines() if re.fullmatch(r"\w+", line)} - {"all"}
    profile = yaml.safe_load((project / PROFILE / "config.yaml").read_text())
    assert set(profile["groups"]) == rules
    assert set(profile["group-components"]) == set(profile["groups"].values())
    # Each rule's size is stated once, in the rule: the profile adds none.
    assert "set-resources" not in profile
    assert set(rule_sizes(project)) == rules


def rule_sizes(project: Path) -> dict[str, dict[str, str]]:
    """Rule -> its threads, mem_mb and runtime as written in workflow/rules/*.smk (a rule made
    with ``use rule A as B with:`` inherits A's); fails if a rule states any of them not."""
    sizes: dict[str, dict[str, str]] = {}
    for path in sorted((project / "workflow/rules").glob("*.smk")):
        text = path.read_text()
        for name, body in re.findall(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", text, flags=re.M):
            found = dict(re.findall(r"^\s+(threads): (\d+)$", body, flags=re.M))
            found |= dict(re.findall(r"^\s+(mem_mb|runtime)=(\d+),$", body, flags=re.M))
            assert set(found) == {"threads", "mem_mb", "runtime"}, (name, found)
            sizes[name] = found
        for parent, name in re.findall(r"^use rule (\w+) as (\w+) with:", text, flags=re.M):
            sizes[name] = sizes[parent]
    return sizes


def job_counts(text: str) -> Counter:
    """Rule -> number of jobs, from the job stats table of a (dry) run, rule `all` left out."""
    table = text[text.index("Job stats:") :]
    table = table[: re.search(r"^total\s+\d+$", table, flags=re.M).end()]
    counts = Counter(
        {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M)}
    )
    total = counts.pop("total")
    counts.pop("all", None)
    assert sum(counts.values()) + 1 == total, table
    return counts


@pytest.mark.workflow
def test_grouping_submits_a_1000_seed_sweep_in_under_a_tenth_as_many_slurm_jobs(tmp_path):
    project = make_project(tmp_path / "project")
    seeds = list(range(1000))
    (project / "sweep.yaml").write_text(yaml.safe_dump({"sweep": {"seeds": seeds}}))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", "--profile", PROFILE]
        + ["--configfile", "sweep.yaml"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout + proc.stderr
    counts = job_counts(text)
    groups = yaml.safe_load((project / PROFILE / "config.yaml").read_text())["groups"]
    # Per seed at the default study (one circuit, muscle fraction, size, neuron fraction and
    # hint gain): its observation, its two recordings (EMG and neurons), every model, the
    # run's similarity and its dynamics.
    run_jobs = sum(n for rule, n in counts.items() if groups[rule] == "run")
    assert run_jobs == len(seeds) * (1 + 2 + len(study.MODEL_NAMES) + 2), counts
    # Every job is planned inside a group job, none on its own ...
    members = len(re.findall(r"^ {4}(?:local)?rule \w+:$", text, flags=re.M))
    alone = len(re.findall(r"^(?:local)?rule (?!all:)\w+:$", text, flags=re.M))
    assert (members, alone) == (sum(counts.values()), 0)
    # ... and the groups make at most one SLURM job per 10 rule-jobs of the runs, and overall.
    submissions = Counter(re.findall(r"Group job (\w+) \(jobs", text))
    assert 0 < submissions["run"] <= run_jobs / 10
    assert 0 < sum(submissions.values()) <= sum(counts.values()) / 10
