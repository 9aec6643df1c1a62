"""Rule summary_figures: the headline figure and the canonical-correlation spectra."""

import pandas as pd

from hintforce import jobs, plots, store, study


def main(*, outputs, summary_path, cube_path, k, log, threads):
    with jobs.job(log, threads):
        plots.headline_figure(pd.read_csv(summary_path), k).savefig(outputs.headline, dpi=120)
        spectra = store.read_cube(cube_path, "spectrum")
        plots.cca_spectra_figure(spectra, study.SEED, k).savefig(outputs.spectra, dpi=120)


if __name__ == "__main__":
    main(
        outputs=snakemake.output,
        summary_path=snakemake.input.summary,
        cube_path=snakemake.input.cube,
        k=snakemake.params.k,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
