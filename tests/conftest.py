"""Fixtures shared by several test modules."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.reliability import start, stop_group, wait_for
from support.workflow import SMALL, make_project, snakemake

from hintforce.seeding import generator
from hintforce.soc import SOCParams, build_soc


@pytest.fixture
def default_soc_rng():
    """A fresh generator of the default-size SOC's seed."""
    return generator(0, "soc")


@pytest.fixture(scope="session")
def default_soc():
    """The stability-optimised circuit at the study's default size, built once per session
    (the slowest fixture) from ``default_soc_rng``'s seed."""
    return build_soc(SOCParams(), generator(0, "soc"))


@dataclass
class Reference:
    parallel: Path  # the small study, --cores 2
    serial: Path  # the same, --cores 1
    refused: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)
    serial_was_running: bool = False


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> Reference:
    """The small study run with ``--cores 2`` and, at the same time, with ``--cores 1`` in
    another copy; a second Snakemake is started (and refused) while the ``--cores 1`` run holds
    its lock. Built once per session: the reliability tests of concurrency, bad configs and an
    interrupted run all compare against it."""
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
