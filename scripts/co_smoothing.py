"""Rule co_smoothing: score one run's models on its held-out recorded neurons (co-smoothing
bits per spike, next to the smoothing baseline): the similarity an experimenter can measure."""

import pandas as pd

from hintforce import jobs, recording, store, study
from hintforce.task import Task


def main(
    *, output, recording_path, model_paths, axes, models, settings, task_settings, log, threads
):
    with jobs.job(log, threads) as logger:
        params = recording.RecordingParams(**settings)
        task = Task(**task_settings)
        rec = recording.Recording.from_arrays(*store.read_recording(recording_path))
        trained = store.trained_models(dict(zip(models, model_paths, strict=True)))
        rates = {m: store.read_dataset(p, ["rates"])["rates"] for m, p in trained.items()}
        scores, scored = recording.score_models(rates, rec, task.training, int(task.bin_ms), params)
        logger.info(
            "%d of %d held-out neurons scored; bits per spike: %s",
            scored.size,
            int(rec.held_out.sum()),
            ", ".join(f"{m} {v:.4f}" for m, v in scores.items()),
        )
        table = pd.DataFrame(
            {"model": list(scores), "bits_per_spike": list(scores.values())}
        ).assign(n_neurons=scored.size, **axes)
        store.write_csv(output, table[[*study.axes_in(axes), *study.CO_SMOOTHING_COLUMNS]])


if __name__ == "__main__":
    main(
        output=snakemake.output[0],
        recording_path=snakemake.input.recording,
        model_paths=snakemake.input.models,
        axes=snakemake.params.axes,
        models=snakemake.params.models,
        settings=snakemake.params.recording,
        task_settings=snakemake.params.task,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
