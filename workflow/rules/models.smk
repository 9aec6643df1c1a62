# Per run: what its seed observes, what it records, then the models. Each model is trained
# once for the axes it depends on (hintforce.study.MODELS): FF and the floor per (circuit,
# muscle fraction, seed, size), the hinted models per run. Training reads the recording, never
# the circuit (the EMG is read after training, to score the output).


rule observe:
    input:
        lib("observe"),
    output:
        OBSERVATION,
    log:
        log_path(OBSERVATION),
    benchmark:
        benchmark_path(OBSERVATION)
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=800,
        runtime=1,
    params:
        axes=run_axes,
        n_neurons=config["ground_truth"]["soc"]["n_neurons"],
        n_muscles=config["ground_truth"]["emg"]["n_muscles"],
    script:
        "../../scripts/observe.py"


rule record_emg:
    input:
        lib("record_emg"),
        emg=f"{GROUND_TRUTH}/emg.zarr",
        observation=OBSERVATION,
    output:
        directory(EMG_RECORDING),
    log:
        log_path(EMG_RECORDING),
    benchmark:
        benchmark_path(EMG_RECORDING)
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=800,
        runtime=1,
    params:
        axes=run_axes,
        emg_noise=config["recording"]["emg_noise"],
        task=task_settings(),
    script:
        "../../scripts/record_emg.py"


rule record_neurons:
    input:
        lib("record_neurons"),
        soc=f"{GROUND_TRUTH}/soc.zarr",
        observation=OBSERVATION,
    output:
        directory(RECORDING),
    log:
        log_path(RECORDING),
    benchmark:
        benchmark_path(RECORDING)
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=2,
    params:
        axes=run_axes,
        recording=recording_params,
        task=task_settings(),
    script:
        "../../scripts/record_neurons.py"


rule train:
    input:
        lib("train"),
        emg=f"{GROUND_TRUTH}/emg.zarr",
        emg_recording=EMG_RECORDING,
    output:
        directory(f"{UNHINTED_DIR}/{{model}}.zarr"),
    log:
        log_path(f"{UNHINTED_DIR}/{{model}}.zarr"),
    benchmark:
        benchmark_path(f"{UNHINTED_DIR}/{{model}}.zarr")
    wildcard_constraints:
        model="|".join(UNHINTED),
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=2,
    params:
        axes=run_axes,
        force=model_params,
        task=task_settings(),
    script:
        "../../scripts/train.py"


use rule train as train_hinted with:
    input:
        lib("train"),
        emg=f"{GROUND_TRUTH}/emg.zarr",
        emg_recording=EMG_RECORDING,
        recording=RECORDING,
    output:
        directory(f"{HINTED_DIR}/{{model}}.zarr"),
    log:
        log_path(f"{HINTED_DIR}/{{model}}.zarr"),
    benchmark:
        benchmark_path(f"{HINTED_DIR}/{{model}}.zarr")
    wildcard_constraints:
        model="|".join(HINTED),
