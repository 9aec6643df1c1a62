# Per run (neuron fraction, seed): which units are observed, then the FF, FFH and floor models.


rule observe:
    input:
        lib("observe"),
    output:
        f"{RUN}/observation.json",
    log:
        "logs/runs/nf~{nf}/seed~{seed}/observation.log",
    benchmark:
        "results/benchmarks/runs/nf~{nf}/seed~{seed}/observation.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=300,
        runtime=2,
    params:
        n_neurons=config["ground_truth"]["soc"]["n_neurons"],
        n_muscles=config["ground_truth"]["emg"]["n_muscles"],
        muscle_fraction=config["observation"]["muscle_fraction"],
    script:
        "../../scripts/observe.py"


rule train:
    input:
        lib("force"),
        emg="results/ground_truth/emg.zarr",
        soc="results/ground_truth/soc.zarr",
        observation=f"{RUN}/observation.json",
    output:
        directory(f"{RUN}/{{model}}.zarr"),
    log:
        "logs/runs/nf~{nf}/seed~{seed}/{model}.log",
    benchmark:
        "results/benchmarks/runs/nf~{nf}/seed~{seed}/{model}.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=15,
    params:
        force=model_params,
    script:
        "../../scripts/train.py"
