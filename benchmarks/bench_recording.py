"""Cost of the recording step of one run, of co-smoothing and of building the NWB file.

The recording step is what one run's recording jobs compute at the study's default size with
100 trials (``recording.record_neurons`` and ``recording.record_emg``): the spikes of 60
recorded neurons (8 conditions x 80 bins of 10 ms, one generator per neuron), their PSTHs, the
two trial halves' PSTHs and the recorded EMG of 4 muscles (noise sd 0.05). Its budget is 1 s on
one core. The co-smoothing job (``recording.score_models``) scores 5 models of 300 units on the
12 held-out neurons (their top 10 principal components, fitted on one trial half and scored on
the other) and the smoothing baseline. The NWB build is the in-memory ``pynwb.NWBFile`` of the
run (pynwb's import is reported on its own). Every timing is the median of several repeats on
one BLAS thread.

Run: ``python benchmarks/bench_recording.py``
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

N_CONDITIONS = 8
N_TIMES = 80
BIN_MS = 10
N_NEURONS = 60
N_TRIALS = 100
N_MUSCLES = 4
N_MODELS = 5
BUDGET_S = 1.0


def smooth(rng: np.random.Generator, shape: tuple[int, ...], width_bins: float) -> np.ndarray:
    """Gaussian-smoothed white noise along axis 1, unit sd."""
    lags = np.arange(-int(3 * width_bins), int(3 * width_bins) + 1)
    kernel = np.exp(-0.5 * (lags / width_bins) ** 2)
    raw = rng.normal(size=(shape[0], shape[1] + lags.size - 1, *shape[2:]))
    out = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="valid"), 1, raw)
    return out / out.std()


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    from hintforce.recording import (
        RecordingParams,
        nwb_file,
        record_emg,
        record_neurons,
        score_models,
    )

    rng = np.random.default_rng(0)
    rates = 5.0 + 95.0 / (1.0 + np.exp(-smooth(rng, (N_CONDITIONS, N_TIMES, N_NEURONS), 8.0)))
    emg = np.abs(smooth(rng, (N_CONDITIONS, N_TIMES, N_MUSCLES), 8.0))
    emg /= emg.max(axis=(0, 1))
    params = RecordingParams(n_trials=N_TRIALS, emg_noise=0.05)
    order = np.arange(N_NEURONS)

    def recording_step():
        """What the run's two recording jobs compute (without reading and writing stores)."""
        rngs = [np.random.default_rng([1, k]) for k in order]
        recording = record_neurons(rates, order, 200, BIN_MS, params, rngs)
        return recording, record_emg(emg, params.emg_noise, np.random.default_rng(2))

    with threadpool_limits(1):
        t_step, (recording, recorded_emg) = median_time(recording_step, 5)
        # models: smooth activity of 300 units, one of them mixing the recorded neurons' rates
        models = {
            f"m{m}": smooth(np.random.default_rng(10 + m), (N_CONDITIONS, N_TIMES, 300), 6.0)
            for m in range(N_MODELS - 1)
        }
        models["mixed"] = rates @ np.random.default_rng(9).normal(size=(N_NEURONS, 300))
        directions = np.arange(N_CONDITIONS)
        t_score, (scores, scored) = median_time(
            lambda: score_models(models, recording, directions, BIN_MS, params), 3
        )
        t0 = time.perf_counter()
        nwb_file(recording.spikes.select(trials=[0]), np.zeros(N_CONDITIONS), BIN_MS, "warm-up")
        t_import = time.perf_counter() - t0
        angles = 2 * np.pi * directions / N_CONDITIONS
        t_nwb, nwb = median_time(
            lambda: nwb_file(recording.spikes, angles, BIN_MS, "bench", emg=recorded_emg), 3
        )

    rmse = float(np.sqrt(np.mean((recording.psth - rates) ** 2)))
    n_spikes = int(recording.spikes.counts.sum(dtype=np.int64))
    print(
        f"recording step, 1 BLAS thread: {N_CONDITIONS} conditions x {N_TIMES} bins of {BIN_MS} "
        f"ms, {N_NEURONS} neurons, {N_TRIALS} trials, {N_MUSCLES} muscles (median of 5)"
    )
    print(
        f"  {t_step:.3f} s (budget {BUDGET_S} s): {n_spikes} spikes, PSTHs of all trials and "
        f"of both halves, noisy EMG; PSTH RMS error {rmse:.2f} Hz"
    )
    print(
        f"co-smoothing job: {N_MODELS} models x {scored.size} held-out neurons and the "
        f"smoothing baseline {t_score:.3f} s; bits/spike "
        + ", ".join(f"{name} {value:.3f}" for name, value in scores.items())
    )
    print(
        f"NWB build: {t_nwb:.3f} s ({len(nwb.units)} units, {len(nwb.trials)} trials), "
        f"pynwb import {t_import:.2f} s"
    )
    print(
        f"RESULT recording_step_s={t_step:.3f} within_budget={t_step <= BUDGET_S} "
        f"co_smoothing_job_s={t_score:.3f} nwb_build_s={t_nwb:.3f} pynwb_import_s={t_import:.2f}"
    )


if __name__ == "__main__":
    main()
