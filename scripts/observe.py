"""Rule observe: choose the recorded SOC neurons and muscles of one run."""

from hintforce import observe, store
from hintforce.seeding import generator


def main(output, seed, neuron_fraction, muscle_fraction, n_neurons, n_muscles, log, threads):
    with store.job(log, threads) as logger:
        seen = observe.observe(
            n_neurons, n_muscles, neuron_fraction, muscle_fraction, generator(seed, "observe")
        )
        logger.info("observed %d neurons, %d muscles", seen.neurons.size, seen.muscles.size)
        store.write_json(
            output,
            {
                "seed": seed,
                "neuron_fraction": neuron_fraction,
                "muscle_fraction": muscle_fraction,
                "neurons": seen.neurons,
                "muscles": seen.muscles,
            },
        )


main(
    snakemake.output[0],
    int(snakemake.wildcards.seed),
    float(snakemake.wildcards.nf),
    snakemake.params.muscle_fraction,
    snakemake.params.n_neurons,
    snakemake.params.n_muscles,
    snakemake.log[0],
    snakemake.threads,
)
