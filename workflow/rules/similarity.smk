# Per run: CCA on PCA factors (plus CKA and Procrustes) of each model against the SOC.


rule similarity:
    input:
        lib("similarity"),
        soc="results/ground_truth/soc.zarr",
        observation=f"{RUN}/observation.json",
        models=expand(f"{RUN}/{{model}}.zarr", model=MODELS, allow_missing=True),
    output:
        zarr=directory(f"{RUN}/similarity.zarr"),
        csv=f"{RUN}/similarity.csv",
    log:
        "logs/runs/nf~{nf}/seed~{seed}/similarity.log",
    benchmark:
        "results/benchmarks/runs/nf~{nf}/seed~{seed}/similarity.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        ks=config["similarity"]["ks"],
        models=MODELS,
    script:
        "../../scripts/similarity.py"
