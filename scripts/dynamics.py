"""Rule dynamics: the mechanism measures of one run's models after its circuit's SOC rows, and
each model's dynamical similarity to the SOC's populations."""

import pandas as pd

from hintforce import dynamics, jobs, store, study
from hintforce.seeding import generator
from hintforce.task import Task


def main(
    *,
    output,
    soc_path,
    reference_path,
    observation_path,
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
        soc = dynamics.read_soc(soc_path)
        observation = store.read_observation(observation_path)
        trained = store.trained_models(dict(zip(models, model_paths, strict=True)))
        loaded = {m: dynamics.load_model(p, soc.W.shape[0]) for m, p in trained.items()}
        table = dynamics.run_dynamics(
            soc,
            pd.read_csv(reference_path),
            loaded,
            Task(**task_settings),
            observation.populations(axes[study.NEURON_FRACTION], held_out_fraction),
            dynamics.DynamicsParams(**settings),
            generator(axes[study.SEED], "dynamics"),
        )
        logger.info("%d mechanism rows", len(table))
        store.write_csv(
            output, table.assign(**axes)[[*study.axes_in(axes), *study.DYNAMICS_COLUMNS]]
        )


if __name__ == "__main__":
    main(
        output=snakemake.output[0],
        soc_path=snakemake.input.soc,
        reference_path=snakemake.input.reference,
        observation_path=snakemake.input.observation,
        model_paths=snakemake.input.models,
        axes=snakemake.params.axes,
        models=snakemake.params.models,
        held_out_fraction=snakemake.params.held_out_fraction,
        settings=snakemake.params.dynamics,
        task_settings=snakemake.params.task,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
