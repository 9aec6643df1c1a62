"""Rule findings: the study's answer, as the report's landing text and as its answer page
(the answer in sentences and tables, then the detail), from the tables."""

from pathlib import Path

import pandas as pd

from hintforce import findings, jobs, store


def main(*, page, landing, intro_path, table_paths, optional_paths, k, log, threads):
    with jobs.job(log, threads) as logger:
        summary, paired, fit = (pd.read_csv(table_paths[n]) for n in ("summary", "paired", "fit"))
        optional = {name: pd.read_csv(path) for name, path in optional_paths.items()}
        for question, sentence in findings.answers(summary, paired, k, **optional):
            logger.info("%s %s", question, sentence)
        intro = Path(intro_path).read_text()
        store.write_text(landing, findings.answer_rst(summary, paired, fit, k, intro, **optional))
        store.write_text(page, findings.findings_html(summary, paired, fit, k, **optional))


if __name__ == "__main__":
    main(
        page=snakemake.output.page,
        landing=snakemake.output.landing,
        intro_path=snakemake.input.intro,
        table_paths={name: snakemake.input[name] for name in ("summary", "paired", "fit")},
        # the mechanism tables and, with a spike recording, the co-smoothing summary and its
        # rank correlations
        optional_paths={
            name: snakemake.input[name]
            for name in ("dynamics_summary", "dynamics_tests", "co_smoothing", "validity")
            if name in snakemake.input.keys()
        },
        k=snakemake.params.k,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
