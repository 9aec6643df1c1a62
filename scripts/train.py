"""Rules train and train_hinted: train one model of one run on its recording, then evaluate
it on every direction.

Training sees only the recording: the recorded EMG of the training directions and, for the
hinted models, the PSTHs of the recording's hint neurons in them. The circuit's EMG of the
observed muscles is read after training, to score the output (the fit table)."""

from hintforce import force, jobs, recording, store, study
from hintforce.seeding import generator
from hintforce.task import Task


def main(
    *,
    output,
    emg_path,
    emg_recording_path,
    recording_path,
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
        recorded_emg = store.read_dataset(emg_recording_path, ["emg", "muscles"])
        muscles = recorded_emg["muscles"]
        hinted = study.model(model).hinted
        if hinted:
            rec = recording.Recording.from_arrays(
                *store.read_recording(recording_path, counts=False)
            )
            hints, hint_units = rec.hints(task.training), rec.hint_units
            n_neurons = rec.n_circuit_neurons
        else:
            hints, hint_units, n_neurons = None, None, 0
        attrs = {
            "axes": axes,
            "model": model,
            "muscles": muscles,
            "neurons": hint_units,
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
                recorded_emg["emg"][task.training],
                params,
                generator(seed, "force"),
                hints=hints,
                hint_units=hint_units,
                n_neurons=n_neurons,
                sham_rng=generator(seed, "sham"),
            )
            emg = task.with_rest(store.read_dataset(emg_path, ["emg"])["emg"])
            result = force.evaluate_task(fit.network, task, fit.shared, emg[:, :, muscles], params)
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


if __name__ == "__main__":
    main(
        output=snakemake.output[0],
        emg_path=snakemake.input.emg,
        emg_recording_path=snakemake.input.emg_recording,
        recording_path=snakemake.input.get("recording"),
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
