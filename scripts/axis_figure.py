"""Rule axis_figure: similarity against one swept axis, one line per model."""

import pandas as pd

from hintforce import jobs, plots, study


def main(*, output, summary_path, axis_name, k, log, threads):
    with jobs.job(log, threads):
        populations = ["unobserved"]
        if axis_name == study.NEURON_FRACTION:  # like-for-like: the same neurons at every fraction
            populations.append(study.HELD_OUT)
        figure = plots.axis_figure(pd.read_csv(summary_path), axis_name, k, populations=populations)
        figure.savefig(output, dpi=120)


if __name__ == "__main__":
    main(
        output=snakemake.output[0],
        summary_path=snakemake.input.summary,
        axis_name=snakemake.wildcards.axis,
        k=snakemake.params.k,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
