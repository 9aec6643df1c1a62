"""Rule train: train one model (ff, ffh or the floor) of one run and evaluate it."""

from hintforce import force, store
from hintforce.seeding import generator


def main(
    output, emg_path, soc_path, observation_path, model, seed, settings, allow_failed, log, threads
):
    with store.job(log, threads) as logger:
        logger.info("run %s: model %s", output, model)
        params = force.ForceParams(**settings)
        emg = store.read_dataset(emg_path, ["emg"])["emg"]
        soc_rates = store.read_dataset(soc_path, ["rates"])["rates"]
        seen = store.read_json(observation_path)
        attrs = {
            **{k: seen[k] for k in store.RUN_KEYS},
            "model": model,
            "muscles": seen["muscles"],
            "params": params,
        }
        try:
            net, result = force.fit_model(
                model,
                emg[:, :, seen["muscles"]],
                soc_rates[:, :, seen["neurons"]],
                params,
                generator(seed, "force"),
            )
        except force.TrainingDiverged as err:
            if not allow_failed:
                raise
            logger.error("%s diverged (recorded, allow_failed_runs is true): %s", output, err)
            store.write_dataset(output, {}, {**attrs, "status": "diverged", "error": str(err)})
            return
        logger.info("R^2 clean %.4f, noisy %.4f", result.r2_clean, result.r2_noisy)
        store.write_dataset(
            output,
            {
                "rates": (("condition", "time", "unit"), result.rates),
                "output": (("condition", "time", "muscle"), result.output),
                "training_mse": (("pass",), net.output_mse),
            },
            {
                **attrs,
                "status": "ok",
                "r2_clean": result.r2_clean,
                "r2_noisy": result.r2_noisy,
                "r2_noisy_starts": result.r2_noisy_starts,
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
    # Not a parameter on purpose: it decides only what a failing job does, so switching it
    # on must rerun the failed trainings (their outputs are missing) and nothing else.
    snakemake.config["sweep"]["allow_failed_runs"],
    snakemake.log[0],
    snakemake.threads,
)
