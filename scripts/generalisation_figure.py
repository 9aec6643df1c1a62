"""Rule generalisation_figure: output fit and similarity on held-out vs training directions."""

import pandas as pd

from hintforce import jobs, plots


def main(*, output, summary_path, k, log, threads):
    with jobs.job(log, threads):
        figure = plots.generalisation_figure(pd.read_csv(summary_path), k)
        figure.savefig(output, dpi=120)


if __name__ == "__main__":
    main(
        output=snakemake.output[0],
        summary_path=snakemake.input.summary,
        k=snakemake.params.k,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
