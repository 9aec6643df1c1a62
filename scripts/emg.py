"""Rule emg: sample the EMG-like targets from the Gaussian process."""

from hintforce import emg, store
from hintforce.seeding import generator


def main(output, seed, settings, log, threads):
    with store.job(log, threads) as logger:
        params = emg.EMGParams(**settings)
        result = emg.sample_emg(params, generator(seed, "emg"))
        logger.info("sampled EMG %s (condition, time, muscle)", result.emg.shape)
        store.write_dataset(
            output,
            {
                "emg": (("condition", "time", "muscle"), result.emg),
                "time_ms": (("time",), result.time_ms),
                "angle_rad": (("condition",), result.angle_rad),
            },
            {"seed": seed, "params": params},
        )


main(
    snakemake.output[0],
    snakemake.params.seed,
    snakemake.params.emg,
    snakemake.log[0],
    snakemake.threads,
)
