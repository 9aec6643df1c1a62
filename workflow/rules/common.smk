# Config validation and every input/param helper of the workflow.
import ast
import os
import sys
from pathlib import Path

import hintforce
import yaml
from jsonschema import Draft202012Validator
from snakemake.utils import validate

from hintforce import dynamics as dynamics_lib
from hintforce import emg as emg_lib
from hintforce import force as force_lib
from hintforce import gain as gain_lib
from hintforce import observe as observe_lib
from hintforce import recording as recording_lib
from hintforce import similarity as similarity_lib
from hintforce import soc as soc_lib
from hintforce import study
from hintforce import task as task_lib

SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
SCRIPTS = Path(workflow.basedir) / "scripts"


def config_error(where, message):
    """Stop before any job runs with one line naming the offending key."""
    sys.exit(f"invalid config: {where}: {message}")


def settings(section, **more):
    """A config section with its keys sorted, as a job parameter. Snakemake compares
    parameters as text; the order in which a config file lists keys must not cause reruns.
    """
    return dict(sorted({**section, **more}.items()))


def gain_settings():
    """The gain fit's settings; its sampling grid is the EMG's."""
    gt = config["ground_truth"]
    return settings(gt["gain"], bin_ms=gt["emg"]["dt_ms"])


def task_settings():
    """The task's settings, with its directions and movement window from the EMG's grid."""
    emg = config["ground_truth"]["emg"]
    return settings(
        config["task"],
        n_directions=emg["n_conditions"],
        n_times=emg["n_times"],
        bin_ms=emg["dt_ms"],
    )


def setting(path):
    """The config value at a dotted ``section.key`` path."""
    section, key = path.split(".")
    return config[section][key]


def sweep_values(axis):
    """The values of one sweep axis: its list under ``sweep:``, else its single setting."""
    values = config["sweep"].get(axis.sweep)
    if values is None:
        values = [setting(axis.setting)]
    return [axis.kind(v) for v in values]


def schema_choice(alternative):
    """One alternative of a ``oneOf`` in words: its values, or the type of its items."""
    if "enum" in alternative:
        return ", ".join(str(v) for v in alternative["enum"])
    if alternative.get("type") == "array":
        return f"a list of {alternative.get('items', {}).get('type', 'value')}s"
    if "minimum" in alternative:
        return f"{alternative.get('type', 'a number')} >= {alternative['minimum']}"
    return alternative.get("type", "a value")


def check_schema():
    """Types, ranges and unknown keys, then the schema's defaults filled in."""
    schema = yaml.safe_load(SCHEMA.read_text())
    errors = list(Draft202012Validator(schema).iter_errors(config))
    if errors:
        err = min(errors, key=lambda e: len(e.absolute_path))
        where = ".".join(str(p) for p in err.absolute_path) or "top level"
        if err.validator == "additionalProperties":
            allowed = ", ".join(sorted(err.schema.get("properties", {})))
            unknown = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            config_error(where, f"unknown key(s) {unknown}; allowed keys: {allowed}")
        if err.validator == "uniqueItems":
            config_error(where, f"values must not repeat, got {err.instance}")
        if err.validator == "minItems":
            config_error(where, "must list at least one value, got an empty list")
        if err.validator == "oneOf":
            config_error(
                where,
                f"got {err.instance!r}; allowed: "
                + " or ".join(schema_choice(s) for s in err.schema["oneOf"]),
            )
        config_error(where, err.message)
    validate(config, str(SCHEMA))


def check_parameters():
    """The library's own checks of every section, one parameter class per section."""
    gt = config["ground_truth"]
    models = settings(config["models"], n_units=AXIS_VALUES[study.N_UNITS][0])
    sections = (
        ("ground_truth.emg", emg_lib.EMGParams, gt["emg"]),
        ("ground_truth.soc", soc_lib.SOCParams, gt["soc"]),
        ("ground_truth.gain", gain_lib.GainParams, gain_settings()),
        ("models", force_lib.ForceParams, models),
        ("task", task_lib.Task, task_settings()),
        ("similarity", similarity_lib.SimilarityParams, similarity_settings()),
        ("dynamics", dynamics_lib.DynamicsParams, config["dynamics"]),
        ("recording", recording_lib.RecordingParams, recording_settings()),
    )
    for where, params, values in sections:
        try:
            params(**values)
        except (TypeError, ValueError) as err:
            config_error(where, err)
    try:
        task_lib.check_trainable(task_lib.Task(**task_settings()))
    except ValueError as err:
        config_error("task", err)
    if config["models"]["dt_ms"] != gt["emg"]["dt_ms"]:
        config_error(
            "models.dt_ms",
            f"must equal ground_truth.emg.dt_ms={gt['emg']['dt_ms']} (targets are sampled on "
            f"the network's time step), got {config['models']['dt_ms']}",
        )


def recording_settings():
    """The recording's settings, with the first value of a swept trial count or smoothing
    (each swept value is checked by check_recording)."""
    swept = {
        a.setting.split(".")[1]: AXIS_VALUES[a.name][0]
        for a in STUDY_AXES
        if a.spikes and config["sweep"].get(a.sweep) is not None
    }
    return settings(config["recording"], **swept)


def axis_key(axis):
    """The config key an axis's values came from: its sweep list, else its single setting."""
    if config["sweep"].get(axis.sweep) is not None or axis.setting is None:
        return f"sweep.{axis.sweep}"
    return axis.setting


def check_sweep():
    """Each axis's values: fractions that observe enough neurons (and muscles) and leave
    enough unobserved for the largest k, then the largest k the whole sweep supports. Every
    bound a refusal suggests is one that passes."""
    gt = config["ground_truth"]
    n_neurons = gt["soc"]["n_neurons"]
    k = max(config["similarity"]["ks"])
    for fraction in AXIS_VALUES[study.MUSCLE_FRACTION]:
        try:
            observe_lib.n_selected(
                gt["emg"]["n_muscles"], fraction, study.MUSCLE_FRACTION, "muscles"
            )
        except ValueError as err:
            config_error(axis_key(study.axis(study.MUSCLE_FRACTION)), err)
    # Each population is split in two halves of k components: with room for that, a fraction
    # must observe 2k neurons and leave 2k unobserved; without, k itself is refused below.
    per_side = 2 * k if 4 * k <= n_neurons else 1
    for fraction in AXIS_VALUES[study.NEURON_FRACTION]:
        try:
            observe_lib.n_selected(
                n_neurons,
                fraction,
                study.NEURON_FRACTION,
                "neurons",
                minimum=per_side,
                keep=per_side,
                why=f" (each population is split in two halves of k = {k} principal components)",
            )
        except ValueError as err:
            config_error(axis_key(study.axis(study.NEURON_FRACTION)), err)
    n_held_out = n_neurons - observe_lib.n_selected(
        n_neurons, max(AXIS_VALUES[study.NEURON_FRACTION])
    )
    limits = {
        (n_units, fraction): similarity_lib.max_k(
            n_neurons=n_neurons,
            n_observed=observe_lib.n_selected(n_neurons, fraction),
            n_held_out=n_held_out,
            n_units=n_units,
            n_conditions=gt["emg"]["n_conditions"],
            n_times=gt["emg"]["n_times"],
        )
        for n_units in AXIS_VALUES[study.N_UNITS]
        for fraction in AXIS_VALUES[study.NEURON_FRACTION]
    }
    (n_units, fraction), limit = min(limits.items(), key=lambda item: item[1])
    if k > limit:
        config_error(
            "similarity.ks",
            f"k={k} exceeds the {limit} principal components available with {n_units} model "
            f"units at neuron fraction {fraction} of {n_neurons} SOC neurons (every population, "
            f"split half, model and cross-validation training fold must have k components); "
            f"use ks <= {limit}",
        )


def check_recording():
    """Each swept trial count and smoothing, and a held-out fraction that leaves hint and
    held-out neurons at every neuron fraction; spikes need a whole number of ms per bin.
    """
    if not SPIKES:
        return
    for a in STUDY_AXES:
        if not a.spikes:
            continue
        for value in AXIS_VALUES[a.name]:
            try:
                recording_lib.RecordingParams(
                    **settings(recording_settings(), **{a.setting.split(".")[1]: value})
                )
            except (TypeError, ValueError) as err:
                config_error(axis_key(a), err)
    dt = config["ground_truth"]["emg"]["dt_ms"]
    if dt != int(dt):
        config_error(
            "recording.n_trials",
            f"spikes are drawn on a 1 ms grid: ground_truth.emg.dt_ms must be a whole number of "
            f"ms, got {dt}",
        )
    n_neurons = config["ground_truth"]["soc"]["n_neurons"]
    for fraction in AXIS_VALUES[study.NEURON_FRACTION]:
        try:
            recording_lib.split_held_out(
                range(observe_lib.n_selected(n_neurons, fraction)),
                config["recording"]["held_out_fraction"],
            )
        except ValueError as err:
            config_error(
                "recording.held_out_fraction", f"at neuron fraction {fraction}: {err}"
            )


def similarity_settings():
    return settings(config["similarity"])


check_schema()
# A study records spikes when it sets or sweeps the trial count; else its recording is the
# exact rates, and the spike-recording axes are not among its axes.
SPIKES = (
    setting(study.axis(study.N_TRIALS).setting) is not None
    or config["sweep"].get(study.axis(study.N_TRIALS).sweep) is not None
)
STUDY_AXES = [a for a in study.AXES if SPIKES or not a.spikes]
AXIS_VALUES = {a.name: sweep_values(a) for a in STUDY_AXES}
check_parameters()
check_sweep()
check_recording()

STUDY = config["study"]
RESULTS = f"results/{STUDY}"
LOGS = f"logs/{STUDY}"
BENCHMARKS = f"{RESULTS}/benchmarks"
# The observed sample of a run is drawn from its seed alone, for every fraction at once.
OBSERVATION_AXES = (study.GROUND_TRUTH_SEED, study.MUSCLE_FRACTION, study.SEED)
UNHINTED = [m.name for m in study.MODELS if not m.hinted]
HINTED = [m.name for m in study.MODELS if m.hinted]
# Wildcard patterns of the two kinds of model, and the wildcard constraints of every axis.
NUMBER = {int: r"\d+", float: r"\d+\.\d+|\d+(\.\d+)?e[-+]\d+"}
AXIS_CONSTRAINTS = {a.name: NUMBER[a.kind] for a in STUDY_AXES}


def segments(axes):
    """The ``key~{wildcard}`` path segments of the study's axes among ``axes``, in the
    registry's path order."""
    parts = [f"{a.key}~{{{a.name}}}" for a in STUDY_AXES if a.name in axes]
    return os.path.join(*parts)


def run_dir(axes):
    return f"{RESULTS}/runs/{segments(axes)}"


def model_axes(names):
    """The axes shared by the models ``names`` (one rule trains them all)."""
    axes = {study.model(n).axes for n in names}
    if len(axes) != 1:
        raise ValueError(
            f"models {names} depend on different axes {axes}; give each its rule"
        )
    return axes.pop()


GROUND_TRUTH = f"{RESULTS}/ground_truth/{segments([study.GROUND_TRUTH_SEED])}"
OBSERVATION = f"{run_dir(OBSERVATION_AXES)}/observation.json"
GROUND_TRUTH_FIGURE = f"ground_truth/{segments([study.GROUND_TRUTH_SEED])}"
UNHINTED_DIR = run_dir(model_axes(UNHINTED))
HINTED_DIR = run_dir(model_axes(HINTED))
RUN = run_dir(study.AXIS_NAMES)
# What a run records: its muscles' EMG (per observation) and its neurons (per neuron
# fraction and, with spikes, trial count and smoothing).
EMG_RECORDING = f"{run_dir(OBSERVATION_AXES)}/emg_recording.zarr"
RECORDING_AXES = (
    *OBSERVATION_AXES,
    study.NEURON_FRACTION,
    *(a.name for a in STUDY_AXES if a.spikes),
)
RECORDING = f"{run_dir(RECORDING_AXES)}/recording.zarr"


def log_path(output):
    """The log of a job, mirroring its output path under ``logs/``."""
    return output.replace(RESULTS, LOGS, 1).rsplit(".", 1)[0] + ".log"


def benchmark_path(output):
    return output.replace(RESULTS, BENCHMARKS, 1).rsplit(".", 1)[0] + ".tsv"


def model_path(name):
    """Store of one model, under the directory of the axes it depends on."""
    return f"{run_dir(study.model(name).axes)}/{name}.zarr"


def labels(axis_name):
    axis = study.axis(axis_name)
    return [axis.label(v) for v in AXIS_VALUES[axis_name]]


def runs(pattern, **more):
    """``pattern`` for every combination of the sweep axes it names (and of ``more``)."""
    names = [a for a in AXIS_VALUES if f"{{{a}}}" in pattern]
    return expand(pattern, **{a: labels(a) for a in names}, **more)


def run_axes(wildcards):
    """The axis values a job's wildcards name, typed, as a job parameter."""
    return {
        a.name: a.kind(wildcards[a.name])
        for a in STUDY_AXES
        if a.name in wildcards.keys()
    }


def section_params(section, wildcards):
    """A config section's settings, with those its job's axes sweep taken from its path."""
    values = run_axes(wildcards)
    swept = {
        a.setting.split(".")[1]: values[a.name]
        for a in STUDY_AXES
        if a.name in values and a.setting and a.setting.split(".")[0] == section
    }
    return settings(config[section], **swept)


def recording_params(wildcards):
    return section_params("recording", wildcards)


def model_params(wildcards):
    """Training settings of one model, with the swept ones from its path. The hint gain
    reaches the hinted models only, so sweeping it never retrains FF or the floor."""
    params = section_params("models", wildcards)
    if not study.model(wildcards.model).hinted:
        params.pop(study.HINT_GAIN)
    return params


def run_models(wildcards):
    """Every model store a run compares."""
    return [model_path(m).format(**wildcards) for m in study.MODEL_NAMES]


def held_out_fraction():
    """The neurons unobserved at the largest swept fraction form the fixed held-out set."""
    return max(AXIS_VALUES[study.NEURON_FRACTION])


# ------------------------------------------------------------------------------------------
# Library inputs, derived from what each script imports


LIB = Path(hintforce.__file__).parent.resolve()
if LIB.is_relative_to(Path.cwd().resolve()):
    LIB = LIB.relative_to(Path.cwd().resolve())
# Modules that decide how a job runs (its log and BLAS threads), never what it computes:
# editing them reruns nothing.
RUNTIME_MODULES = {"jobs"}


def module_file(name):
    """The source of library module ``name`` (dotted, relative to ``hintforce``; ``""`` is the
    package itself), or None when no such module exists."""
    path = LIB.joinpath(*name.split(".")) if name else LIB
    if path.is_dir():
        return path / "__init__.py"
    path = path.with_suffix(".py")
    return path if path.exists() else None


def with_parents(name):
    """``name`` and the packages whose ``__init__`` importing it runs: "a.b" -> "", "a", "a.b"."""
    parts = name.split(".") if name else []
    return {".".join(parts[:i]) for i in range(len(parts) + 1)}


def imported_modules(path):
    """The hintforce modules a Python file imports (``from hintforce import x``,
    ``from hintforce.x import y``, ``import hintforce.x``), with the packages importing each
    runs the ``__init__`` of (the library itself, and e.g. ``similarity`` for
    ``hintforce.similarity.engine``)."""
    found = set()
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "hintforce":
                continue
            dotted = ".".join(parts[1:])
            found |= with_parents(dotted)
            for alias in node.names:
                child = f"{dotted}.{alias.name}" if dotted else alias.name
                if module_file(child) is not None:
                    found |= with_parents(child)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("hintforce."):
                    found |= with_parents(alias.name.split(".", 1)[1])
    return found


def lib(script):
    """Library sources the results of ``scripts/<script>.py`` depend on: the modules it
    imports, directly or through other library modules. Editing one reruns the rule."""
    todo = sorted(imported_modules(SCRIPTS / f"{script}.py"))
    seen = set()
    while todo:
        name = todo.pop()
        if name in seen or name in RUNTIME_MODULES:
            continue
        seen.add(name)
        todo.extend(imported_modules(module_file(name)))
    return sorted(str(module_file(m)) for m in seen)


# ------------------------------------------------------------------------------------------
# Final outputs


def swept_axes():
    """Axes with more than one value: each gets a figure of similarity against it."""
    return [a for a in AXIS_VALUES if len(AXIS_VALUES[a]) > 1 and a != study.SEED]


def example_run_axes():
    """The run the example figures show: the first value of every axis."""
    return {a: values[0] for a, values in AXIS_VALUES.items()}


def example_run_labels():
    """The example run's path labels (the first value of every axis)."""
    return {a: labels(a)[0] for a in AXIS_VALUES}


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
    names = ["model_outputs", "trajectories", "cca_spectra", "headline", "mechanism"]
    names += [f"similarity_vs_{a}" for a in swept_axes()]
    if len(AXIS_VALUES[study.HINT_GAIN]) > 1:
        names.append("hint_gain_tradeoff")
    if task_lib.Task(**task_settings()).held_out.size:
        names.append("generalisation")
    if SPIKES:
        names.append("recording")
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
