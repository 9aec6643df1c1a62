"""Rule example_run_figures: model outputs vs targets and CCA-aligned latent trajectories."""

from hintforce import plots, store


def main(outputs, emg_path, soc_path, observation_path, model_paths, models, k, log, threads):
    with store.job(log, threads):
        targets = store.read_dataset(emg_path, ["emg", "time_ms"])
        soc_rates = store.read_dataset(soc_path, ["rates"])["rates"]
        seen = store.read_json(observation_path)
        trained = store.trained_models(dict(zip(models, model_paths, strict=True)))
        runs = {m: store.read_dataset(p) for m, p in trained.items()}
        fitted = [m for m in runs if m != "floor"]
        plots.model_outputs_figure(
            targets["emg"][:, :, seen["muscles"]],
            {m: runs[m]["output"] for m in fitted},
            {m: store.read_attrs(p)["r2_clean"] for m, p in trained.items()},
            targets["time_ms"],
            seen["muscles"],
        ).savefig(outputs.outputs, dpi=120)
        plots.trajectories_figure(soc_rates, {m: runs[m]["rates"] for m in fitted}, k).savefig(
            outputs.trajectories, dpi=120
        )


main(
    snakemake.output,
    snakemake.input.emg,
    snakemake.input.soc,
    snakemake.input.observation,
    snakemake.input.models,
    snakemake.params.models,
    snakemake.params.k,
    snakemake.log[0],
    snakemake.threads,
)
