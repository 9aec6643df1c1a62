# Across runs: tidy tables and the similarity cube, statistics over seeds (and circuits), the
# findings, figures.


rule tables:
    input:
        lib("tables"),
        similarity_csv=runs(f"{RUN}/similarity.csv"),
        similarity_zarr=runs(f"{RUN}/similarity.zarr"),
        fit=runs(f"{RUN}/fit.csv"),
    output:
        similarity=f"{RESULTS}/tables/similarity.csv",
        cube=directory(f"{RESULTS}/tables/similarity.zarr"),
        fit=f"{RESULTS}/tables/fit.csv",
    log:
        f"{LOGS}/tables/tables.log",
    benchmark:
        f"{BENCHMARKS}/tables/tables.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        axis_values=AXIS_VALUES,
        models=study.MODEL_NAMES,
        min_fit_r2=config["statistics"]["min_fit_r2"],
        allow_failed=config["sweep"]["allow_failed_runs"],
    script:
        "../../scripts/tables.py"


rule dynamics_tables:
    input:
        lib("dynamics_tables"),
        dynamics=runs(f"{RUN}/dynamics.csv"),
        fit=f"{RESULTS}/tables/fit.csv",
    output:
        dynamics=f"{RESULTS}/tables/dynamics.csv",
        summary=report(
            f"{RESULTS}/tables/dynamics_summary.csv",
            caption="../report/dynamics_summary.rst",
            category="Tables",
        ),
        tests=report(
            f"{RESULTS}/tables/dynamics_tests.csv",
            caption="../report/dynamics_tests.rst",
            category="Tables",
        ),
    log:
        f"{LOGS}/tables/dynamics_tables.log",
    benchmark:
        f"{BENCHMARKS}/tables/dynamics_tables.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../../scripts/dynamics_tables.py"


rule mechanism_report:
    input:
        unpack(example_run_inputs),
        lib("mechanism_report"),
        summary=f"{RESULTS}/tables/dynamics_summary.csv",
        tests=f"{RESULTS}/tables/dynamics_tests.csv",
    output:
        html=report(
            f"{RESULTS}/tables/mechanism.html",
            caption="../report/mechanism.rst",
            category="2. Mechanism",
        ),
        figure=report(
            f"{RESULTS}/figures/mechanism.png",
            caption="../report/mechanism_figure.rst",
            category="2. Mechanism",
        ),
    log:
        f"{LOGS}/figures/mechanism.log",
    benchmark:
        f"{BENCHMARKS}/figures/mechanism.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    params:
        axes=example_run_axes(),
        models=study.MODEL_NAMES,
        task=task_settings(),
        dynamics=settings(config["dynamics"]),
    script:
        "../../scripts/mechanism_report.py"


rule statistics:
    input:
        lib("statistics"),
        similarity=f"{RESULTS}/tables/similarity.csv",
        fit=f"{RESULTS}/tables/fit.csv",
    output:
        summary=report(
            f"{RESULTS}/tables/summary.csv",
            caption="../report/summary.rst",
            category="Tables",
        ),
        paired=report(
            f"{RESULTS}/tables/paired_tests.csv",
            caption="../report/paired_tests.rst",
            category="Tables",
        ),
    log:
        f"{LOGS}/tables/statistics.log",
    benchmark:
        f"{BENCHMARKS}/tables/statistics.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    script:
        "../../scripts/statistics.py"


# The report's landing text: the study's answer (one sentence per question and the compact
# tables, generated from the tables by rule findings) before the study's description.
# Snakemake reads the file `report:` names only when it writes the report (--report), as a
# Jinja template, then reStructuredText; a dry run or --lint never opens it. So the Snakefile
# names the generated text once it exists, and the description alone before; absolute,
# because Snakemake joins a relative `report:` path to the Snakefile's directory while the
# results live in the working directory.
ANSWER_TEXT = f"{RESULTS}/tables/answer.rst"
REPORT_INTRO = os.path.relpath(
    Path(workflow.basedir) / "workflow" / "report" / "workflow.rst"
)
LANDING_TEXT = os.path.abspath(
    ANSWER_TEXT if os.path.exists(ANSWER_TEXT) else REPORT_INTRO
)


rule findings:
    input:
        unpack(recording_tables),
        lib("findings"),
        intro=REPORT_INTRO,
        summary=f"{RESULTS}/tables/summary.csv",
        paired=f"{RESULTS}/tables/paired_tests.csv",
        fit=f"{RESULTS}/tables/fit.csv",
        dynamics_summary=f"{RESULTS}/tables/dynamics_summary.csv",
        dynamics_tests=f"{RESULTS}/tables/dynamics_tests.csv",
    output:
        page=report(
            f"{RESULTS}/tables/findings.html",
            caption="../report/findings.rst",
            category="1. Answer",
        ),
        landing=ANSWER_TEXT,
    log:
        f"{LOGS}/tables/findings.log",
    benchmark:
        f"{BENCHMARKS}/tables/findings.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        k=max(config["similarity"]["ks"]),
    script:
        "../../scripts/findings.py"


rule summary_figures:
    input:
        lib("summary_figures"),
        summary=f"{RESULTS}/tables/summary.csv",
        cube=f"{RESULTS}/tables/similarity.zarr",
    output:
        headline=report(
            f"{RESULTS}/figures/headline.png",
            caption="../report/headline.rst",
            category="1. Answer",
        ),
        spectra=report(
            f"{RESULTS}/figures/cca_spectra.png",
            caption="../report/cca_spectra.rst",
            category="Similarity",
        ),
    log:
        f"{LOGS}/figures/summary.log",
    benchmark:
        f"{BENCHMARKS}/figures/summary.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        k=max(config["similarity"]["ks"]),
    script:
        "../../scripts/summary_figures.py"


rule axis_figure:
    input:
        lib("axis_figure"),
        summary=f"{RESULTS}/tables/summary.csv",
    output:
        report(
            f"{RESULTS}/figures/similarity_vs_{{axis}}.png",
            caption="../report/axis_figure.rst",
            category="Sweeps",
        ),
    log:
        f"{LOGS}/figures/similarity_vs_{{axis}}.log",
    benchmark:
        f"{BENCHMARKS}/figures/similarity_vs_{{axis}}.tsv"
    wildcard_constraints:
        axis="|".join(study.AXIS_NAMES),
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        k=max(config["similarity"]["ks"]),
    script:
        "../../scripts/axis_figure.py"


rule tradeoff_figure:
    input:
        lib("tradeoff_figure"),
        summary=f"{RESULTS}/tables/summary.csv",
    output:
        report(
            f"{RESULTS}/figures/hint_gain_tradeoff.png",
            caption="../report/tradeoff.rst",
            category="Sweeps",
        ),
    log:
        f"{LOGS}/figures/hint_gain_tradeoff.log",
    benchmark:
        f"{BENCHMARKS}/figures/hint_gain_tradeoff.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        k=max(config["similarity"]["ks"]),
    script:
        "../../scripts/tradeoff_figure.py"


rule example_run_figures:
    input:
        unpack(example_run_inputs),
        lib("example_run_figures"),
    output:
        outputs=report(
            f"{RESULTS}/figures/model_outputs.png",
            caption="../report/model_outputs.rst",
            category="Models",
        ),
        trajectories=report(
            f"{RESULTS}/figures/trajectories.png",
            caption="../report/trajectories.rst",
            category="Similarity",
        ),
    log:
        f"{LOGS}/figures/example_run.log",
    benchmark:
        f"{BENCHMARKS}/figures/example_run.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        axes=example_run_axes(),
        models=study.MODEL_NAMES,
        k=max(config["similarity"]["ks"]),
        task=task_settings(),
    script:
        "../../scripts/example_run_figures.py"


rule generalisation_figure:
    input:
        lib("generalisation_figure"),
        summary=f"{RESULTS}/tables/summary.csv",
    output:
        report(
            f"{RESULTS}/figures/generalisation.png",
            caption="../report/generalisation.rst",
            category="1. Answer",
        ),
    log:
        f"{LOGS}/figures/generalisation.log",
    benchmark:
        f"{BENCHMARKS}/figures/generalisation.tsv"
    conda:
        "../envs/hintforce.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        k=max(config["similarity"]["ks"]),
    script:
        "../../scripts/generalisation_figure.py"
