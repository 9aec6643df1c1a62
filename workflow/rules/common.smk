# The workflow's view of the config and the study's paths; the logic lives in the library
# (hintforce.configuration, hintforce.layout, hintforce.imports), this file only wires it.
import os
import sys
from pathlib import Path

import hintforce
import yaml
from snakemake.utils import validate

from hintforce import configuration, imports, layout, study

SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
SCRIPTS = Path(workflow.basedir) / "scripts"


def config_error(err):
    """Stop before any job runs with one line naming the offending key."""
    sys.exit(f"invalid config: {err}")


error = configuration.schema_error(config, yaml.safe_load(SCHEMA.read_text()))
if error is not None:
    config_error(error)
validate(config, str(SCHEMA))  # fills in the schema's defaults
STUDY_CONFIG = configuration.StudyConfig(config)
try:
    STUDY_CONFIG.check()
except configuration.ConfigError as err:
    config_error(err)

SPIKES = STUDY_CONFIG.spikes
STUDY_AXES = STUDY_CONFIG.axes
AXIS_VALUES = STUDY_CONFIG.values
STUDY = config["study"]
LAYOUT = layout.Layout(STUDY, STUDY_AXES)
RESULTS = LAYOUT.results
LOGS = LAYOUT.logs
BENCHMARKS = LAYOUT.benchmarks
AXIS_CONSTRAINTS = LAYOUT.constraints()
UNHINTED = [m.name for m in study.MODELS if not m.hinted]
HINTED = [m.name for m in study.MODELS if m.hinted]
GROUND_TRUTH = LAYOUT.ground_truth
GROUND_TRUTH_FIGURE = LAYOUT.ground_truth_figure
OBSERVATION = LAYOUT.observation
EMG_RECORDING = LAYOUT.emg_recording
RECORDING = LAYOUT.recording
UNHINTED_DIR = LAYOUT.model_dir(UNHINTED)
HINTED_DIR = LAYOUT.model_dir(HINTED)
RUN = LAYOUT.run
settings = configuration.settings
gain_settings = STUDY_CONFIG.gain_settings
task_settings = STUDY_CONFIG.task_settings
similarity_settings = STUDY_CONFIG.similarity_settings
recording_settings = STUDY_CONFIG.recording_settings
held_out_fraction = STUDY_CONFIG.held_out_fraction
swept_axes = STUDY_CONFIG.swept_axes
log_path = LAYOUT.log_path
benchmark_path = LAYOUT.benchmark_path
model_path = LAYOUT.model_path


def runs(pattern, **more):
    """``pattern`` for every combination of the sweep axes it names (and of ``more``)."""
    names = [a for a in AXIS_VALUES if f"{{{a}}}" in pattern]
    return expand(pattern, **{a: STUDY_CONFIG.labels(a) for a in names}, **more)


def run_axes(wildcards):
    """The axis values a job's wildcards name, typed, as a job parameter."""
    return LAYOUT.axis_values(dict(wildcards.items()))


def section_params(section, wildcards):
    """A config section's settings, with those its job's axes sweep taken from its path."""
    return STUDY_CONFIG.section_params(section, run_axes(wildcards))


def recording_params(wildcards):
    return section_params("recording", wildcards)


def model_params(wildcards):
    """Training settings of one model, with the swept ones from its path."""
    return STUDY_CONFIG.model_params(wildcards.model, run_axes(wildcards))


def run_models(wildcards):
    """Every model store a run compares."""
    return [model_path(m).format(**wildcards) for m in study.MODEL_NAMES]


# Library inputs, derived from what each script imports.
LIB = Path(hintforce.__file__).parent.resolve()
if LIB.is_relative_to(Path.cwd().resolve()):
    LIB = LIB.relative_to(Path.cwd().resolve())


def lib(script):
    """Library sources the results of ``scripts/<script>.py`` depend on: editing one reruns
    the rule."""
    return imports.library_inputs(SCRIPTS / f"{script}.py", LIB)


# ------------------------------------------------------------------------------------------
# Final outputs

example_run_axes = STUDY_CONFIG.first_values


def example_run_labels():
    """The example run's path labels (the first value of every axis)."""
    return {a: STUDY_CONFIG.labels(a)[0] for a in AXIS_VALUES}


def example_run_inputs(wildcards):
    first = example_run_labels()
    return {
        "emg": f"{GROUND_TRUTH}/emg.zarr".format(**first),
        "soc": f"{GROUND_TRUTH}/soc.zarr".format(**first),
        "observation": OBSERVATION.format(**first),
        "models": [model_path(m).format(**first) for m in study.MODEL_NAMES],
    }


def recording_tables(wildcards):
    """With a spike recording, the co-smoothing tables the findings report."""
    if not SPIKES:
        return {}
    return {
        "co_smoothing": f"{RESULTS}/tables/co_smoothing_summary.csv",
        "validity": f"{RESULTS}/tables/co_smoothing_validity.csv",
    }


def figures():
    names = STUDY_CONFIG.figure_names()
    return [
        *expand(f"{RESULTS}/figures/{{name}}.png", name=names),
        *runs(f"{RESULTS}/figures/{GROUND_TRUTH_FIGURE}.png"),
    ]


def final_outputs():
    return [
        *expand(
            f"{RESULTS}/tables/{{name}}",
            name=[
                "similarity.csv",
                "similarity.zarr",
                "fit.csv",
                "summary.csv",
                "paired_tests.csv",
                "findings.html",
                "answer.rst",
                "dynamics.csv",
                "dynamics_summary.csv",
                "dynamics_tests.csv",
                "mechanism.html",
                *(
                    [
                        "co_smoothing.csv",
                        "co_smoothing_summary.csv",
                        "co_smoothing_validity.csv",
                    ]
                    if SPIKES
                    else []
                ),
            ],
        ),
        *(runs(RECORDING.replace(".zarr", ".nwb")) if SPIKES else []),
        *figures(),
    ]
