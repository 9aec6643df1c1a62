"""Rule ground_truth_figure: EMG targets vs SOC readout, example neurons, PCs, abscissa."""

from hintforce import jobs, plots, store


def main(*, output, emg_path, soc_path, axes, log, threads):
    with jobs.job(log, threads):
        targets = store.read_dataset(emg_path, ["emg", "time_ms"])
        truth = store.read_dataset(soc_path, ["emg_fit", "rates", "abscissa_trace"])
        attrs = store.read_attrs(soc_path)
        figure = plots.ground_truth_figure(
            targets["emg"],
            truth["emg_fit"],
            attrs["r2"],
            truth["rates"],
            targets["time_ms"],
            truth["abscissa_trace"],
            attrs["soc"]["params"]["target_abscissa"],
            title=plots.describe_run(axes),
        )
        figure.savefig(output, dpi=120)


if __name__ == "__main__":
    main(
        output=snakemake.output[0],
        emg_path=snakemake.input.emg,
        soc_path=snakemake.input.soc,
        axes=snakemake.params.axes,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
