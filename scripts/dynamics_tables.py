"""Rule dynamics_tables: gather every run's mechanism rows, their distance to the SOC, the
summary over seeds and the contrasts."""

import pandas as pd

from hintforce import jobs, stats, store


def main(*, outputs, inputs, log, threads):
    with jobs.job(log, threads) as logger:
        table = pd.concat([pd.read_csv(p) for p in inputs.dynamics], ignore_index=True)
        distances = stats.dynamics_distances(table, pd.read_csv(inputs.fit))
        logger.info("%d mechanism rows from %d runs", len(table), len(inputs.dynamics))
        store.write_csv(outputs.dynamics, table)
        store.write_csv(outputs.summary, stats.summarise_dynamics(distances))
        store.write_csv(outputs.tests, stats.paired_dynamics(distances))


if __name__ == "__main__":
    main(
        outputs=snakemake.output,
        inputs=snakemake.input,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
