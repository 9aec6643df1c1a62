"""Rule co_smoothing_tables: the study's co-smoothing scores, their summary over seeds, and
how well they rank models and runs like the true similarity to the unobserved neurons."""

import pandas as pd

from hintforce import jobs, stats, store


def main(*, outputs, inputs, k, log, threads):
    with jobs.job(log, threads) as logger:
        table = pd.concat([pd.read_csv(p) for p in inputs.runs], ignore_index=True)
        fit = pd.read_csv(inputs.fit)
        validity = stats.co_smoothing_validity(
            table, pd.read_csv(inputs.similarity), fit, **stats.CO_SMOOTHING_TRUTH, k=k
        )
        logger.info("%d co-smoothing rows; rank correlations:\n%s", len(table), validity)
        store.write_csv(outputs.table, table)
        store.write_csv(outputs.summary, stats.summarise_co_smoothing(table, fit))
        store.write_csv(outputs.validity, validity)


if __name__ == "__main__":
    main(
        outputs=snakemake.output,
        inputs=snakemake.input,
        k=snakemake.params.k,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
