"""Rule soc_connectivity: build and stability-optimise the SOC connectivity."""

from hintforce import soc, store
from hintforce.seeding import generator


def main(output, seed, settings, log, threads):
    with store.job(log, threads) as logger:
        params = soc.SOCParams(**settings)
        circuit = soc.build_soc(params, generator(seed, "soc"))
        logger.info(
            "spectral abscissa %.4f -> %.4f in %d iterations",
            circuit.abscissa_trace[0],
            circuit.abscissa_trace[-1],
            circuit.abscissa_trace.size - 1,
        )
        store.write_dataset(
            output,
            {
                "W": (("post", "pre"), circuit.W),
                "excitatory": (("neuron",), circuit.excitatory),
                "abscissa_trace": (("iteration",), circuit.abscissa_trace),
            },
            {"seed": seed, "params": params},
        )


main(
    snakemake.output[0],
    snakemake.params.seed,
    snakemake.params.soc,
    snakemake.log[0],
    snakemake.threads,
)
