"""Cost of what the task adds, on one BLAS thread at the study's default size.

1. The gain fit of the generalisation study's ground truth: 16 reach directions (the default
   circuit, EMG drawn for 16 directions), next to the default 8, side by side in one run.
   Budget: <= 10 s for 16 directions.
2. The SOC's rates continued into a 1 s rest window (``gain.rates_with_rest``), per job that
   needs them.
3. One full-FORCE training of FF with an angle input on 8 of 16 directions, next to the
   default one-hot training on 8, and its evaluation on every direction.

    python benchmarks/bench_task.py [--seed 2020]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from hintforce import emg, force, gain, soc
from hintforce.seeding import generator
from hintforce.task import Task

GAIN_16_MAX_SECONDS = 10.0


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2020, help="ground-truth seed")
    args = parser.parse_args()
    with threadpool_limits(1):
        circuit = soc.build_soc(soc.SOCParams(), generator(args.seed, "soc"))
        params = gain.GainParams()
        fits, seconds = {}, {}
        for n_directions in (8, 16):
            targets = emg.sample_emg(
                emg.EMGParams(n_conditions=n_directions), generator(args.seed, "emg")
            )
            fits[n_directions], seconds[n_directions] = timed(
                gain.fit_gains, circuit.W, circuit.excitatory, targets.emg, params
            )
            print(
                f"gain fit, {n_directions} directions: {seconds[n_directions]:.1f} s, R^2 median "
                f"{np.median(fits[n_directions].r2):.4f}, min {fits[n_directions].r2.min():.4f}"
            )
        truth = fits[8]
        _, rest_seconds = timed(
            gain.rates_with_rest, circuit.W, truth.gains, truth.x0, truth.rates, params, 100
        )
        print(f"SOC rates continued 1 s past the movement: {rest_seconds:.2f} s")

        targets = emg.sample_emg(emg.EMGParams(n_conditions=16), generator(args.seed, "emg")).emg
        f_out = targets[:, :, :4]
        force_params = force.ForceParams()
        train_seconds = {}
        for label, task in (
            ("one_hot", Task(n_directions=8)),
            ("angle", Task(n_directions=16, input="angle", held_out_directions="interleaved")),
        ):
            window = f_out if task.n_directions == 16 else f_out[::2]
            fit, train_seconds[label] = timed(
                force.fit_model,
                "ff",
                task,
                window[task.training],
                force_params,
                generator(1, "force"),
            )
            result, evaluate_seconds = timed(
                force.evaluate_task, fit.network, task, fit.shared, window, force_params
            )
            r2 = ", ".join(f"{k} {v.r2_clean:.3f}" for k, v in result.splits.items())
            print(
                f"FF, {label} input: training {train_seconds[label]:.1f} s, evaluation of "
                f"{task.n_directions} directions {evaluate_seconds:.2f} s; R^2 clean {r2}"
            )
    print(
        f"\n  {'ok  ' if seconds[16] <= GAIN_16_MAX_SECONDS else 'FAIL'} gain fit of 16 "
        f"directions <= {GAIN_16_MAX_SECONDS:g} s"
    )
    print(
        f"RESULT gain_8_seconds={seconds[8]:.1f} gain_16_seconds={seconds[16]:.1f} "
        f"gain_16_per_8={seconds[16] / seconds[8]:.2f} rest_seconds={rest_seconds:.2f} "
        f"train_angle_per_one_hot={train_seconds['angle'] / train_seconds['one_hot']:.2f}"
    )


if __name__ == "__main__":
    main()
