"""Rule statistics: summaries per sweep cell and the paired contrasts (FFH vs FF and shams)."""

import pandas as pd

from hintforce import jobs, stats, store


def main(*, outputs, similarity_path, fit_path, log, threads):
    with jobs.job(log, threads) as logger:
        similarity = pd.read_csv(similarity_path)
        fit = pd.read_csv(fit_path)
        summary = stats.summarise_study(similarity, fit)
        paired = stats.paired_study(similarity, fit)
        logger.info("%d summary rows, %d paired tests", len(summary), len(paired))
        store.write_csv(outputs.summary, summary)
        store.write_csv(outputs.paired, paired)


if __name__ == "__main__":
    main(
        outputs=snakemake.output,
        similarity_path=snakemake.input.similarity,
        fit_path=snakemake.input.fit,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
