"""Rules train and train_hinted: train one model of one run and evaluate it on every direction."""

from hintforce import force, gain, jobs, observe, store, study
from hintforce.seeding import generator
from hintforce.task import Task


def main(
    *,
    output,
    emg_path,
    soc_path,
    observation_path,
    model,
    axes,
    settings,
    task_settings,
    allow_failed,
    log,
    threads,
):
    with jobs.job(log, threads) as logger:
        logger.info("%s: model %s", output, model)
        params = force.ForceParams(**settings)
        task = Task(**task_settings)
        emg = task.with_rest(store.read_dataset(emg_path, ["emg"])["emg"])
        truth = store.read_dataset(soc_path, ["W", "gains", "x0", "rates"])
        soc_rates = gain.rates_with_rest(
            truth.pop("W"),
            truth.pop("gains"),
            truth.pop("x0"),
            truth.pop("rates"),
            gain.GainParams(**store.read_attrs(soc_path)["params"]),
            task.n_rest,
        )
        observation = store.read_observation(observation_path)
        hinted = study.model(model).hinted
        recorded = observe.record(
            task, observation, axes[study.NEURON_FRACTION] if hinted else None, emg, soc_rates
        )
        attrs = {
            "axes": axes,
            "model": model,
            "muscles": observation.muscles,
            "neurons": recorded.neurons if hinted else None,
            "params": params,
            "task": task,
            "training_directions": task.training,
            "held_out_directions": task.held_out,
        }
        seed = axes[study.SEED]
        try:
            fit = force.fit_model(
                model,
                task,
                recorded.emg,
                params,
                generator(seed, "force"),
                hints=recorded.rates if hinted else None,
                hint_units=recorded.neurons if hinted else None,
                n_neurons=recorded.n_neurons,
                sham_rng=generator(seed, "sham"),
            )
            result = force.evaluate_task(
                fit.network, task, fit.shared, emg[:, :, observation.muscles], params
            )
        except force.TrainingDiverged as err:
            if not allow_failed:
                raise
            logger.error("%s diverged (recorded, allow_failed_runs is true): %s", output, err)
            store.write_dataset(output, {}, {**attrs, "status": "diverged", "error": str(err)})
            return
        scores = {}
        for split, evaluation in result.splits.items():
            prefix = "" if split == force.TRAIN else f"{split}_"
            logger.info(
                "%s directions: R^2 clean %.4f, noisy %.4f",
                split,
                evaluation.r2_clean,
                evaluation.r2_noisy,
            )
            scores |= {
                f"{prefix}r2_clean": evaluation.r2_clean,
                f"{prefix}r2_noisy": evaluation.r2_noisy,
                f"{prefix}r2_noisy_starts": evaluation.r2_noisy_starts,
            }
        store.write_dataset(
            output,
            {
                "rates": (("condition", "time", "unit"), result.rates),
                "output": (("condition", "time", "muscle"), result.output),
                "time_ms": (("time",), task.window_ms),
                "training_mse": (("pass",), fit.network.output_mse),
                # the trained weights; the other draws follow from the seed (force.restore)
                "J": (("unit", "presynaptic"), fit.network.J),
                "W": (("muscle", "unit"), fit.network.W),
            },
            {**attrs, "derangement": fit.derangement, "status": "ok", **scores},
        )


main(
    output=snakemake.output[0],
    emg_path=snakemake.input.emg,
    soc_path=snakemake.input.soc,
    observation_path=snakemake.input.observation,
    model=snakemake.wildcards.model,
    axes=snakemake.params.axes,
    settings=snakemake.params.force,
    task_settings=snakemake.params.task,
    # Not a parameter on purpose: it decides only what a failing job does, so switching it
    # on must rerun the failed trainings (their outputs are missing) and nothing else.
    allow_failed=snakemake.config["sweep"]["allow_failed_runs"],
    log=snakemake.log[0],
    threads=snakemake.threads,
)
