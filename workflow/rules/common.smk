# Config validation and every input/param helper of the workflow.
import sys
from pathlib import Path

import hintforce
import yaml
from jsonschema import Draft202012Validator
from snakemake.utils import validate

from hintforce import emg as emg_lib
from hintforce import force as force_lib
from hintforce import gain as gain_lib
from hintforce import observe as observe_lib
from hintforce import soc as soc_lib

SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"


def config_error(where, message):
    """Stop before any job runs with one line naming the offending key."""
    sys.exit(f"invalid config: {where}: {message}")


def settings(section, **more):
    """A config section with its keys sorted, as a job parameter. Snakemake compares
    parameters as text; the order in which a config file lists keys must not cause reruns.
    """
    return dict(sorted({**section, **more}.items()))


def gain_params():
    """The gain fit's settings; its sampling grid is the EMG's."""
    gt = config["ground_truth"]
    return settings(gt["gain"], bin_ms=gt["emg"]["dt_ms"])


def check_config(config):
    """Schema first (types, ranges, unknown keys), then the library's own parameter checks."""
    schema = yaml.safe_load(SCHEMA.read_text())
    errors = list(Draft202012Validator(schema).iter_errors(config))
    if errors:
        err = min(errors, key=lambda e: len(e.absolute_path))
        where = ".".join(str(p) for p in err.absolute_path) or "top level"
        if err.validator == "additionalProperties":
            allowed = ", ".join(sorted(err.schema.get("properties", {})))
            unknown = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            config_error(where, f"unknown key(s) {unknown}; allowed keys: {allowed}")
        config_error(where, err.message)
    validate(config, str(SCHEMA))  # fills in the schema's defaults
    gt = config["ground_truth"]
    try:
        emg_lib.EMGParams(**gt["emg"])
    except ValueError as err:
        config_error("ground_truth.emg", err)
    try:
        soc_lib.SOCParams(**gt["soc"])
    except ValueError as err:
        config_error("ground_truth.soc", err)
    try:
        gain_lib.GainParams(**gain_params())
    except ValueError as err:
        config_error("ground_truth.gain", err)
    try:
        force_lib.ForceParams(**config["models"])
    except ValueError as err:
        config_error("models", err)
    if config["models"]["dt_ms"] != gt["emg"]["dt_ms"]:
        config_error(
            "models.dt_ms",
            f"must equal ground_truth.emg.dt_ms={gt['emg']['dt_ms']} (targets are sampled on "
            f"the network's time step), got {config['models']['dt_ms']}",
        )
    n_neurons = gt["soc"]["n_neurons"]
    n_muscles = gt["emg"]["n_muscles"]
    k_max = max(config["similarity"]["ks"])
    n_samples = gt["emg"]["n_conditions"] * gt["emg"]["n_times"]
    try:
        observe_lib.n_selected(
            n_muscles,
            config["observation"]["muscle_fraction"],
            "muscle_fraction",
            "muscles",
        )
    except ValueError as err:
        config_error("observation.muscle_fraction", err)
    for fraction in config["sweep"]["neuron_fractions"]:
        try:
            n_observed = observe_lib.n_selected(
                n_neurons, fraction, "neuron_fraction", "neurons"
            )
        except ValueError as err:
            config_error("sweep.neuron_fractions", err)
        limit = min(
            n_observed // 2,
            (n_neurons - n_observed) // 2,
            config["models"]["n_units"],
            n_samples,
        )
        if k_max > limit:
            config_error(
                "similarity.ks",
                f"k={k_max} exceeds the {limit} principal components available at "
                f"neuron fraction {fraction} (smallest of half the observed and half the unobserved "
                f"of {n_neurons} SOC neurons (the ceiling compares halves), {config['models']['n_units']} model units and "
                f"{n_samples} samples)",
            )


check_config(config)

FRACTIONS = [str(f) for f in config["sweep"]["neuron_fractions"]]
SEEDS = [int(s) for s in config["sweep"]["seeds"]]
MODELS = ["ff", "ffh", "floor"]
RUN = "results/runs/nf~{nf}/seed~{seed}"
# The run shown in the example figures: first fraction, first seed.
EXAMPLE = RUN.format(nf=FRACTIONS[0], seed=SEEDS[0])
# The library's sources, relative to the working directory when the package lives inside it
# (as in a clone with an editable install), so that moving the project reruns nothing.
LIB = Path(hintforce.__file__).parent.resolve()
if LIB.is_relative_to(Path.cwd().resolve()):
    LIB = LIB.relative_to(Path.cwd().resolve())


def lib(*modules):
    """Library sources a rule's results depend on: editing one reruns the rule."""
    return [str(LIB / f"{m}.py") for m in ("store", *modules)]


def runs(pattern, **more):
    """``pattern`` (relative to a run directory) for every (fraction, seed) of the sweep
    and every value of any further wildcards given in ``more``."""
    return expand(f"{RUN}/{pattern}", nf=FRACTIONS, seed=SEEDS, **more)


def model_params(wildcards):
    """Training settings of one model: the hint gain reaches FFH only, so changing it
    reruns FFH and what follows, never FF or the floor."""
    params = settings(config["models"])
    if wildcards.model != "ffh":
        params.pop("hint_gain")
    return params


def figures():
    names = [
        "ground_truth",
        "model_outputs",
        "cca_spectra",
        "cca_means",
        "trajectories",
    ]
    if len(FRACTIONS) > 1:
        names.append("cca_vs_fraction")
    return expand("results/figures/{name}.png", name=names)


def final_outputs():
    return [
        "results/tables/similarity.csv",
        "results/tables/similarity.zarr",
        "results/tables/fit.csv",
        "results/tables/summary.csv",
        "results/tables/paired_tests.csv",
        *figures(),
    ]
