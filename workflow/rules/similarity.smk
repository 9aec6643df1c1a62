# Per run: every model and reference row against the SOC (CCA on PCA, CKA, Procrustes, neural
# predictivity; full and condition-specific activity; in-sample and cross-validated; with
# permutation nulls), and the run's output fit; the mechanism measures of its models and SOC.


rule similarity:
    input:
        lib("similarity"),
        soc=f"{GROUND_TRUTH}/soc.zarr",
        observation=OBSERVATION,
        recording=RECORDING,
        models=run_models,
    output:
        zarr=directory(f"{RUN}/similarity.zarr"),
        csv=f"{RUN}/similarity.csv",
        fit=f"{RUN}/fit.csv",
    log:
        log_path(f"{RUN}/similarity.csv"),
    benchmark:
        benchmark_path(f"{RUN}/similarity.csv")
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=1,
    params:
        axes=run_axes,
        held_out_fraction=held_out_fraction(),
        models=study.MODEL_NAMES,
        similarity=similarity_settings(),
        task=task_settings(),
    script:
        "../../scripts/similarity.py"


rule soc_dynamics:
    input:
        lib("soc_dynamics"),
        soc=f"{GROUND_TRUTH}/soc.zarr",
    output:
        f"{GROUND_TRUTH}/dynamics.csv",
    log:
        log_path(f"{GROUND_TRUTH}/dynamics.csv"),
    benchmark:
        benchmark_path(f"{GROUND_TRUTH}/dynamics.csv")
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=2,
    params:
        axes=run_axes,
        dynamics=settings(config["dynamics"]),
        task=task_settings(),
    script:
        "../../scripts/soc_dynamics.py"


rule dynamics:
    input:
        lib("dynamics"),
        soc=f"{GROUND_TRUTH}/soc.zarr",
        reference=f"{GROUND_TRUTH}/dynamics.csv",
        observation=OBSERVATION,
        models=run_models,
    output:
        f"{RUN}/dynamics.csv",
    log:
        log_path(f"{RUN}/dynamics.csv"),
    benchmark:
        benchmark_path(f"{RUN}/dynamics.csv")
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=2,
    params:
        axes=run_axes,
        held_out_fraction=held_out_fraction(),
        models=study.MODEL_NAMES,
        dynamics=settings(config["dynamics"]),
        task=task_settings(),
    script:
        "../../scripts/dynamics.py"
