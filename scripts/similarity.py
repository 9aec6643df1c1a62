"""Rule similarity: compare one run's models with the SOC (CCA on PCA, CKA, Procrustes)."""

from hintforce import similarity, store
from hintforce.seeding import generator


def main(outputs, soc_path, observation_path, model_paths, models, ks, seed, log, threads):
    with store.job(log, threads) as logger:
        soc_rates = store.read_dataset(soc_path, ["rates"])["rates"]
        seen = store.read_json(observation_path)
        trained = store.trained_models(dict(zip(models, model_paths, strict=True)))
        rates = {m: store.read_dataset(p, ["rates"])["rates"] for m, p in trained.items()}
        result = similarity.compare_run(
            soc_rates, rates, seen["neurons"], ks, generator(seed, "similarity")
        )
        if result.dropped:
            logger.warning("constant units dropped before PCA: %s", result.dropped)
        keys = {k: seen[k] for k in store.RUN_KEYS}
        table = result.table.assign(**keys)[[*keys, *result.table.columns]]
        logger.info("%d similarity rows", len(table))
        store.write_csv(outputs.csv, table)
        store.write_cubes(
            outputs.zarr,
            {
                "similarity": (result.table, ["model", "population", "metric", "k"]),
                "spectrum": (result.spectra, ["model", "population", "k", "index"]),
            },
            keys,
        )


main(
    snakemake.output,
    snakemake.input.soc,
    snakemake.input.observation,
    snakemake.input.models,
    snakemake.params.models,
    snakemake.params.ks,
    int(snakemake.wildcards.seed),
    snakemake.log[0],
    snakemake.threads,
)
