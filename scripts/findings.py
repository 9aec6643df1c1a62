"""Rule findings: the study's answer in sentences, with the fit gate and the tables."""

import pandas as pd

from hintforce import findings, jobs, store


def main(*, output, summary_path, paired_path, fit_path, k, log, threads):
    with jobs.job(log, threads) as logger:
        summary = pd.read_csv(summary_path)
        paired = pd.read_csv(paired_path)
        for sentence in findings.contrast_sentences(summary, paired, k):
            logger.info("%s", sentence)
        page = findings.findings_html(summary, paired, pd.read_csv(fit_path), k)
        store.write_text(output, page)


main(
    output=snakemake.output[0],
    summary_path=snakemake.input.summary,
    paired_path=snakemake.input.paired,
    fit_path=snakemake.input.fit,
    k=snakemake.params.k,
    log=snakemake.log[0],
    threads=snakemake.threads,
)
