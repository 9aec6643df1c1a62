"""Rule tables: gather every run into the study's tables and the similarity cube."""

import pandas as pd

from hintforce import store

KEYS = ["neuron_fraction", "muscle_fraction", "seed"]


def main(outputs, similarity_csvs, similarity_stores, model_stores, log, threads):
    with store.job(log, threads) as logger:
        similarity = pd.concat([pd.read_csv(p) for p in similarity_csvs], ignore_index=True)
        spectra = pd.concat(
            [
                store.read_cube(p, "spectrum").assign(**{k: store.read_attrs(p)[k] for k in KEYS})
                for p in similarity_stores
            ],
            ignore_index=True,
        )
        fit = pd.DataFrame(
            [
                {**{k: a[k] for k in KEYS}, "model": a["model"], "start": start, "r2": a[key]}
                for a in map(store.read_attrs, model_stores)
                for start, key in (("clean", "r2_clean"), ("noisy", "r2_noisy"))
            ]
        )
        logger.info("%d similarity rows from %d runs", len(similarity), len(similarity_csvs))
        store.write_csv(outputs.similarity, similarity)
        store.write_csv(outputs.fit, fit.sort_values([*KEYS, "model", "start"]))
        cells = ["neuron_fraction", "seed", "model", "population"]
        store.write_cubes(
            outputs.cube,
            {
                "similarity": (similarity, [*cells, "metric", "k"]),
                "spectrum": (spectra, [*cells, "k", "index"]),
            },
            {"muscle_fraction": sorted(similarity["muscle_fraction"].unique())},
        )


main(
    snakemake.output,
    snakemake.input.similarity_csv,
    snakemake.input.similarity_zarr,
    snakemake.input.models,
    snakemake.log[0],
    snakemake.threads,
)
