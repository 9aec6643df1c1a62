"""Benchmark one run's mechanism measures and DSA at the study's default size, on one BLAS thread.

What one run's dynamics job computes, and beside it what its circuit's SOC job computes once.
Networks: five RNNs of N = 300 units (``J ~ N(0, g^2 / N)``, g = 1.5, tau 50 ms) and one
SOC-like circuit (N = 200, tau 200 ms, a random stable non-normal ``W`` and positive gains for
8 conditions). Their states come from plain Euler loops written here: for the RNNs at 10 ms, a
200 ms input pulse along a condition's direction in a random 2-d input space, the 800 ms
movement and 2 s of free running; for the SOC at 1 ms, sampled every 10 ms, the same windows
with the pulse driving the circuit away from baseline. The run: every mechanism measure of the
five RNNs (:func:`hintforce.mechanism.measure_networks`, their fixed-point searches in one
batch) and DSA (:func:`hintforce.dsa.dsa_table`) of the five models against four SOC
populations (200, 60, 140, 140 neurons) over the movement window (8 x 80 bins). The acceptance
budget is 5 s for the run. The SOC's measures (one system per condition) are timed apart: the
workflow computes them once per circuit (rule ``soc_dynamics``), not per run. Untrained random
RNNs have more findable fixed points than the study's trained models (whose searches find the
rest state only), so each of their stability checks costs a Schur form more: an upper bound.

Prints the total and the split per measure family (local linear dynamics, amplification,
fixed points, return to rest; DSA fits and distances), the best of ``REPEATS`` runs.

Run: ``python benchmarks/bench_mechanism.py``
"""

from __future__ import annotations

import math
import time
from collections import defaultdict

import numpy as np
from threadpoolctl import threadpool_limits

from hintforce import dsa, mechanism
from hintforce.gain import phi

N_CONDITIONS, N_RNN, N_SOC, N_MODELS = 8, 300, 200, 5
BIN_MS, PULSE_BINS, MOVE_BINS, FREE_BINS = 10.0, 20, 80, 200
REPEATS = 3


def rnn_states(rng):
    """A random RNN and its states (C, S, N) from a 10 ms Euler loop."""
    J = 1.5 * rng.standard_normal((N_RNN, N_RNN)) / math.sqrt(N_RNN)
    inputs = rng.standard_normal((2, N_RNN))
    angles = 2 * np.pi * np.arange(N_CONDITIONS) / N_CONDITIONS
    drive = np.stack([np.cos(angles), np.sin(angles)], axis=1) @ inputs  # (C, N)
    a = BIN_MS / 50.0
    n_steps = PULSE_BINS + MOVE_BINS + FREE_BINS
    x = 0.1 * rng.standard_normal((N_CONDITIONS, N_RNN))
    states = np.empty((N_CONDITIONS, n_steps, N_RNN))
    for k in range(n_steps):
        states[:, k] = x
        u = drive if k < PULSE_BINS else 0.0
        x = x + a * (-x + np.tanh(x) @ J.T + u)
    return mechanism.RateSystem.rnn(J, 50.0), states


def soc_like(rng):
    """A random stable non-normal W (N, N) and gains (C, N): a random bulk of radius 0.6 plus a
    feedforward rank-one part ``5 u v^T`` (u orthogonal to v), shrunk until every condition's
    rest Jacobian ``-I + W diag(g)`` is stable."""
    bulk = 0.6 * rng.standard_normal((N_SOC, N_SOC)) / math.sqrt(N_SOC)
    u, v = np.linalg.qr(rng.standard_normal((N_SOC, 2)))[0].T
    W = bulk + 5.0 * np.outer(u, v)
    gains = np.exp(0.2 * rng.standard_normal((N_CONDITIONS, N_SOC)))
    while max(np.linalg.eigvals(W * g).real.max() for g in gains) >= 0.9:
        W *= 0.9
    return W, gains


def soc_states(W, gains, rng):
    """States (C, S, N) on the 10 ms grid from a 1 ms Euler loop (Hz from baseline)."""
    a = 1.0 / 200.0
    drive = 30.0 * rng.standard_normal((N_CONDITIONS, N_SOC))
    n_steps = PULSE_BINS + MOVE_BINS + FREE_BINS
    x = np.zeros((N_CONDITIONS, N_SOC))
    states = np.empty((N_CONDITIONS, n_steps, N_SOC))
    for k in range(n_steps * 10):
        if k % 10 == 0:
            states[:, k // 10] = x
        u = drive if k < PULSE_BINS * 10 else 0.0
        x = x + a * (-x + phi(gains * x, 20.0, 100.0) @ W.T + u)
    return states


FAMILIES = (
    (mechanism, "local_dynamics", "local"),
    (mechanism, "amplification", "amplification"),
    (mechanism, "_search", "fixed_points"),
    (mechanism, "return_to_rest", "return_to_rest"),
    (dsa, "fit_dynamics", "dsa_fit"),
    (dsa, "operator_distances", "dsa_distance"),
)


class Timer:
    """Adds up the CPU time of module functions per family while active (a context manager
    that wraps the :data:`FAMILIES` functions on entry and restores them on exit)."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.originals = []

    def __enter__(self):
        for module, name, family in FAMILIES:
            original = getattr(module, name)
            self.originals.append((module, name, original))
            setattr(module, name, self.timed(original, family))
        return self

    def __exit__(self, *exc):
        for module, name, original in self.originals:
            setattr(module, name, original)
        self.originals.clear()

    def timed(self, original, family):
        def timed(*args, **kwargs):
            start = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[family] += time.process_time() - start

        return timed


def one_run(rnns, soc, soc_rates, movement, populations, timer):
    """Everything of one run's dynamics job (the models' measures, their fixed-point searches
    in one batch, and DSA), then the SOC's measures (once per circuit, in its own job).
    Returns the models' tables, the DSA table and the SOC's table."""
    rngs = np.random.default_rng(1).spawn(len(rnns) + 1)
    start = time.process_time()
    nets = [mechanism.Trajectory(system, states, movement) for system, states in rnns]
    tables = mechanism.measure_networks(nets, rngs=rngs[:-1])
    timer.seconds["mechanism"] += time.process_time() - start
    start = time.process_time()
    sources = {
        f"model_{i}": system.rates(states)[:, movement] for i, (system, states) in enumerate(rnns)
    }
    targets = {name: soc_rates[:, :, idx] for name, idx in populations.items()}
    table = dsa.dsa_table(sources, targets, rng=rngs[-1])
    timer.seconds["dsa"] += time.process_time() - start
    start = time.process_time()
    soc_table = mechanism.measure(soc[0], soc[1], movement, rng=np.random.default_rng(2))
    timer.seconds["soc"] += time.process_time() - start
    return tables, table, soc_table


def networks(rng):
    """The five RNNs with their states, the SOC (systems, states), its movement-window rates,
    the movement slice and the SOC populations' unit indices."""
    rnns = [rnn_states(rng) for _ in range(N_MODELS)]
    W, gains = soc_like(rng)
    soc_x = soc_states(W, gains, rng)
    soc = (mechanism.RateSystem.soc(W, gains), soc_x)
    movement = slice(PULSE_BINS, PULSE_BINS + MOVE_BINS)
    soc_rates = np.stack([s.rates(x) for s, x in zip(soc[0], soc_x, strict=True)])[:, movement]
    observed = np.sort(rng.choice(N_SOC, 60, replace=False))
    unobserved = np.setdiff1d(np.arange(N_SOC), observed)
    populations = {
        "all": np.arange(N_SOC),
        "observed": observed,
        "unobserved": unobserved,
        "held_out": unobserved,
    }
    return rnns, soc, soc_rates, movement, populations


def report(total, seconds, tables, table, soc_table):
    """Print the measures' medians, the DSA table and the RESULT lines."""
    names = [f"rnn_{i}" for i in range(N_MODELS)] + ["soc"]
    for name, frame in zip(names, [*tables, soc_table], strict=True):
        summary = frame.groupby("measure", sort=False).value.median()
        print(name, " ".join(f"{k}={v:.4g}" for k, v in summary.items()))
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(
        f"RESULT run_s={total:.2f} mechanism_s={seconds['mechanism']:.2f} "
        f"dsa_s={seconds['dsa']:.2f} budget_s=5 within_budget={total <= 5.0} "
        f"soc_per_circuit_s={seconds['soc']:.2f}"
    )
    print("RESULT " + " ".join(f"{f}_s={seconds[f]:.3f}" for _, _, f in FAMILIES))
    ranks = table["rank"]
    print(
        f"RESULT dsa_distances={len(table)} dsa_rank_min={ranks.min()} dsa_rank_max={ranks.max()} "
        f"ms_per_distance={1e3 * seconds['dsa_distance'] / len(table):.1f}"
    )


def main():
    with threadpool_limits(1):
        inputs = networks(np.random.default_rng(0))
        best = None
        for _ in range(REPEATS):
            with Timer() as timer:
                outputs = one_run(*inputs, timer)
            total = timer.seconds["mechanism"] + timer.seconds["dsa"]
            if best is None or total < best[0]:
                best = (total, dict(timer.seconds), *outputs)
    report(*best)


if __name__ == "__main__":
    main()
