"""Rule findings: the study's answer in sentences, with the fit gate and the tables."""

import pandas as pd

from hintforce import findings, jobs, store


def main(*, output, summary_path, paired_path, fit_path, recording_paths, k, log, threads):
    with jobs.job(log, threads) as logger:
        summary = pd.read_csv(summary_path)
        paired = pd.read_csv(paired_path)
        for sentence in findings.contrast_sentences(summary, paired, k):
            logger.info("%s", sentence)
        recording = {name: pd.read_csv(path) for name, path in recording_paths.items()}
        page = findings.findings_html(summary, paired, pd.read_csv(fit_path), k, **recording)
        store.write_text(output, page)


if __name__ == "__main__":
    main(
        output=snakemake.output[0],
        summary_path=snakemake.input.summary,
        paired_path=snakemake.input.paired,
        fit_path=snakemake.input.fit,
        # with a spike recording: the co-smoothing summary and its rank correlations
        recording_paths={
            name: snakemake.input[name]
            for name in ("co_smoothing", "validity")
            if name in snakemake.input.keys()
        },
        k=snakemake.params.k,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
