"""Rule tables: gather every run into the study's tables and the similarity cube."""

import itertools

import pandas as pd

from hintforce import stats, store


def main(outputs, inputs, fractions, seeds, models, allow_failed, log, threads):
    with store.job(log, threads) as logger:
        similarity = pd.concat([pd.read_csv(p) for p in inputs.similarity_csv], ignore_index=True)
        expected = pd.DataFrame(
            itertools.product(fractions, seeds, models),
            columns=["neuron_fraction", "seed", "model"],
        )
        missing = stats.missing_runs(similarity, expected, list(expected.columns))
        if len(missing):
            runs = "; ".join(
                f"nf~{r.neuron_fraction}/seed~{r.seed}/{r.model}" for r in missing.itertuples()
            )
            if not allow_failed:
                raise ValueError(
                    f"{len(missing)} of {len(expected)} configured model runs have no results "
                    f"({runs}); rerun them, or set sweep.allow_failed_runs to summarise without"
                )
            logger.warning("summarising without %d failed model runs: %s", len(missing), runs)
        logger.info("%d similarity rows from %d runs", len(similarity), len(inputs.similarity_csv))
        store.write_csv(outputs.similarity, similarity)
        store.write_csv(outputs.fit, store.fit_table(inputs.models))
        cells = ["neuron_fraction", "seed", "model", "population"]
        store.write_cubes(
            outputs.cube,
            {
                "similarity": (similarity, [*cells, "metric", "k"]),
                "spectrum": (store.gather_spectra(inputs.similarity_zarr), [*cells, "k", "index"]),
            },
            {"muscle_fraction": sorted(similarity["muscle_fraction"].unique())},
        )


main(
    snakemake.output,
    snakemake.input,
    snakemake.params.fractions,
    snakemake.params.seeds,
    snakemake.params.models,
    snakemake.params.allow_failed,
    snakemake.log[0],
    snakemake.threads,
)
