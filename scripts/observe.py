"""Rule observe: draw the order in which a run seed records the SOC neurons, and its muscles."""

from hintforce import jobs, observe, store, study
from hintforce.seeding import generator


def main(*, output, axes, n_neurons, n_muscles, log, threads):
    with jobs.job(log, threads) as logger:
        seen = observe.observe(
            n_neurons,
            n_muscles,
            axes[study.MUSCLE_FRACTION],
            generator(axes[study.SEED], "observe"),
        )
        logger.info("observed %d of %d muscles", seen.muscles.size, n_muscles)
        store.write_json(
            output, {**axes, "neuron_order": seen.neuron_order, "muscles": seen.muscles}
        )


if __name__ == "__main__":
    main(
        output=snakemake.output[0],
        axes=snakemake.params.axes,
        n_neurons=snakemake.params.n_neurons,
        n_muscles=snakemake.params.n_muscles,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
