"""Speed of the ground truth at the study's default size, on one BLAS thread.

1. The SOC's per-iteration kernel (eigenvalues and both Lyapunov Gramians), the library's single
   real-Schur + LAPACK trsyl version next to a plain one (``numpy.linalg.eigvals`` plus two
   ``scipy.linalg.solve_continuous_lyapunov``), interleaved on the same matrix.
2. The whole stability optimisation (``soc.build_soc``) and the gain fit (``gain.fit_gains``).

    python benchmarks/bench_ground_truth.py [--seed 2020]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits

from hintforce import emg, gain, soc
from hintforce.seeding import generator


def plain_kernel(W: np.ndarray, shift: float):
    eigenvalues = np.linalg.eigvals(W)
    A = W - shift * np.eye(W.shape[0])
    Q = scipy.linalg.solve_continuous_lyapunov(A.T, -2 * np.eye(W.shape[0]))
    P = scipy.linalg.solve_continuous_lyapunov(A, -2 * np.eye(W.shape[0]))
    return eigenvalues, Q, P


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2020, help="ground-truth seed")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with threadpool_limits(1):
        params = soc.SOCParams()
        W, excitatory = soc.initial_connectivity(params, generator(args.seed, "soc"))
        shift = soc.smoothed_shift(soc.spectral_abscissa(W))
        times = {"library": [], "plain": []}
        for _ in range(args.repeats):
            for name, kernel in (("library", soc.spectrum_and_gramians), ("plain", plain_kernel)):
                start = time.perf_counter()
                kernel(W, shift)
                times[name].append(time.perf_counter() - start)
        lib_ms = 1e3 * statistics.median(times["library"])
        plain_ms = 1e3 * statistics.median(times["plain"])
        print(
            f"SOC kernel, N={W.shape[0]}: library {lib_ms:.1f} ms, plain {plain_ms:.1f} ms "
            f"per iteration (median of {args.repeats}), speedup {plain_ms / lib_ms:.2f}x"
        )

        start = time.perf_counter()
        circuit = soc.optimise_inhibition(W, excitatory, params)
        soc_seconds = time.perf_counter() - start
        iterations = circuit.abscissa_trace.size - 1
        print(
            f"SOC optimisation: {iterations} iterations in {soc_seconds:.1f} s "
            f"({1e3 * soc_seconds / iterations:.1f} ms/iteration), abscissa "
            f"{circuit.abscissa_trace[0]:.2f} -> {circuit.abscissa_trace[-1]:.3f}"
        )

        targets = emg.sample_emg(emg.EMGParams(), generator(args.seed, "emg"))
        start = time.perf_counter()
        truth = gain.fit_gains(circuit.W, circuit.excitatory, targets.emg, gain.GainParams())
        gain_seconds = time.perf_counter() - start
        print(
            f"gain fit: {truth.loss_trace.size - 1} iterations in {gain_seconds:.1f} s, "
            f"R^2 median {np.median(truth.r2):.4f}, min {truth.r2.min():.4f}"
        )
    print(
        f"RESULT soc_seconds={soc_seconds:.1f} soc_iterations={iterations} "
        f"gain_seconds={gain_seconds:.1f} emg_r2_min={truth.r2.min():.4f}"
    )


if __name__ == "__main__":
    main()
