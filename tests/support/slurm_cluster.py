"""A throw-away single-node SLURM cluster, with accounting, for integration tests.

`slurm_cluster()` installs Debian's SLURM, MUNGE and MariaDB packages if they are missing,
writes every configuration file, key, database, spool and state directory under one
temporary directory, starts ``munged``, ``mariadbd``, ``slurmdbd``, ``slurmctld`` and
``slurmd`` directly as child processes (no systemd, no init scripts), waits until ``sinfo``
shows the node idle and ``sacct`` answers, and at exit cancels any job left, stops each
daemon by its PID and removes the directory. Nothing outside the temporary directory is
changed except the installed packages.

The daemons run as root (``SlurmUser=root``) on free loopback ports, without cgroups
(``proctrack/linuxproc``, ``task/none``). Client commands find the cluster through the
``SLURM_CONF`` variable in `SlurmCluster.env`; pass that environment to every ``sbatch``,
``sacct`` or ``snakemake --executor slurm`` subprocess.

Usage::

    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with slurm_cluster() as cluster:
        subprocess.run(["sbatch", "--wrap", "true"], env=cluster.env, check=True)
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: Debian packages that provide the cluster.
PACKAGES: tuple[str, ...] = (
    "munge",
    "slurmctld",
    "slurmd",
    "slurm-client",
    "slurmdbd",
    "mariadb-server",
)

#: The daemon executables that must exist once the packages are installed.
_EXECUTABLES: tuple[str, ...] = (
    "munged",
    "mariadbd",
    "mariadb-install-db",
    "slurmdbd",
    "slurmctld",
    "slurmd",
    "sbatch",
    "sacct",
    "sacctmgr",
)

_APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "NEEDRESTART_MODE": "l"}
_POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


class ClusterError(RuntimeError):
    """The cluster could not be installed, configured, started or stopped."""


class DaemonDied(ClusterError):
    """A daemon of the cluster exited while it was expected to run."""


def unavailable_reason() -> str | None:
    """Why a cluster cannot be brought up on this machine, or None when it can.

    Returns
    -------
    str or None
        A sentence suitable for ``pytest.skip``: not Linux, not root, or no ``apt-get``.
    """
    if not hasattr(os, "geteuid") or not Path("/proc").is_dir():
        return "a SLURM test cluster needs Linux"
    if os.geteuid() != 0:
        return "a SLURM test cluster needs root (to install packages and run slurmd)"
    if shutil.which("apt-get") is None or shutil.which("dpkg-query") is None:
        return "a SLURM test cluster needs apt-get to install Debian's slurm packages"
    return None


def missing_packages(packages: Sequence[str] = PACKAGES) -> list[str]:
    """Names among `packages` that dpkg does not report as installed."""
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n", *packages],
        capture_output=True,
        text=True,
        check=False,
    )
    installed = {
        line.split()[0]
        for line in proc.stdout.splitlines()
        if len(line.split()) >= 2 and line.split()[1].startswith("ii")
    }
    return [p for p in packages if p not in installed]


def ensure_packages(packages: Sequence[str] = PACKAGES, timeout: float = 900.0) -> None:
    """Install `packages` with apt-get unless all are installed already.

    Idempotent and fast (one ``dpkg-query``) when nothing is missing. Package maintainer
    scripts are kept from starting system services: a temporary ``policy-rc.d`` that
    denies every start is put in place when the machine has none, and removed afterwards.

    Raises
    ------
    ClusterError
        If ``apt-get`` fails or a daemon executable is still missing afterwards.
    """
    missing = missing_packages(packages)
    if missing:
        env = {**os.environ, **_APT_ENV}
        made_policy = not _POLICY_RC_D.exists()
        if made_policy:
            _POLICY_RC_D.write_text("#!/bin/sh\n# hintforce tests: start no services\nexit 101\n")
            _POLICY_RC_D.chmod(0o755)
        try:
            for cmd in (
                ["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            ):
                proc = subprocess.run(
                    cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False
                )
                if proc.returncode != 0:
                    raise ClusterError(
                        f"{' '.join(cmd)} failed with exit code {proc.returncode}:\n"
                        f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
                    )
        finally:
            if made_policy:
                _POLICY_RC_D.unlink(missing_ok=True)
    absent = [exe for exe in _EXECUTABLES if _which(exe) is None]
    if absent:
        raise ClusterError(f"executables missing after installing {packages}: {absent}")


def _which(name: str) -> str | None:
    """Find `name` on PATH or in the sbin directories, which a non-login PATH may omit."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")


def free_ports(n: int) -> list[int]:
    """`n` distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def node_hardware() -> tuple[str, int, int]:
    """This machine's short hostname, CPU count and memory in MB as ``slurmd -C`` sees them.

    Returns
    -------
    name : str
        ``hostname -s``, the name slurmd registers under.
    cpus : int
        Logical CPUs.
    real_memory_mb : int
        Memory in MB; a node configured with more than this is drained by slurmctld.
    """
    name = subprocess.run(
        ["hostname", "-s"], capture_output=True, text=True, check=True
    ).stdout.strip()
    out = subprocess.run(
        [_which("slurmd") or "slurmd", "-C"], capture_output=True, text=True, check=True
    ).stdout
    cpus = int(re.search(r"\bCPUs=(\d+)", out).group(1))
    mem = int(re.search(r"\bRealMemory=(\d+)", out).group(1))
    return name, cpus, mem


@dataclass
class SlurmCluster:
    """A running single-node cluster; see `slurm_cluster`.

    Attributes
    ----------
    root : Path
        Temporary directory holding every file of the cluster.
    env : dict
        ``os.environ`` plus ``SLURM_CONF``; use it for every client subprocess.
    cluster_name, partition, account, node : str
        Names as SLURM knows them; `partition` is the default one, `account` is associated
        with root in slurmdbd.
    cpus, real_memory_mb : int
        The node's configured size.
    """

    root: Path
    env: dict[str, str]
    cluster_name: str
    partition: str
    account: str
    node: str
    cpus: int
    real_memory_mb: int
    _procs: list[tuple[str, subprocess.Popen]] = field(default_factory=list, repr=False)

    @property
    def conf(self) -> Path:
        """The cluster's slurm.conf."""
        return self.root / "etc" / "slurm.conf"

    def run(self, *cmd: str, check: bool = True, timeout: float = 60.0) -> str:
        """Run a SLURM client command against this cluster and return its stdout."""
        proc = subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise ClusterError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()}")
        return proc.stdout

    def sacct(self, *fields: str, steps: bool = True) -> list[dict[str, str]]:
        """All jobs (and job steps, unless `steps` is False) that slurmdbd recorded.

        Parameters
        ----------
        fields : str
            sacct format fields, e.g. ``"JobID", "JobName", "State", "Comment"``.

        Returns
        -------
        list of dict
            One dict per row, keyed by the given field names.
        """
        args = [
            "sacct",
            "--allusers",
            "--noheader",
            "--parsable2",
            "--starttime=now-7days",
            f"--format={','.join(fields)}",
        ]
        if not steps:
            args.append("--allocations")
        out = self.run(*args)
        return [dict(zip(fields, line.split("|"), strict=True)) for line in out.splitlines()]

    def log(self, name: str) -> str:
        """The text of one daemon's log file (``slurmctld``, ``slurmd``, ...), or ''."""
        path = self.root / "log" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _wait_until(what: str, check, timeout: float, cluster_root: Path, poll: float = 0.25):
    """Poll ``check()`` until it returns a truthy value; raise ClusterError on timeout."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        try:
            result = check()
        except DaemonDied:
            raise
        except (subprocess.SubprocessError, OSError, ClusterError) as err:
            result, last_error = None, str(err)
        if result:
            return result
        time.sleep(poll)
    logs = "\n".join(
        f"--- {p.name} (tail) ---\n{p.read_text(errors='replace')[-1500:]}"
        for p in sorted((cluster_root / "log").glob("*.log"))
    )
    raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what}. {last_error}\n{logs}")


def _start(cluster: SlurmCluster, name: str, cmd: list[str]) -> subprocess.Popen:
    """Start one daemon in the foreground as our child, in its own session."""
    with open(cluster.root / "log" / f"{name}.out", "wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=cluster.env,
            start_new_session=True,
        )
    cluster._procs.append((name, proc))
    time.sleep(0.05)
    if proc.poll() is not None:
        text = (cluster.root / "log" / f"{name}.out").read_text(errors="replace")
        raise DaemonDied(f"{name} exited at once with code {proc.returncode}:\n{text}")
    return proc


def _alive(cluster: SlurmCluster, name: str) -> bool:
    for n, proc in cluster._procs:
        if n == name and proc.poll() is not None:
            raise DaemonDied(
                f"{name} died with exit code {proc.returncode}:\n"
                + (cluster.root / "log" / f"{name}.out").read_text(errors="replace")[-1500:]
                + cluster.log(name)[-1500:]
            )
    return True


def _stepd_pids(root: Path) -> list[int]:
    """PIDs of slurmstepd processes that belong to the cluster under `root`.

    slurmd forks one step daemon per job step, which outlives slurmd; ours inherit
    slurmd's environment (``SLURM_CONF`` under `root`) and hold its log file open.
    """
    marker = str(root).encode()
    pids = []
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit():
            continue
        try:
            if not (proc_dir / "comm").read_text().startswith("slurmstepd"):
                continue
            environ = (proc_dir / "environ").read_bytes().split(b"\0")
            fds = [os.readlink(fd) for fd in (proc_dir / "fd").iterdir()]
        except OSError:
            continue
        if any(e.startswith(b"SLURM_CONF=") and marker in e for e in environ) or any(
            t.startswith(str(root)) for t in fds
        ):
            pids.append(int(proc_dir.name))
    return pids


def _stop_pid(pid: int, proc: subprocess.Popen | None, grace: float) -> None:
    """SIGTERM `pid`, wait up to `grace` seconds, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc is not None:
            if proc.poll() is not None:
                return
        elif not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def _teardown(cluster: SlurmCluster) -> None:
    """Cancel leftover jobs, stop every daemon by PID (reverse start order), kill strays."""
    names = {n for n, p in cluster._procs if p.poll() is None}
    if {"slurmctld", "slurmd"} <= names:
        with contextlib.suppress(subprocess.SubprocessError, OSError, ClusterError):
            cluster.run("scancel", "--full", "--user=root", "--quiet", check=False, timeout=15)
            deadline = time.monotonic() + 15
            while (
                time.monotonic() < deadline
                and cluster.run("squeue", "--noheader", "--all", check=False, timeout=10).strip()
            ):
                time.sleep(0.5)
    for _name, proc in reversed(cluster._procs):
        if proc.poll() is None:
            _stop_pid(proc.pid, proc, grace=20.0)
        if _name == "slurmd":
            for pid in _stepd_pids(cluster.root):
                _stop_pid(pid, None, grace=5.0)
    cluster._procs.clear()


_SLURM_CONF = """\
# Written by tests/support/slurm_cluster.py: a single-node cluster for integration tests.
ClusterName={cluster_name}
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={munge_socket}
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: track processes through /proc and bind no tasks.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=1
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
# Memory is a consumable resource; without DefMemPerCPU a job without --mem takes the node.
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU={def_mem_per_cpu}
ReturnToService=2
MinJobAge=300
KillWait=5
InactiveLimit=0
Waittime=0
SlurmdTimeout=120
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={dbd_port}
# Connections to slurmdbd take their MUNGE socket from here, not from AuthInfo.
AccountingStoragePass={munge_socket}
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={real_memory_mb} State=UNKNOWN
PartitionName={partition} Nodes={node} Default=YES MaxTime=INFINITE State=UP
"""

_SLURMDBD_CONF = """\
# Written by tests/support/slurm_cluster.py.
AuthType=auth/munge
AuthInfo=socket={munge_socket}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={dbd_port}
SlurmUser=root
PidFile={root}/run/slurmdbd.pid
LogFile={root}/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={db_port}
StorageUser=slurm
StoragePass={db_password}
StorageLoc=slurm_acct_db
"""


@contextlib.contextmanager
def slurm_cluster(
    partition: str = "hintforce",
    account: str = "hintforce",
    cluster_name: str = "hintforce",
    def_mem_per_cpu: int = 1024,
    startup_timeout: float = 120.0,
    install: bool = True,
) -> Iterator[SlurmCluster]:
    """Bring up a single-node SLURM cluster with slurmdbd accounting for the `with` block.

    Parameters
    ----------
    partition : str
        Name of the single (default) partition.
    account : str
        Account created in slurmdbd and associated with root.
    cluster_name : str
        ``ClusterName`` (lower case).
    def_mem_per_cpu : int
        ``DefMemPerCPU`` in MB, the memory of a job that asks for none.
    startup_timeout : float
        Seconds to wait for each daemon to answer.
    install : bool
        Install missing Debian packages first (`ensure_packages`).

    Yields
    ------
    SlurmCluster
        The idle cluster; `SlurmCluster.env` points client commands at it.

    Raises
    ------
    ClusterError
        If a package, daemon or readiness check fails; every started daemon is stopped
        before the error propagates.
    """
    reason = unavailable_reason()
    if reason:
        raise ClusterError(reason)
    if install:
        ensure_packages()
    node, cpus, real_memory_mb = node_hardware()
    # Short path: unix sockets are limited to 107 bytes.
    root = Path(tempfile.mkdtemp(prefix="hf-slurm-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_"))}
    env["SLURM_CONF"] = str(root / "etc" / "slurm.conf")
    env["PATH"] = ":".join([str(root / "bin"), env.get("PATH", "/usr/bin:/bin"), "/usr/sbin:/sbin"])
    cluster = SlurmCluster(
        root=root,
        env=env,
        cluster_name=cluster_name,
        partition=partition,
        account=account,
        node=node,
        cpus=cpus,
        real_memory_mb=real_memory_mb,
    )
    try:
        _configure_and_start(cluster, def_mem_per_cpu, startup_timeout)
        yield cluster
    finally:
        try:
            _teardown(cluster)
        finally:
            shutil.rmtree(root, ignore_errors=True)


#: SLURM client commands that get a wrapper in the cluster's bin directory.
CLIENT_COMMANDS: tuple[str, ...] = (
    "sacct",
    "sacctmgr",
    "salloc",
    "sbatch",
    "scancel",
    "scontrol",
    "sinfo",
    "sprio",
    "squeue",
    "sreport",
    "srun",
    "sshare",
    "sstat",
)


def _write_client_wrappers(root: Path) -> None:
    """Put wrappers that pin ``SLURM_CONF`` in front of the real client commands.

    The slurm-jobstep executor inside each job deletes every ``SLURM_*`` variable except
    the job's identity before it calls ``srun``, so ``SLURM_CONF`` alone does not reach the
    job step; a real cluster has /etc/slurm/slurm.conf and never notices. These wrappers,
    first on `SlurmCluster.env`'s PATH, keep the cluster's files out of /etc.
    """
    conf = root / "etc" / "slurm.conf"
    for name in CLIENT_COMMANDS:
        real = _which(name)
        if real is None:
            continue
        wrapper = root / "bin" / name
        wrapper.write_text(f'#!/bin/sh\nSLURM_CONF={conf}\nexport SLURM_CONF\nexec {real} "$@"\n')
        wrapper.chmod(0o755)


def _configure_and_start(cluster: SlurmCluster, def_mem_per_cpu: int, timeout: float) -> None:
    root = cluster.root
    for sub in ("bin", "etc", "log", "run", "state", "spool", "munge", "db"):
        (root / sub).mkdir(mode=0o700)
    _write_client_wrappers(root)
    db_port, dbd_port, ctld_port, slurmd_port = free_ports(4)
    munge_socket = root / "munge" / "munge.socket"
    db_socket = root / "run" / "mariadb.sock"
    db_password = secrets.token_hex(12)
    fmt = dict(
        root=root,
        cluster_name=cluster.cluster_name,
        node=cluster.node,
        cpus=cluster.cpus,
        real_memory_mb=cluster.real_memory_mb,
        partition=cluster.partition,
        def_mem_per_cpu=def_mem_per_cpu,
        munge_socket=munge_socket,
        db_port=db_port,
        dbd_port=dbd_port,
        ctld_port=ctld_port,
        slurmd_port=slurmd_port,
        db_password=db_password,
    )
    cluster.conf.write_text(_SLURM_CONF.format(**fmt))
    dbd_conf = root / "etc" / "slurmdbd.conf"
    dbd_conf.write_text(_SLURMDBD_CONF.format(**fmt))
    dbd_conf.chmod(0o600)  # slurmdbd refuses a readable config holding a password

    # MUNGE: a fresh key, our own socket.
    key = root / "munge" / "munge.key"
    key.write_bytes(secrets.token_bytes(1024))
    key.chmod(0o400)
    _start(
        cluster,
        "munged",
        [
            _which("munged"),
            "--foreground",
            "--force",
            f"--key-file={key}",
            f"--socket={munge_socket}",
            f"--pid-file={root / 'run' / 'munged.pid'}",
            f"--log-file={root / 'log' / 'munged.log'}",
            f"--seed-file={root / 'munge' / 'munged.seed'}",
        ],
    )
    _wait_until(
        "munged's socket",
        lambda: _alive(cluster, "munged") and munge_socket.exists(),
        timeout,
        root,
    )

    # MariaDB in a private data directory on a private port.
    datadir = root / "db"
    proc = subprocess.run(
        [
            _which("mariadb-install-db"),
            "--no-defaults",
            f"--datadir={datadir}",
            "--user=root",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise ClusterError(f"mariadb-install-db failed:\n{proc.stdout}\n{proc.stderr}")
    _start(
        cluster,
        "mariadbd",
        [
            _which("mariadbd"),
            "--no-defaults",
            f"--datadir={datadir}",
            f"--socket={db_socket}",
            f"--port={db_port}",
            "--bind-address=127.0.0.1",
            f"--pid-file={root / 'run' / 'mariadbd.pid'}",
            f"--log-error={root / 'log' / 'mariadbd.log'}",
            "--user=root",
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=48M",
            "--innodb-lock-wait-timeout=900",
        ],
    )
    client = [
        _which("mariadb") or _which("mysql"),
        "--no-defaults",
        f"--socket={db_socket}",
        "-uroot",
    ]

    def _db_ready():
        _alive(cluster, "mariadbd")
        return (
            subprocess.run(
                [*client, "-e", "SELECT 1"], capture_output=True, timeout=10, check=False
            ).returncode
            == 0
        )

    _wait_until("mariadbd", _db_ready, timeout, root)
    grants = "".join(
        f"CREATE USER 'slurm'@'{host}' IDENTIFIED BY '{db_password}';"
        f"GRANT ALL ON slurm_acct_db.* TO 'slurm'@'{host}';"
        for host in ("localhost", "127.0.0.1")
    )
    proc = subprocess.run(
        [*client, "-e", grants], capture_output=True, text=True, timeout=30, check=False
    )
    if proc.returncode != 0:
        raise ClusterError(f"creating the slurm database user failed: {proc.stderr}")

    # slurmdbd, then the cluster, account and association it must know.
    _start(cluster, "slurmdbd", [_which("slurmdbd"), "-D"])

    def _dbd_ready():
        _alive(cluster, "slurmdbd")
        cluster.run("sacctmgr", "--noheader", "list", "cluster", timeout=10)
        return True

    _wait_until("slurmdbd (sacctmgr list cluster)", _dbd_ready, timeout, root)
    cluster.run("sacctmgr", "-i", "add", "cluster", cluster.cluster_name)
    cluster.run(
        "sacctmgr",
        "-i",
        "add",
        "account",
        cluster.account,
        f"Cluster={cluster.cluster_name}",
        "Description=hintforce tests",
        "Organization=hintforce",
    )
    cluster.run(
        "sacctmgr",
        "-i",
        "add",
        "user",
        "root",
        f"Account={cluster.account}",
        f"Cluster={cluster.cluster_name}",
    )

    # The controller and the node daemon.
    _start(cluster, "slurmctld", [_which("slurmctld"), "-D", "-f", str(cluster.conf)])

    def _ctld_ready():
        _alive(cluster, "slurmctld")
        return "UP" in cluster.run("scontrol", "ping", check=False, timeout=10)

    _wait_until("slurmctld (scontrol ping)", _ctld_ready, timeout, root)
    _start(cluster, "slurmd", [_which("slurmd"), "-D", "-N", cluster.node, "-f", str(cluster.conf)])

    def _node_idle():
        _alive(cluster, "slurmd")
        state = cluster.run("sinfo", "--noheader", "--Node", "--format=%T", timeout=10)
        return state.strip() == "idle"

    _wait_until("the node to be idle in sinfo", _node_idle, timeout, root)
    _wait_until(
        "sacct to answer",
        lambda: cluster.run("sacct", "--noheader", "--allusers", timeout=10) is not None,
        timeout,
        root,
    )
