"""Rule tables: gather every run into the study's tables and the similarity cube."""

import pandas as pd

from hintforce import jobs, stats, store


def main(*, outputs, inputs, axis_values, models, min_fit_r2, allow_failed, log, threads):
    with jobs.job(log, threads) as logger:
        similarity = pd.concat([pd.read_csv(p) for p in inputs.similarity_csv], ignore_index=True)
        fit = pd.concat([pd.read_csv(p) for p in inputs.fit], ignore_index=True)
        missing = stats.check_runs(similarity, axis_values, models, allow_failed)
        if missing:
            logger.warning(
                "summarising without %d failed model runs: %s", len(missing), "; ".join(missing)
            )
        logger.info("%d similarity rows from %d runs", len(similarity), len(inputs.similarity_csv))
        fit = stats.fit_gate(fit, min_fit_r2)
        clean = fit[stats.deciding_rows(fit)]
        logger.info(
            "fit gate (clean-start R^2 >= %g): %d of %d model runs fail",
            min_fit_r2,
            (~clean["passes_fit_gate"]).sum(),
            len(clean),
        )
        store.write_csv(outputs.similarity, similarity)
        store.write_csv(outputs.fit, fit)
        store.write_study_cube(outputs.cube, similarity, inputs.similarity_zarr)


if __name__ == "__main__":
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
