"""Rule record_neurons: what one run records of its observed neurons (spike trains of
``recording.n_trials`` trials per direction and their PSTHs, or the exact rates), from the
circuit's rates; the run's hinted models see nothing else of the circuit."""

from hintforce import gain, jobs, recording, store, study
from hintforce.seeding import generators
from hintforce.task import Task


def main(*, output, soc_path, observation_path, axes, settings, task_settings, log, threads):
    with jobs.job(log, threads) as logger:
        params = recording.RecordingParams(**settings)
        task = Task(**task_settings)
        truth = store.read_dataset(soc_path, ["W", "gains", "x0", "rates"])
        rates = gain.rates_with_rest(
            truth.pop("W"),
            truth.pop("gains"),
            truth.pop("x0"),
            truth.pop("rates"),
            gain.GainParams(**store.read_attrs(soc_path)["params"]),
            task.n_rest,
        )
        order = store.read_observation(observation_path).recording_order(
            axes[study.NEURON_FRACTION]
        )
        seed = axes[study.SEED]
        rec = recording.record_neurons(
            rates[:, :, order],
            order,
            rates.shape[2],
            int(task.bin_ms),
            params,
            generators(seed, "spikes", order) if params.spikes else None,
        )
        if rec.spikes is None:
            logger.info("exact rates of %d neurons", rec.neurons.size)
        else:
            logger.info(
                "%d spikes of %d neurons (%d held out), %d trials per direction",
                int(rec.spikes.counts.sum(dtype=int)),
                rec.neurons.size,
                int(rec.held_out.sum()),
                rec.spikes.n_trials,
            )
        store.write_dataset(
            output,
            rec.arrays(),
            {"axes": axes, "params": params, "n_circuit_neurons": rec.n_circuit_neurons},
        )


if __name__ == "__main__":
    main(
        output=snakemake.output[0],
        soc_path=snakemake.input.soc,
        observation_path=snakemake.input.observation,
        axes=snakemake.params.axes,
        settings=snakemake.params.recording,
        task_settings=snakemake.params.task,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
