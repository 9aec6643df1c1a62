"""Rule emg: sample one circuit's EMG-like targets from the Gaussian process."""

from hintforce import emg, jobs, store, study
from hintforce.seeding import generator


def main(*, output, axes, settings, log, threads):
    with jobs.job(log, threads) as logger:
        params = emg.EMGParams(**settings)
        seed = axes[study.GROUND_TRUTH_SEED]
        result = emg.sample_emg(params, generator(seed, "emg"))
        logger.info("sampled EMG %s (condition, time, muscle)", result.emg.shape)
        store.write_dataset(
            output,
            {
                "emg": (("condition", "time", "muscle"), result.emg),
                "time_ms": (("time",), result.time_ms),
                "angle_rad": (("condition",), result.angle_rad),
            },
            {study.GROUND_TRUTH_SEED: seed, "params": params},
        )


if __name__ == "__main__":
    main(
        output=snakemake.output[0],
        axes=snakemake.params.axes,
        settings=snakemake.params.emg,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
