"""Rule tables: gather every run into the study's tables and the similarity cube."""

import itertools

import pandas as pd

from hintforce import jobs, stats, store, study


def main(*, outputs, inputs, axis_values, models, min_fit_r2, allow_failed, log, threads):
    with jobs.job(log, threads) as logger:
        similarity = pd.concat([pd.read_csv(p) for p in inputs.similarity_csv], ignore_index=True)
        fit = pd.concat([pd.read_csv(p) for p in inputs.fit], ignore_index=True)
        expected = pd.DataFrame(
            itertools.product(*(axis_values[a] for a in study.AXIS_NAMES), models),
            columns=[*study.AXIS_NAMES, "model"],
        )
        missing = stats.missing_runs(similarity, expected, list(expected.columns))
        if len(missing):
            runs = "; ".join(
                " ".join(f"{study.axis(a).key}~{row[a]}" for a in study.AXIS_NAMES)
                + f" {row['model']}"
                for _, row in missing.iterrows()
            )
            if not allow_failed:
                raise ValueError(
                    f"{len(missing)} of {len(expected)} configured model runs have no results "
                    f"({runs}); rerun them, or set sweep.allow_failed_runs to summarise without"
                )
            logger.warning("summarising without %d failed model runs: %s", len(missing), runs)
        logger.info("%d similarity rows from %d runs", len(similarity), len(inputs.similarity_csv))
        fit = stats.fit_gate(fit, min_fit_r2)
        logger.info(
            "fit gate (clean-start R^2 >= %g): %d of %d model runs fail",
            min_fit_r2,
            (~fit.loc[fit["start"] == study.STARTS[0], "passes_fit_gate"]).sum(),
            (fit["start"] == study.STARTS[0]).sum(),
        )
        store.write_csv(outputs.similarity, similarity)
        store.write_csv(outputs.fit, fit)
        cells = [*study.AXIS_NAMES, *study.ROW_KEYS]
        store.write_cubes(
            outputs.cube,
            {
                **{
                    name: (similarity[[*cells, name]].rename(columns={name: "value"}), cells)
                    for name in study.SIMILARITY_VALUES
                },
                "spectrum": (
                    store.gather_spectra(inputs.similarity_zarr),
                    [*study.AXIS_NAMES, *study.SPECTRUM_KEYS, "index"],
                ),
            },
        )


main(
    outputs=snakemake.output,
    inputs=snakemake.input,
    axis_values=snakemake.params.axis_values,
    models=snakemake.params.models,
    min_fit_r2=snakemake.params.min_fit_r2,
    allow_failed=snakemake.params.allow_failed,
    log=snakemake.log[0],
    threads=snakemake.threads,
)
