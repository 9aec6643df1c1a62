"""Rule similarity: compare one run's models and reference rows with the SOC, and gather the
run's output fit."""

import numpy as np

from hintforce import jobs, recording, similarity, store, study
from hintforce.seeding import generator
from hintforce.task import Task


def main(
    *,
    outputs,
    soc_path,
    observation_path,
    recording_path,
    model_paths,
    axes,
    models,
    held_out_fraction,
    settings,
    task_settings,
    log,
    threads,
):
    with jobs.job(log, threads) as logger:
        soc_rates = store.read_dataset(soc_path, ["rates"])["rates"]
        observation = store.read_observation(observation_path)
        observed = observation.neurons(axes[study.NEURON_FRACTION])
        held_out = observation.unobserved(held_out_fraction)
        paths = dict(zip(models, model_paths, strict=True))
        trained = store.trained_models(paths)
        task = Task(**task_settings)
        movement = slice(0, task.n_times)  # the window's rest, if any, is not compared
        rec = recording.Recording.from_arrays(*store.read_recording(recording_path, counts=False))
        if not np.array_equal(rec.neurons, observed):
            raise ValueError(f"{recording_path} records other neurons than the run observes")
        rates = {
            m: store.read_dataset(p, ["rates"])["rates"][:, movement] for m, p in trained.items()
        }
        result = similarity.compare_run(
            soc_rates,
            rates,
            observed,
            held_out,
            similarity.SimilarityParams(**settings),
            generator(axes[study.SEED], "similarity"),
            held_out_directions=task.held_out if task.held_out.size else None,
            recording=None
            if rec.halves is None
            else (rec.psth[:, movement], rec.halves[:, :, movement]),
        )
        if result.dropped:
            logger.warning("constant units dropped before PCA: %s", result.dropped)
        table = result.table.assign(**axes)[[*study.axes_in(axes), *study.SIMILARITY_COLUMNS]]
        logger.info("%d similarity rows", len(table))
        store.write_csv(outputs.csv, table)
        store.write_csv(outputs.fit, store.fit_rows(axes, paths, held_out=bool(task.held_out.size)))
        store.write_cubes(
            outputs.zarr,
            {
                "similarity": (result.table, list(study.ROW_KEYS)),
                "spectrum": (result.spectra, [*study.SPECTRUM_KEYS, "index"]),
            },
            {"axes": axes},
        )


if __name__ == "__main__":
    main(
        outputs=snakemake.output,
        soc_path=snakemake.input.soc,
        observation_path=snakemake.input.observation,
        recording_path=snakemake.input.recording,
        model_paths=snakemake.input.models,
        axes=snakemake.params.axes,
        models=snakemake.params.models,
        held_out_fraction=snakemake.params.held_out_fraction,
        settings=snakemake.params.similarity,
        task_settings=snakemake.params.task,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
