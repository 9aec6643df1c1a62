"""Rule statistics: summaries across seeds and the paired FFH vs FF comparison."""

import pandas as pd

from hintforce import stats, store

CELL = ["population", "metric", "k", "neuron_fraction"]


def main(outputs, similarity_path, log, threads):
    with store.job(log, threads) as logger:
        table = pd.read_csv(similarity_path)
        summary = stats.summarise(table, by=["model", *CELL])
        paired = stats.paired_tests(table, a="ffh", b="ff", pair_on="seed", by=CELL)
        logger.info("%d summary rows, %d paired tests", len(summary), len(paired))
        store.write_csv(outputs.summary, summary)
        store.write_csv(outputs.paired, paired)


main(snakemake.output, snakemake.input.similarity, snakemake.log[0], snakemake.threads)
