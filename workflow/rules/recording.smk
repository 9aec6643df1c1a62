# With a spike recording (recording.n_trials set or swept): each run's models scored on its
# held-out recorded neurons (co-smoothing), each recording as an NWB file, the study's
# co-smoothing tables and the recording figure.


rule co_smoothing:
    input:
        lib("co_smoothing"),
        recording=RECORDING,
        models=run_models,
    output:
        f"{RUN}/co_smoothing.csv",
    log:
        log_path(f"{RUN}/co_smoothing.csv"),
    benchmark:
        benchmark_path(f"{RUN}/co_smoothing.csv")
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=2,
    params:
        axes=run_axes,
        models=study.MODEL_NAMES,
        recording=recording_params,
        task=task_settings(),
    script:
        "../../scripts/co_smoothing.py"


rule nwb:
    input:
        lib("nwb"),
        recording=RECORDING,
        emg_recording=EMG_RECORDING,
    output:
        RECORDING.replace(".zarr", ".nwb"),
    log:
        log_path(RECORDING.replace(".zarr", ".nwb")),
    benchmark:
        benchmark_path(RECORDING.replace(".zarr", ".nwb"))
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=2,
    params:
        identifier=lambda wildcards: f"{STUDY} {LAYOUT.segments(LAYOUT.names(study.RECORDING_STAGES)).format(**wildcards)}",
        task=task_settings(),
    script:
        "../../scripts/nwb.py"


rule co_smoothing_tables:
    input:
        lib("co_smoothing_tables"),
        runs=runs(f"{RUN}/co_smoothing.csv"),
        similarity=f"{RESULTS}/tables/similarity.csv",
        fit=f"{RESULTS}/tables/fit.csv",
    output:
        table=f"{RESULTS}/tables/co_smoothing.csv",
        summary=report(
            f"{RESULTS}/tables/co_smoothing_summary.csv",
            caption="../report/co_smoothing_summary.rst",
            category="3. Recording",
        ),
        validity=report(
            f"{RESULTS}/tables/co_smoothing_validity.csv",
            caption="../report/co_smoothing_validity.rst",
            category="3. Recording",
        ),
    log:
        f"{LOGS}/tables/co_smoothing.log",
    benchmark:
        f"{BENCHMARKS}/tables/co_smoothing.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    params:
        k=max(config["similarity"]["ks"]),
    script:
        "../../scripts/co_smoothing_tables.py"


rule recording_figure:
    input:
        lib("recording_figure"),
        soc=f"{GROUND_TRUTH}/soc.zarr".format(**example_run_labels()),
        recording=RECORDING.format(**example_run_labels()),
        summary=f"{RESULTS}/tables/summary.csv",
        paired=f"{RESULTS}/tables/paired_tests.csv",
        co_smoothing=f"{RESULTS}/tables/co_smoothing_summary.csv",
    output:
        report(
            f"{RESULTS}/figures/recording.png",
            caption="../report/recording.rst",
            category="3. Recording",
        ),
    log:
        f"{LOGS}/figures/recording.log",
    benchmark:
        f"{BENCHMARKS}/figures/recording.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    params:
        k=max(config["similarity"]["ks"]),
        task=task_settings(),
    script:
        "../../scripts/recording_figure.py"
