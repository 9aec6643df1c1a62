# The ground truth: EMG targets, the SOC connectivity and its per-condition gains.


rule emg:
    input:
        lib("emg"),
    output:
        directory("results/ground_truth/emg.zarr"),
    log:
        "logs/ground_truth/emg.log",
    benchmark:
        "results/benchmarks/ground_truth/emg.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        seed=config["ground_truth"]["seed"],
        emg=settings(config["ground_truth"]["emg"]),
    script:
        "../../scripts/emg.py"


rule soc_connectivity:
    input:
        lib("soc"),
    output:
        directory("results/ground_truth/connectivity.zarr"),
    log:
        "logs/ground_truth/connectivity.log",
    benchmark:
        "results/benchmarks/ground_truth/connectivity.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
    params:
        seed=config["ground_truth"]["seed"],
        soc=settings(config["ground_truth"]["soc"]),
    script:
        "../../scripts/soc_connectivity.py"


rule soc_gains:
    input:
        lib("gain", "soc"),
        emg="results/ground_truth/emg.zarr",
        connectivity="results/ground_truth/connectivity.zarr",
    output:
        directory("results/ground_truth/soc.zarr"),
    log:
        "logs/ground_truth/soc.log",
    benchmark:
        "results/benchmarks/ground_truth/soc.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
    params:
        gain=gain_params(),
    script:
        "../../scripts/soc_gains.py"


rule ground_truth_figure:
    input:
        lib("plots"),
        emg="results/ground_truth/emg.zarr",
        soc="results/ground_truth/soc.zarr",
    output:
        report(
            "results/figures/ground_truth.png",
            caption="../report/ground_truth.rst",
            category="Ground truth",
        ),
    log:
        "logs/figures/ground_truth.log",
    benchmark:
        "results/benchmarks/figures/ground_truth.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../../scripts/ground_truth_figure.py"
