"""Rule train: train one model (ff, ffh or the floor) of one run and evaluate it."""

from hintforce import force, store
from hintforce.seeding import generator


def main(output, emg_path, soc_path, observation_path, model, seed, settings, log, threads):
    with store.job(log, threads) as logger:
        logger.info("run %s: model %s", output, model)
        params = force.ForceParams(**settings)
        emg = store.read_dataset(emg_path, ["emg"])["emg"]
        soc_rates = store.read_dataset(soc_path, ["rates"])["rates"]
        seen = store.read_json(observation_path)
        net, result = force.fit_model(
            model,
            emg[:, :, seen["muscles"]],
            soc_rates[:, :, seen["neurons"]],
            params,
            generator(seed, "force"),
        )
        logger.info("R^2 clean %.4f, noisy %.4f", result.r2_clean, result.r2_noisy)
        store.write_dataset(
            output,
            {
                "rates": (("condition", "time", "unit"), result.rates),
                "output": (("condition", "time", "muscle"), result.output),
                "training_mse": (("pass",), net.output_mse),
            },
            {
                "model": model,
                "seed": seed,
                "neuron_fraction": seen["neuron_fraction"],
                "muscle_fraction": seen["muscle_fraction"],
                "muscles": seen["muscles"],
                "r2_clean": result.r2_clean,
                "r2_noisy": result.r2_noisy,
                "r2_noisy_starts": result.r2_noisy_starts,
                "params": params,
            },
        )


main(
    snakemake.output[0],
    snakemake.input.emg,
    snakemake.input.soc,
    snakemake.input.observation,
    snakemake.wildcards.model,
    int(snakemake.wildcards.seed),
    snakemake.params.force,
    snakemake.log[0],
    snakemake.threads,
)
