"""Rule example_run_figures: model outputs vs targets and CCA-aligned latent trajectories of
one run (the first value of every axis)."""

from hintforce import jobs, plots, store, study
from hintforce.task import Task


def main(
    *,
    outputs,
    emg_path,
    soc_path,
    observation_path,
    model_paths,
    axes,
    models,
    k,
    task_settings,
    log,
    threads,
):
    with jobs.job(log, threads):
        task = Task(**task_settings)
        targets = task.with_rest(store.read_dataset(emg_path, ["emg"])["emg"])
        soc_rates = store.read_dataset(soc_path, ["rates"])["rates"]
        muscles = store.read_observation(observation_path).muscles
        trained = store.trained_models(dict(zip(models, model_paths, strict=True)))
        runs = {m: store.read_dataset(p) for m, p in trained.items()}
        attrs = {m: store.read_attrs(p) for m, p in trained.items()}
        fitted = [m for m in runs if study.model(m).trained]
        title = plots.describe_run(axes)
        plots.model_outputs_figure(
            targets[:, :, muscles],
            {m: runs[m]["output"] for m in fitted},
            {m: attrs[m]["r2_clean"] for m in trained},
            task.window_ms,
            muscles,
            held_out=task.held_out,
            held_out_r2={m: a["held_out_r2_clean"] for m, a in attrs.items() if task.held_out.size},
            title=title,
        ).savefig(outputs.outputs, dpi=120)
        movement = slice(0, task.n_times)
        plots.trajectories_figure(
            soc_rates, {m: runs[m]["rates"][:, movement] for m in fitted}, k, title=title
        ).savefig(outputs.trajectories, dpi=120)


if __name__ == "__main__":
    main(
        outputs=snakemake.output,
        emg_path=snakemake.input.emg,
        soc_path=snakemake.input.soc,
        observation_path=snakemake.input.observation,
        model_paths=snakemake.input.models,
        axes=snakemake.params.axes,
        models=snakemake.params.models,
        k=snakemake.params.k,
        task_settings=snakemake.params.task,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
