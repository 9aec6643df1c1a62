"""Benchmark one run's similarity table at the study's default size, on one BLAS thread.

SOC rates (8, 80, 200), three models (8, 80, 300), 60 observed neurons, ks (5, 10).
Side by side: :func:`hintforce.similarity.compare_run` (one PCA per population, sliced per k)
and a naive table built row by row from the public per-metric functions (one PCA pair per row),
which also cross-checks that both give the same values.

Run: ``python benchmarks/bench_similarity.py``
"""

from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_limits

from hintforce.similarity import (
    canonical_correlations,
    compare_run,
    linear_cka,
    procrustes_angular,
    stack_conditions,
)

N_CONDITIONS, N_TIMES, N_SOC, N_UNITS, N_OBSERVED = 8, 80, 200, 300, 60
KS = (5, 10)
REPEATS = 10


def smooth_population(rng, n_units, n_latents=15):
    """Smooth low-dimensional trajectories mixed into n_units, with a little private noise."""
    latents = rng.standard_normal((N_CONDITIONS, N_TIMES, n_latents)).cumsum(axis=1)
    mixing = rng.standard_normal((n_latents, n_units))
    return latents @ mixing + 0.1 * rng.standard_normal((N_CONDITIONS, N_TIMES, n_units))


def naive_table(soc, models, observed):
    """Model rows only, every value from the public functions (PCA redone for each row)."""
    X = stack_conditions(soc)
    mask = np.zeros(X.shape[1], dtype=bool)
    mask[observed] = True
    populations = {"all": X, "observed": X[:, mask], "unobserved": X[:, ~mask]}
    functions = {
        "cca": lambda a, b, k: canonical_correlations(a, b, k).mean(),
        "cka": linear_cka,
        "procrustes": procrustes_angular,
    }
    values = {}
    for name, rates in models.items():
        M = stack_conditions(rates)
        for population, P in populations.items():
            for metric, function in functions.items():
                for k in KS:
                    values[name, population, metric, k] = function(M, P, k)
    return values


def best_time(function, repeats):
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times), float(np.median(times))


def main():
    rng = np.random.default_rng(0)
    soc = smooth_population(rng, N_SOC)
    models = {name: smooth_population(rng, N_UNITS) for name in ("ff", "ffh", "floor")}
    observed = rng.choice(N_SOC, N_OBSERVED, replace=False)

    with threadpool_limits(1):
        result = compare_run(soc, models, observed, KS, np.random.default_rng(1))
        naive = naive_table(soc, models, observed)
        table = result.table.set_index(["model", "population", "metric", "k"]).value
        worst = max(abs(table[key] - value) for key, value in naive.items())
        rows = len(result.table)

        fast_min, fast_median = best_time(
            lambda: compare_run(soc, models, observed, KS, np.random.default_rng(1)), REPEATS
        )
        slow_min, slow_median = best_time(lambda: naive_table(soc, models, observed), 3)

    n_naive = len(naive)
    print(
        f"shapes: SOC {soc.shape}, models 3 x {models['ff'].shape}, observed {N_OBSERVED}, "
        f"ks {KS}; 1 BLAS thread"
    )
    print(
        f"compare_run      : {rows} rows in {1e3 * fast_min:.1f} ms (median "
        f"{1e3 * fast_median:.1f} ms) -> {rows / fast_min:,.0f} rows/s"
    )
    print(
        f"naive per-row PCA: {n_naive} model rows in {1e3 * slow_min:.1f} ms (median "
        f"{1e3 * slow_median:.1f} ms) -> {n_naive / slow_min:,.0f} rows/s"
    )
    print(
        f"rows/s ratio compare_run / naive: {(rows / fast_min) / (n_naive / slow_min):.1f}x; "
        f"max |difference| on shared rows {worst:.2e}"
    )
    print(f"RESULT compare_run_ms={1e3 * fast_min:.1f} rows={rows}")


if __name__ == "__main__":
    main()
