"""Rule nwb: one run's spike recording as an NWB file (units with spike times, a trials
table with the reach directions, the recorded EMG), readable by any NWB tool."""

from hintforce import jobs, recording, store
from hintforce.task import Task


def main(*, output, recording_path, emg_recording_path, identifier, task_settings, log, threads):
    with jobs.job(log, threads) as logger:
        task = Task(**task_settings)
        rec = recording.Recording.from_arrays(*store.read_recording(recording_path))
        emg = store.read_dataset(emg_recording_path, ["emg", "muscles"])
        nwb = recording.nwb_file(
            rec.spikes,
            task.angles,
            int(task.bin_ms),
            identifier,
            emg=emg["emg"],
            neuron_ids=rec.neurons,
            muscle_names=[f"muscle {m}" for m in emg["muscles"]],
        )
        store.write_nwb(output, nwb)
        logger.info("%s: %d units, %d trials", output, rec.neurons.size, len(nwb.trials.id.data))


if __name__ == "__main__":
    main(
        output=snakemake.output[0],
        recording_path=snakemake.input.recording,
        emg_recording_path=snakemake.input.emg_recording,
        identifier=snakemake.params.identifier,
        task_settings=snakemake.params.task,
        log=snakemake.log[0],
        threads=snakemake.threads,
    )
