"""Rules train and train_hinted: train one model of one run and evaluate it."""

from hintforce import force, jobs, store, study
from hintforce.seeding import generator


def main(
    *,
    output,
    emg_path,
    soc_path,
    observation_path,
    model,
    axes,
    settings,
    allow_failed,
    log,
    threads,
):
    with jobs.job(log, threads) as logger:
        logger.info("%s: model %s", output, model)
        params = force.ForceParams(**settings)
        emg = store.read_dataset(emg_path, ["emg"])["emg"]
        soc_rates = store.read_dataset(soc_path, ["rates"])["rates"]
        observation = store.read_observation(observation_path)
        observed = None
        if study.model(model).hinted:
            observed = observation.neurons(axes[study.NEURON_FRACTION])
        attrs = {
            "axes": axes,
            "model": model,
            "muscles": observation.muscles,
            "neurons": observed,
            "params": params,
        }
        seed = axes[study.SEED]
        try:
            fit = force.fit_model(
                model,
                emg[:, :, observation.muscles],
                soc_rates,
                params,
                generator(seed, "force"),
                observed=observed,
                sham_rng=generator(seed, "sham"),
            )
        except force.TrainingDiverged as err:
            if not allow_failed:
                raise
            logger.error("%s diverged (recorded, allow_failed_runs is true): %s", output, err)
            store.write_dataset(output, {}, {**attrs, "status": "diverged", "error": str(err)})
            return
        result = fit.evaluation
        logger.info("R^2 clean %.4f, noisy %.4f", result.r2_clean, result.r2_noisy)
        store.write_dataset(
            output,
            {
                "rates": (("condition", "time", "unit"), result.rates),
                "output": (("condition", "time", "muscle"), result.output),
                "training_mse": (("pass",), fit.network.output_mse),
            },
            {
                **attrs,
                "derangement": fit.derangement,
                "status": "ok",
                "r2_clean": result.r2_clean,
                "r2_noisy": result.r2_noisy,
                "r2_noisy_starts": result.r2_noisy_starts,
            },
        )


main(
    output=snakemake.output[0],
    emg_path=snakemake.input.emg,
    soc_path=snakemake.input.soc,
    observation_path=snakemake.input.observation,
    model=snakemake.wildcards.model,
    axes=snakemake.params.axes,
    settings=snakemake.params.force,
    # Not a parameter on purpose: it decides only what a failing job does, so switching it
    # on must rerun the failed trainings (their outputs are missing) and nothing else.
    allow_failed=snakemake.config["sweep"]["allow_failed_runs"],
    log=snakemake.log[0],
    threads=snakemake.threads,
)
