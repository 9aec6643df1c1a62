"""Rule soc_connectivity: build and stability-optimise one circuit's SOC connectivity."""

from hintforce import jobs, soc, store, study
from hintforce.seeding import generator


def main(*, output, axes, settings, log, threads):
    with jobs.job(log, threads) as logger:
        params = soc.SOCParams(**settings)
        seed = axes[study.GROUND_TRUTH_SEED]
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
            {study.GROUND_TRUTH_SEED: seed, "params": params},
        )


if __name__ == "__main__":
    main(
        output=snakemake.output[0],
        axes=snakemake.params.axes,
        settings=snakemake.params.soc,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
