"""Rule record_emg: the EMG one run records of its observed muscles (with
``recording.emg_noise``); the only data of its models without hints."""

from hintforce import jobs, recording, store, study
from hintforce.seeding import generator
from hintforce.task import Task


def main(*, output, emg_path, observation_path, axes, noise_sd, task_settings, log, threads):
    with jobs.job(log, threads) as logger:
        task = Task(**task_settings)
        emg = task.with_rest(store.read_dataset(emg_path, ["emg"])["emg"])
        muscles = store.read_observation(observation_path).muscles
        recorded = recording.record_emg(
            emg[:, :, muscles], noise_sd, generator(axes[study.SEED], "emg_noise")
        )
        logger.info("EMG of %d muscles, noise sd %g", muscles.size, noise_sd)
        store.write_dataset(
            output,
            {"emg": (("condition", "time", "muscle"), recorded), "muscles": (("muscle",), muscles)},
            {"axes": axes, "emg_noise": noise_sd},
        )


if __name__ == "__main__":
    main(
        output=snakemake.output[0],
        emg_path=snakemake.input.emg,
        observation_path=snakemake.input.observation,
        axes=snakemake.params.axes,
        noise_sd=snakemake.params.emg_noise,
        task_settings=snakemake.params.task,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
