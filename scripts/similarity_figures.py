"""Rule similarity_figures: canonical-correlation spectra and mean CCA per model."""

import pandas as pd

from hintforce import plots, store


def main(outputs, similarity_path, cube_path, log, threads):
    with store.job(log, threads):
        plots.cca_spectra_figure(store.read_cube(cube_path, "spectrum")).savefig(
            outputs.spectra, dpi=120
        )
        plots.cca_means_figure(pd.read_csv(similarity_path)).savefig(outputs.means, dpi=120)


main(
    snakemake.output,
    snakemake.input.similarity,
    snakemake.input.cube,
    snakemake.log[0],
    snakemake.threads,
)
