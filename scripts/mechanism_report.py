"""Rule mechanism_report: the mechanism page of the report and the example run's figure."""

from pathlib import Path

import pandas as pd

from hintforce import dynamics, findings, jobs, plots, store
from hintforce.task import Task


def main(*, inputs, outputs, axes, models, task_settings, settings, log, threads):
    with jobs.job(log, threads) as logger:
        summary, tests = pd.read_csv(inputs.summary), pd.read_csv(inputs.tests)
        Path(outputs.html).write_text(findings.mechanism_html(summary, tests))
        soc = dynamics.read_soc(inputs.soc)
        trained = store.trained_models(dict(zip(models, inputs.models, strict=True)))
        loaded = {m: dynamics.load_model(p, soc.W.shape[0]) for m, p in trained.items()}
        task = Task(**task_settings)
        runs = dynamics.trajectories(soc, loaded, task, settings["free_run_ms"])
        spectra, traces, time_ms = dynamics.example_panels(runs, task)
        fig = plots.mechanism_figure(spectra, traces, time_ms, task.bin_ms * task.n_window, axes)
        fig.savefig(outputs.figure, dpi=120)
        logger.info("mechanism page and figure of %d networks", len(runs))


if __name__ == "__main__":
    main(
        inputs=snakemake.input,
        outputs=snakemake.output,
        axes=snakemake.params.axes,
        models=snakemake.params.models,
        task_settings=snakemake.params.task,
        settings=snakemake.params.dynamics,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
