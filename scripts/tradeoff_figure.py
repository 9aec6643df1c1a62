"""Rule tradeoff_figure: similarity against noisy-start output fit, one point per hint gain."""

import pandas as pd

from hintforce import jobs, plots, study


def main(*, output, summary_path, k, log, threads):
    with jobs.job(log, threads):
        figure = plots.tradeoff_figure(pd.read_csv(summary_path), study.HINT_GAIN, k)
        figure.savefig(output, dpi=120)


if __name__ == "__main__":
    main(
        output=snakemake.output[0],
        summary_path=snakemake.input.summary,
        k=snakemake.params.k,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
