# The ground truth of each circuit (ground-truth seed): EMG targets, the SOC connectivity and
# its per-condition gains, each in its own jobs, so circuits build in parallel.


rule emg:
    input:
        lib("emg"),
    output:
        directory(f"{GROUND_TRUTH}/emg.zarr"),
    log:
        log_path(f"{GROUND_TRUTH}/emg.zarr"),
    benchmark:
        benchmark_path(f"{GROUND_TRUTH}/emg.zarr")
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        axes=run_axes,
        emg=settings(config["ground_truth"]["emg"]),
    script:
        "../../scripts/emg.py"


rule soc_connectivity:
    input:
        lib("soc_connectivity"),
    output:
        directory(f"{GROUND_TRUTH}/connectivity.zarr"),
    log:
        log_path(f"{GROUND_TRUTH}/connectivity.zarr"),
    benchmark:
        benchmark_path(f"{GROUND_TRUTH}/connectivity.zarr")
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
    params:
        axes=run_axes,
        soc=settings(config["ground_truth"]["soc"]),
    script:
        "../../scripts/soc_connectivity.py"


rule soc_gains:
    input:
        lib("soc_gains"),
        emg=f"{GROUND_TRUTH}/emg.zarr",
        connectivity=f"{GROUND_TRUTH}/connectivity.zarr",
    output:
        directory(f"{GROUND_TRUTH}/soc.zarr"),
    log:
        log_path(f"{GROUND_TRUTH}/soc.zarr"),
    benchmark:
        benchmark_path(f"{GROUND_TRUTH}/soc.zarr")
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=30,
    params:
        gain=gain_settings(),
    script:
        "../../scripts/soc_gains.py"


rule ground_truth_figure:
    input:
        lib("ground_truth_figure"),
        emg=f"{GROUND_TRUTH}/emg.zarr",
        soc=f"{GROUND_TRUTH}/soc.zarr",
    output:
        report(
            f"{RESULTS}/figures/{GROUND_TRUTH_FIGURE}.png",
            caption="../report/ground_truth.rst",
            category="Ground truth",
        ),
    log:
        f"{LOGS}/figures/{GROUND_TRUTH_FIGURE}.log",
    benchmark:
        f"{BENCHMARKS}/figures/{GROUND_TRUTH_FIGURE}.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        axes=run_axes,
    script:
        "../../scripts/ground_truth_figure.py"
