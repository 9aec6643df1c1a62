# Across runs: tidy tables and the similarity cube, statistics over seeds, figures.


rule tables:
    input:
        lib(),
        similarity_csv=runs("similarity.csv"),
        similarity_zarr=runs("similarity.zarr"),
        models=runs("{model}.zarr", model=MODELS),
    output:
        similarity="results/tables/similarity.csv",
        cube=directory("results/tables/similarity.zarr"),
        fit="results/tables/fit.csv",
    log:
        "logs/tables/tables.log",
    benchmark:
        "results/benchmarks/tables/tables.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        fractions=[float(f) for f in FRACTIONS],
        seeds=SEEDS,
        models=MODELS,
        allow_failed=config["sweep"]["allow_failed_runs"],
    script:
        "../../scripts/tables.py"


rule statistics:
    input:
        lib("stats"),
        similarity="results/tables/similarity.csv",
    output:
        summary="results/tables/summary.csv",
        paired="results/tables/paired_tests.csv",
    log:
        "logs/tables/statistics.log",
    benchmark:
        "results/benchmarks/tables/statistics.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../../scripts/statistics.py"


rule similarity_figures:
    input:
        lib("plots", "stats"),
        similarity="results/tables/similarity.csv",
        cube="results/tables/similarity.zarr",
    output:
        spectra=report(
            "results/figures/cca_spectra.png",
            caption="../report/cca_spectra.rst",
            category="Similarity",
        ),
        means=report(
            "results/figures/cca_means.png",
            caption="../report/cca_means.rst",
            category="Similarity",
        ),
    log:
        "logs/figures/similarity.log",
    benchmark:
        "results/benchmarks/figures/similarity.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../../scripts/similarity_figures.py"


rule fraction_figure:
    input:
        lib("plots", "stats"),
        summary="results/tables/summary.csv",
    output:
        report(
            "results/figures/cca_vs_fraction.png",
            caption="../report/cca_vs_fraction.rst",
            category="Similarity",
        ),
    log:
        "logs/figures/cca_vs_fraction.log",
    benchmark:
        "results/benchmarks/figures/cca_vs_fraction.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../../scripts/fraction_figure.py"


rule example_run_figures:
    input:
        lib("plots", "similarity"),
        emg="results/ground_truth/emg.zarr",
        soc="results/ground_truth/soc.zarr",
        observation=f"{EXAMPLE}/observation.json",
        models=expand(f"{EXAMPLE}/{{model}}.zarr", model=MODELS),
    output:
        outputs=report(
            "results/figures/model_outputs.png",
            caption="../report/model_outputs.rst",
            category="Models",
        ),
        trajectories=report(
            "results/figures/trajectories.png",
            caption="../report/trajectories.rst",
            category="Similarity",
        ),
    log:
        "logs/figures/example_run.log",
    benchmark:
        "results/benchmarks/figures/example_run.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        models=MODELS,
        k=max(config["similarity"]["ks"]),
    script:
        "../../scripts/example_run_figures.py"
