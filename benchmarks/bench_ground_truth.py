"""Speed of the ground truth at the study's default size, on one BLAS thread.

1. The SOC's per-iteration kernel (eigenvalues and both Lyapunov Gramians), the library's single
   real-Schur + LAPACK trsyl version next to a plain one (``numpy.linalg.eigvals`` plus two
   ``scipy.linalg.solve_continuous_lyapunov``), interleaved on the same matrix.
2. The whole ground truth: the EMG targets (``emg.sample_emg``), the stability optimisation
   (``soc.build_soc``, heavy-ball momentum, the default) and the gain fit (``gain.fit_gains``).
3. The same optimisation with the published plain gradient step (``momentum=0``) from the same
   initial network, and the character of the two circuits side by side: iterations, seconds,
   inhibitory density, E/I balance, peak transient amplification, Henrici non-normality and the
   R^2 of the gain fit to the same EMG.

Acceptance: the momentum SOC reaches alpha <= 0.15 in <= 10 s and <= 400 iterations, and the
whole ground truth (EMG + SOC + gains) takes <= 20 s.

    python benchmarks/bench_ground_truth.py [--seed 2020]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits

from hintforce import emg, gain, soc
from hintforce.seeding import generator

SOC_MAX_SECONDS = 10.0
SOC_MAX_ITERATIONS = 400
GROUND_TRUTH_MAX_SECONDS = 20.0


def plain_kernel(W: np.ndarray, shift: float):
    eigenvalues = np.linalg.eigvals(W)
    A = W - shift * np.eye(W.shape[0])
    Q = scipy.linalg.solve_continuous_lyapunov(A.T, -2 * np.eye(W.shape[0]))
    P = scipy.linalg.solve_continuous_lyapunov(A, -2 * np.eye(W.shape[0]))
    return eigenvalues, Q, P


def peak_amplification(W: np.ndarray, t_max: float = 5.0, dt: float = 0.01) -> float:
    """max over t = dt, 2 dt, ..., t_max of ||exp((W - I) t) x0||, x0 the unit top eigenvector
    of the observability Gramian of W - I ((W - I)^T Q + Q (W - I) = -2 I)."""
    n = W.shape[0]
    A = W - np.eye(n)
    Q = scipy.linalg.solve_continuous_lyapunov(A.T, -2 * np.eye(n))
    x = np.linalg.eigh(0.5 * (Q + Q.T))[1][:, -1]
    step = scipy.linalg.expm(A * dt)
    peak = 0.0
    for _ in range(round(t_max / dt)):
        x = step @ x
        peak = max(peak, float(np.linalg.norm(x)))
    return peak


def henrici(W: np.ndarray) -> float:
    """Henrici departure from normality sqrt(||W||_F^2 - sum |lambda|^2) / ||W||_F."""
    frobenius2 = float(np.sum(W**2))
    eig2 = float(np.sum(np.abs(np.linalg.eigvals(W)) ** 2))
    return math.sqrt(frobenius2 - eig2) / math.sqrt(frobenius2)


def characters(circuit: soc.SOC, truth: gain.GroundTruth) -> dict[str, float]:
    W, exc = circuit.W, circuit.excitatory
    inh = ~exc

    def block(post, pre):
        return W[np.ix_(post, pre)].mean()

    return {
        "final abscissa": float(circuit.abscissa_trace[-1]),
        "inhibitory density": np.count_nonzero(W[:, inh]) / W[:, inh].size,
        "I->E / E->E": block(exc, inh) / block(exc, exc),
        "I->I / E->I": block(inh, inh) / block(inh, exc),
        "peak amplification": peak_amplification(W),
        "Henrici": henrici(W),
        "gain R^2 median": float(np.median(truth.r2)),
        "gain R^2 min": float(truth.r2.min()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2020, help="ground-truth seed")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with threadpool_limits(1):
        params = soc.SOCParams()
        plain_params = soc.SOCParams(momentum=0.0)
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

        # the ground truth as the workflow builds it
        start = time.perf_counter()
        targets = emg.sample_emg(emg.EMGParams(), generator(args.seed, "emg"))
        emg_seconds = time.perf_counter() - start
        start = time.perf_counter()
        circuit = soc.build_soc(params, generator(args.seed, "soc"))
        soc_seconds = time.perf_counter() - start
        start = time.perf_counter()
        truth = gain.fit_gains(circuit.W, circuit.excitatory, targets.emg, gain.GainParams())
        gain_seconds = time.perf_counter() - start
        ground_truth_seconds = emg_seconds + soc_seconds + gain_seconds
        np.testing.assert_array_equal(circuit.W[:, excitatory], W[:, excitatory])

        # the published plain step from the same initial network, for comparison
        start = time.perf_counter()
        plain = soc.optimise_inhibition(W, excitatory, plain_params)
        soc_seconds_plain = time.perf_counter() - start
        truth_plain = gain.fit_gains(plain.W, plain.excitatory, targets.emg, gain.GainParams())

    iterations = circuit.abscissa_trace.size - 1
    iterations_plain = plain.abscissa_trace.size - 1
    print(
        f"ground truth: EMG {emg_seconds:.2f} s + SOC {soc_seconds:.1f} s + gain fit "
        f"{gain_seconds:.1f} s ({truth.loss_trace.size - 1} iterations) = "
        f"{ground_truth_seconds:.1f} s"
    )
    rows = {
        "iterations": (iterations_plain, iterations),
        "seconds": (soc_seconds_plain, soc_seconds),
        "ms/iteration": (
            1e3 * soc_seconds_plain / iterations_plain,
            1e3 * soc_seconds / iterations,
        ),
    }
    char_plain, char_momentum = characters(plain, truth_plain), characters(circuit, truth)
    rows.update({key: (char_plain[key], char_momentum[key]) for key in char_plain})
    print(
        f"\nSOC N={params.n_neurons}, seed {args.seed}, from the same initial network "
        f"(initial abscissa {circuit.abscissa_trace[0]:.2f}):"
    )
    print(
        f"  {'':22s} {'plain (beta=0)':>15s} {f'momentum ({params.momentum})':>15s} {'ratio':>8s}"
    )
    for key, (a, b) in rows.items():
        digits = 0 if key == "iterations" else 4
        print(f"  {key:22s} {a:15.{digits}f} {b:15.{digits}f} {b / a:8.3f}")

    def relative_change(key):
        return rows[key][1] / rows[key][0] - 1.0

    checks = {
        f"SOC <= {SOC_MAX_SECONDS:g} s": soc_seconds <= SOC_MAX_SECONDS,
        f"SOC <= {SOC_MAX_ITERATIONS} iterations": iterations <= SOC_MAX_ITERATIONS,
        f"ground truth <= {GROUND_TRUTH_MAX_SECONDS:g} s": (
            ground_truth_seconds <= GROUND_TRUTH_MAX_SECONDS
        ),
        "peak amplification within 20% of plain": abs(relative_change("peak amplification")) <= 0.2,
        "Henrici within 10% of plain": abs(relative_change("Henrici")) <= 0.1,
        "I->E / E->E within 1% of -gamma (both)": all(
            abs(r / -params.gamma - 1.0) <= 0.01 for r in rows["I->E / E->E"]
        ),
        "I->I / E->I within 1% of -gamma (both)": all(
            abs(r / -params.gamma - 1.0) <= 0.01 for r in rows["I->I / E->I"]
        ),
        "gain R^2 median >= 0.998 (both)": min(rows["gain R^2 median"]) >= 0.998,
        "gain R^2 min >= 0.995 (both)": min(rows["gain R^2 min"]) >= 0.995,
    }
    print("\n" + "\n".join(f"  {'ok  ' if ok else 'FAIL'} {name}" for name, ok in checks.items()))
    print(
        f"RESULT soc_seconds_plain={soc_seconds_plain:.1f} "
        f"soc_iterations_plain={iterations_plain} soc_seconds={soc_seconds:.1f} "
        f"soc_iterations={iterations} gain_seconds={gain_seconds:.1f} "
        f"emg_seconds={emg_seconds:.2f} ground_truth_seconds={ground_truth_seconds:.1f} "
        f"emg_r2_min={truth.r2.min():.4f} emg_r2_min_plain={truth_plain.r2.min():.4f}"
    )


if __name__ == "__main__":
    main()
