"""Rule fraction_figure: similarity to the unobserved neurons against the observed fraction."""

import pandas as pd

from hintforce import plots, store


def main(output, summary_path, log, threads):
    with store.job(log, threads):
        plots.cca_vs_fraction_figure(pd.read_csv(summary_path)).savefig(output, dpi=120)


main(snakemake.output[0], snakemake.input.summary, snakemake.log[0], snakemake.threads)
