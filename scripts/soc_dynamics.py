"""Rule soc_dynamics: the mechanism measures of one circuit's SOC, the reference rows of
every run of the circuit."""

from hintforce import dynamics, jobs, store, study
from hintforce.seeding import generator
from hintforce.task import Task


def main(*, output, soc_path, axes, settings, task_settings, log, threads):
    with jobs.job(log, threads) as logger:
        table = dynamics.soc_dynamics(
            dynamics.read_soc(soc_path),
            Task(**task_settings),
            dynamics.DynamicsParams(**settings),
            generator(axes[study.GROUND_TRUTH_SEED], "soc_dynamics"),
        )
        logger.info("%d mechanism rows of the SOC", len(table))
        store.write_csv(output, table)


if __name__ == "__main__":
    main(
        output=snakemake.output[0],
        soc_path=snakemake.input.soc,
        axes=snakemake.params.axes,
        settings=snakemake.params.dynamics,
        task_settings=snakemake.params.task,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
