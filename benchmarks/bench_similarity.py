"""Benchmark one run's similarity job at the study's default size, on one BLAS thread.

SOC rates (8 conditions, 80 time bins, 200 neurons); the five models of the study
(:data:`hintforce.study.MODEL_NAMES`), 300 units each; 60 observed neurons and the held-out set
equal to the 140 unobserved; ks (5, 10); the default :class:`SimilarityParams` (so
``n_permutations`` nulls for every row, the three reference rows included). The data are
synthetic smooth trajectories of those shapes. The acceptance budget is 5 s per run.

Then the same run in the shape of the generalisation study (16 directions, the 8 odd ones held
out): in-sample and cross-validated rows on the 8 training directions plus the
held-out-direction rows, side by side with the default shape in one invocation.

Also cross-checks a few in-sample rows against the public per-metric functions (which redo
the PCA for every row).

Run: ``python benchmarks/bench_similarity.py [n_permutations]``
"""

from __future__ import annotations

import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from hintforce import study
from hintforce.similarity import (
    SimilarityParams,
    canonical_correlations,
    compare_run,
    condition_component,
    linear_cka,
    procrustes_angular,
    stack_conditions,
)

N_CONDITIONS, N_TIMES, N_SOC, N_UNITS, N_OBSERVED = 8, 80, 200, 300, 60
REPEATS = 5


def smooth_population(rng, n_units, n_latents=15, n_conditions=N_CONDITIONS):
    """Smooth low-dimensional trajectories mixed into n_units, with a little private noise."""
    latents = rng.standard_normal((n_conditions, N_TIMES, n_latents)).cumsum(axis=1)
    mixing = rng.standard_normal((n_latents, n_units))
    return latents @ mixing + 0.1 * rng.standard_normal((n_conditions, N_TIMES, n_units))


def cross_check(table, soc, models, model, populations, k):
    """Largest difference between the table's in-sample rows of one model and the public
    functions."""
    functions = {
        "cca": lambda a, b: canonical_correlations(a, b, k).mean(),
        "cka": lambda a, b: linear_cka(a, b, k),
        "procrustes": lambda a, b: procrustes_angular(a, b, k),
    }
    rows = table[(table.model == model) & (table.k == k) & (table.validation == "in_sample")]
    rows = rows.set_index(["population", "metric", "component"]).value
    worst = 0.0
    for component, transform in (("full", np.asarray), ("condition", condition_component)):
        X = stack_conditions(transform(models[model]))
        Y = stack_conditions(transform(soc))
        for population, neurons in populations.items():
            for metric, function in functions.items():
                expected = function(X, Y[:, neurons])
                worst = max(worst, abs(rows[population, metric, component] - expected))
    return worst


def best_of(function, repeats=REPEATS):
    """The fastest of ``repeats`` calls (and all times), seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times), times


def held_out_shape(params):
    """The generalisation study's shape: 16 directions, the odd 8 held out; fastest time."""
    rng = np.random.default_rng(2)
    n = 2 * N_CONDITIONS
    soc = smooth_population(rng, N_SOC, n_conditions=n)
    models = {m: smooth_population(rng, N_UNITS, n_conditions=n) for m in study.MODEL_NAMES}
    observed = np.sort(rng.choice(N_SOC, N_OBSERVED, replace=False))
    held_out = np.setdiff1d(np.arange(N_SOC), observed)
    directions = np.arange(1, n, 2)

    def run():
        return compare_run(
            soc,
            models,
            observed,
            held_out,
            params,
            np.random.default_rng(1),
            held_out_directions=directions,
        )

    with threadpool_limits(1):
        rows = len(run().table)
        fastest, _ = best_of(run)
    return fastest, rows


def main(n_permutations=None):
    rng = np.random.default_rng(0)
    soc = smooth_population(rng, N_SOC)
    models = {name: smooth_population(rng, N_UNITS) for name in study.MODEL_NAMES}
    observed = np.sort(rng.choice(N_SOC, N_OBSERVED, replace=False))
    held_out = np.setdiff1d(np.arange(N_SOC), observed)
    params = SimilarityParams()
    if n_permutations is not None:
        params = SimilarityParams(n_permutations=n_permutations)
    populations = dict(
        zip(study.POPULATIONS, [np.arange(N_SOC), observed, held_out, held_out], strict=True)
    )

    def run():
        return compare_run(soc, models, observed, held_out, params, np.random.default_rng(1))

    with threadpool_limits(1):
        result = run()
        worst = cross_check(
            result.table, soc, models, study.MODEL_NAMES[0], populations, max(params.ks)
        )
        _, times = best_of(run)
    rows = len(result.table)
    held_seconds, held_rows = held_out_shape(params)
    print(
        f"shapes: SOC {soc.shape}, models {len(models)} x {models['ff'].shape}, observed "
        f"{N_OBSERVED}, held out {held_out.size}; ks {params.ks}; {params.n_permutations} "
        f"permutations; predictivity on {params.n_predictor_pcs} PCs, {params.n_penalties} "
        f"penalties; 1 BLAS thread"
    )
    print(
        f"compare_run: {rows} rows (each with its null) in {1e3 * min(times):.0f} ms (median "
        f"{1e3 * np.median(times):.0f} ms, max {1e3 * max(times):.0f} ms, {REPEATS} runs); "
        f"max |difference| to the public functions on {study.MODEL_NAMES[0]}'s in-sample "
        f"rows {worst:.1e}"
    )
    print(
        f"with 16 directions, 8 held out: {held_rows} rows in {1e3 * held_seconds:.0f} ms "
        f"({held_seconds / min(times):.2f} x the default shape)"
    )
    print(
        f"RESULT compare_run_ms={1e3 * min(times):.0f} rows={rows} "
        f"n_permutations={params.n_permutations} held_out_ms={1e3 * held_seconds:.0f} "
        f"held_out_rows={held_rows} held_out_per_default={held_seconds / min(times):.2f}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else None)
