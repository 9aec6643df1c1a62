"""Rule recording_figure: an example recorded neuron beside its true rate, and the answer,
the ceiling and co-smoothing against the number of trials."""

import numpy as np
import pandas as pd

from hintforce import jobs, plots, recording, store
from hintforce.task import Task


def main(*, output, inputs, k, task_settings, log, threads):
    with jobs.job(log, threads):
        task = Task(**task_settings)
        rec = recording.Recording.from_arrays(*store.read_recording(inputs.recording))
        column = int(np.flatnonzero(~rec.held_out)[0])  # the first hint neuron, by index
        neuron = int(rec.neurons[column])
        truth = store.read_dataset(inputs.soc, ["rates"])["rates"][:, :, neuron]
        fig = plots.recording_figure(
            rec.spikes.counts[0, :, :, column],
            rec.psth[:, :, column],
            truth,
            neuron,
            task.bin_ms,
            pd.read_csv(inputs.summary),
            pd.read_csv(inputs.paired),
            pd.read_csv(inputs.co_smoothing),
            k,
        )
        fig.savefig(output, dpi=150)


if __name__ == "__main__":
    main(
        output=snakemake.output[0],
        inputs=snakemake.input,
        k=snakemake.params.k,
        task_settings=snakemake.params.task,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
