"""Rule soc_gains: fit the per-condition gains and shared readout of the SOC to the EMG."""

from hintforce import gain, jobs, store


def main(*, output, emg_path, connectivity_path, settings, log, threads):
    with jobs.job(log, threads) as logger:
        params = gain.GainParams(**settings)
        targets = store.read_dataset(emg_path, ["emg", "time_ms"])
        circuit = store.read_dataset(connectivity_path)
        truth = gain.fit_gains(circuit["W"], circuit["excitatory"], targets["emg"], params)
        logger.info("readout R^2 per muscle: %s", [round(float(r), 4) for r in truth.r2])
        store.write_dataset(
            output,
            {
                "W": (("post", "pre"), circuit["W"]),
                "abscissa_trace": (("iteration",), circuit["abscissa_trace"]),
                "x0": (("neuron",), truth.x0),
                "gains": (("condition", "neuron"), truth.gains),
                "readout": (("muscle", "excitatory_neuron"), truth.readout),
                "bias": (("muscle",), truth.bias),
                "rates": (("condition", "time", "neuron"), truth.rates),
                "emg_fit": (("condition", "time", "muscle"), truth.emg_fit),
                "time_ms": (("time",), targets["time_ms"]),
                "loss_trace": (("iteration",), truth.loss_trace),
            },
            {
                "params": params,
                "excitatory": circuit["excitatory"],
                "r2": truth.r2,
                "soc": store.read_attrs(connectivity_path),
            },
        )


if __name__ == "__main__":
    main(
        output=snakemake.output[0],
        emg_path=snakemake.input.emg,
        connectivity_path=snakemake.input.connectivity,
        settings=snakemake.params.gain,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
