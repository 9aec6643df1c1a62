"""Bad configs: each is refused before any job runs, with one line naming the key and what is
allowed, and leaves results/ as it was; a refusal that suggests a bound suggests one that is
accepted."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import yaml
from support.reliability import console, snapshot
from support.workflow import SMALL, make_project, snakemake

from hintforce import study

pytestmark = pytest.mark.workflow


@dataclass(frozen=True)
class BadConfig:
    key: str  # the offending key, dotted
    allowed: str  # a piece of the message stating what is allowed
    layer: dict | None = None  # layered over the small config with --configfile ...
    replace: object = None  # or: a function editing config.yaml itself (missing keys)


NAN, INF = float("nan"), float("inf")


def _drop(section: str):
    def change(config):
        del config[section]

    return change


def _rename(old: str, new: str):
    def change(config):
        config[new] = config.pop(old)

    return change


def _sweep(key: str, values: list, allowed: str) -> BadConfig:
    return BadConfig(f"sweep.{key}", allowed, {"sweep": {key: values}})


EMPTY = "at least one value"
REPEATED = "must not repeat"

BAD_CONFIGS = {
    "seeds_empty": _sweep("seeds", [], EMPTY),
    "seeds_duplicated": _sweep("seeds", [1, 1], REPEATED),
    "seed_not_an_integer": _sweep("seeds", [1.5], "integer"),
    # Every sweep axis refuses an empty list and a repeated value.
    "ground_truth_seeds_empty": _sweep("ground_truth_seeds", [], EMPTY),
    "muscle_fractions_empty": _sweep("muscle_fractions", [], EMPTY),
    "neuron_fractions_empty": _sweep("neuron_fractions", [], EMPTY),
    "hint_gains_empty": _sweep("hint_gains", [], EMPTY),
    "n_units_empty": _sweep("n_units", [], EMPTY),
    "ground_truth_seeds_duplicated": _sweep("ground_truth_seeds", [7, 3, 7], REPEATED),
    "muscle_fractions_duplicated": _sweep("muscle_fractions", [0.4, 0.4], REPEATED),
    "neuron_fractions_duplicated": _sweep("neuron_fractions", [0.3, 0.5, 0.3], REPEATED),
    "hint_gains_duplicated": _sweep("hint_gains", [0.3, 0.3], REPEATED),
    "n_units_duplicated": _sweep("n_units", [80, 80], REPEATED),
    # 80 and 80.0 are one value (one path segment, one run).
    "n_units_duplicated_as_a_float": _sweep("n_units", [80, 80.0], REPEATED),
    "fraction_zero": _sweep("neuron_fractions", [0], "minimum of 0"),
    "fraction_above_one": _sweep("neuron_fractions", [1.5], "maximum of 1"),
    "fraction_rounding_to_no_neuron": _sweep("neuron_fractions", [0.001], "selects 0 of 60"),
    # Observing every neuron leaves no test set: refused for that, before any check of k
    # (which an empty held-out set would fail too).
    "fraction_observing_every_neuron": _sweep("neuron_fractions", [1.0], "leaves none unobserved"),
    "fraction_rounding_to_every_neuron": _sweep(
        "neuron_fractions", [0.3, 0.995], "leaves none unobserved"
    ),
    "muscle_fraction_rounding_to_no_muscle": BadConfig(
        "observation.muscle_fraction", "selects 0 of 5", {"observation": {"muscle_fraction": 0.05}}
    ),
    "swept_muscle_fraction_rounding_to_no_muscle": _sweep(
        "muscle_fractions", [0.4, 0.08], "selects 0 of 5"
    ),
    "muscle_fraction_above_one": BadConfig(
        "observation.muscle_fraction", "maximum of 1", {"observation": {"muscle_fraction": 1.2}}
    ),
    "swept_muscle_fraction_zero": _sweep("muscle_fractions", [0.0], "minimum of 0"),
    "no_model_units": _sweep("n_units", [0], "minimum of 1"),
    "negative_swept_model_units": _sweep("n_units", [80, -3], "minimum of 1"),
    "negative_hint_gain": _sweep("hint_gains", [-0.1], "minimum of 0"),
    "negative_ground_truth_seed": _sweep("ground_truth_seeds", [-1], "minimum of 0"),
    "allow_failed_runs_not_boolean": BadConfig(
        "sweep.allow_failed_runs", "boolean", {"sweep": {"allow_failed_runs": "yes"}}
    ),
    "unknown_sweep_axis": BadConfig("sweep.gains", "allowed keys", {"sweep": {"gains": [1.0]}}),
    # A study name is a directory name: no path separators, nothing hidden or empty.
    "study_name_with_a_slash": BadConfig("study", "does not match", {"study": "a/../b"}),
    "study_name_hidden": BadConfig("study", "does not match", {"study": ".hidden"}),
    "study_name_empty": BadConfig("study", "does not match", {"study": ""}),
    "unknown_top_level_key": BadConfig("foo", "allowed keys", {"foo": 1}),
    "misspelled_model_setting": BadConfig(
        "models.n_unit", "allowed keys", {"models": {"n_unit": 50}}
    ),
    "misspelled_stage_name": BadConfig("model", "allowed keys", {"model": {"n_units": 50}}),
    "k_above_the_soc_components": BadConfig(
        "similarity.ks", "principal components available", {"similarity": {"ks": [50]}}
    ),
    "k_above_the_model_units": BadConfig(
        "similarity.ks", "4 model units", {"models": {"n_units": 4}}
    ),
    "k_above_the_smallest_swept_model": BadConfig(
        "similarity.ks", "4 model units", {"sweep": {"n_units": [80, 4]}}
    ),
    "no_permutations": BadConfig(
        "similarity.n_permutations", "minimum of 1", {"similarity": {"n_permutations": 0}}
    ),
    "fit_gate_above_one": BadConfig(
        "statistics.min_fit_r2", "maximum of 1", {"statistics": {"min_fit_r2": 1.5}}
    ),
    "dt_not_below_tau": BadConfig("models.dt_ms", "< tau_ms", {"models": {"tau_ms": 10.0}}),
    "network_dt_not_the_emg_dt": BadConfig(
        "models.dt_ms", "must equal ground_truth.emg.dt_ms", {"models": {"dt_ms": 5.0}}
    ),
    "g_not_a_number": BadConfig("models.g", ">= 0", {"models": {"g": NAN}}),
    "tau_infinite": BadConfig("models.tau_ms", "finite", {"models": {"tau_ms": INF}}),
    "envelope_ramp_infinite": BadConfig(
        "ground_truth.emg.envelope_ramp_ms",
        "finite",
        {"ground_truth": {"emg": {"envelope_ramp_ms": INF}}},
    ),
    "no_soc_neurons": BadConfig(
        "ground_truth.soc.n_neurons", "minimum of 2", {"ground_truth": {"soc": {"n_neurons": 0}}}
    ),
    "negative_model_units": BadConfig(
        "models.n_units", "minimum of 1", {"models": {"n_units": -3}}
    ),
    "fractional_model_units": BadConfig("models.n_units", "integer", {"models": {"n_units": 2.5}}),
    "baseline_low_above_high": BadConfig(
        "ground_truth.emg.baseline_low",
        "<= baseline_high",
        {"ground_truth": {"emg": {"baseline_low": 0.2, "baseline_high": 0.1}}},
    ),
    # The task: a one-hot input cannot encode an unseen direction; the small study's 4
    # directions leave too few to train when any is held out; a rest window is whole bins.
    "held_out_directions_with_a_one_hot_input": BadConfig(
        "task.held_out_directions",
        "use input: angle",
        {"task": {"held_out_directions": "interleaved"}},
    ),
    "held_out_directions_leaving_too_few_to_train": BadConfig(
        "task.held_out_directions",
        "at least 4 must train",
        {"task": {"input": "angle", "held_out_directions": [2]}},
    ),
    "held_out_direction_out_of_range": BadConfig(
        "task.held_out_directions",
        "directions are 0..3",
        {"task": {"input": "angle", "held_out_directions": [7]}},
    ),
    "held_out_directions_unknown_rule": BadConfig(
        "task.held_out_directions", "interleaved", {"task": {"held_out_directions": "odd"}}
    ),
    "unknown_input": BadConfig("task.input", "angle", {"task": {"input": "polar"}}),
    "negative_rest": BadConfig("task.rest_ms", "minimum of 0", {"task": {"rest_ms": -10.0}}),
    "rest_not_whole_bins": BadConfig(
        "task.rest_ms", "multiple of the bin width", {"task": {"rest_ms": 15.0}}
    ),
    "prep_ms_under_models": BadConfig(
        "models.prep_ms", "allowed keys", {"models": {"prep_ms": 100.0}}
    ),
    # The recording: a trial count is an integer >= 2 (two halves), a smoothing positive, a
    # held-out fraction leaves hint and held-out neurons (18 recorded in the small study).
    "negative_trials": BadConfig(
        "recording.n_trials", "null or integer >= 2", {"recording": {"n_trials": -5}}
    ),
    "fractional_trials": BadConfig(
        "recording.n_trials", "null or integer >= 2", {"recording": {"n_trials": 2.5}}
    ),
    "one_trial_cannot_be_halved": BadConfig(
        "recording.n_trials", "null or integer >= 2", {"recording": {"n_trials": 1}}
    ),
    "swept_trials_below_two": _sweep("n_trials", [10, 1], "minimum of 2"),
    "zero_smoothing": BadConfig(
        "recording.smoothing_ms", "minimum of 0", {"recording": {"smoothing_ms": 0.0}}
    ),
    "swept_negative_smoothing": _sweep("smoothing_ms", [20.0, -5.0], "minimum of 0"),
    "held_out_fraction_leaving_no_hint": BadConfig(
        "recording.held_out_fraction",
        "leaves no hint neuron among 18",
        {"recording": {"n_trials": 4, "held_out_fraction": 0.99}},
    ),
    "held_out_fraction_leaving_no_held_out_neuron": BadConfig(
        "recording.held_out_fraction",
        "leaves no held-out neuron among 18",
        {"recording": {"n_trials": 4, "held_out_fraction": 0.01}},
    ),
    "emg_noise_without_spikes": BadConfig(
        "recording", "needs a spike recording", {"recording": {"emg_noise": 0.1}}
    ),
    "missing_stage": BadConfig("observation", "required", replace=_drop("observation")),
    "misspelled_stage_in_config_yaml": BadConfig(
        "similarty", "allowed keys", replace=_rename("similarity", "similarty")
    ),
}
MISSING_CONFIG = "tests/no-such-config.yaml"


@dataclass
class BadRun:
    proc: subprocess.CompletedProcess
    before: dict
    after: dict


@pytest.fixture(scope="module")
def bad_config_runs(reference, tmp_path_factory) -> dict[str, BadRun]:
    """Every bad config, against the finished small study (two at a time). Configs layered with
    --configfile run in the study itself; configs that lack a key replace config.yaml, so they
    run in copies of it (copies are not up to date, but nothing may run anyway)."""
    study = reference.parallel
    jobs = {}
    for name, bad in BAD_CONFIGS.items():
        if bad.layer is not None:
            path = study / "tests" / f"bad_{name}.yaml"
            path.write_text(yaml.safe_dump(bad.layer))
            jobs[name] = (study, ["--cores", "1", "--configfile", SMALL, f"tests/{path.name}"])
        else:
            copy = tmp_path_factory.mktemp(name) / "study"
            shutil.copytree(study, copy, symlinks=True)
            config = yaml.safe_load((copy / "config.yaml").read_text())
            bad.replace(config)
            (copy / "config.yaml").write_text(yaml.safe_dump(config))
            jobs[name] = (copy, ["--cores", "1"])
    jobs["missing_config_file"] = (study, ["--cores", "1", "--configfile", SMALL, MISSING_CONFIG])
    before = {project: snapshot(project / "results") for project, _ in jobs.values()}
    assert before[study]  # the finished study

    with ThreadPoolExecutor(max_workers=2) as pool:
        procs = dict(
            zip(
                jobs,
                pool.map(lambda job: snakemake(job[0], *job[1], check=False), jobs.values()),
                strict=True,
            )
        )
    after = {project: snapshot(project / "results") for project in before}
    return {
        name: BadRun(procs[name], before[project], after[project])
        for name, (project, _) in jobs.items()
    }


def names_key(line: str, key: str) -> bool:
    """Whether an "invalid config: <where>: <message>" line names the dotted ``key``: as its
    key path (possibly with an index, e.g. sweep.seeds.0), or as a section plus the rest of
    the key in the message (library checks: "models: dt_ms must be < tau_ms ...")."""
    match = re.fullmatch(r"invalid config: (top level|[\w.]+): (.+)", line)
    if match is None:
        return False
    where, message = match.groups()
    if where == key or where.startswith(key + "."):
        return True
    prefix = "" if where == "top level" else where + "."
    rest = key[len(prefix) :]
    return key.startswith(prefix) and re.search(rf"\b{re.escape(rest)}\b", message) is not None


def test_names_key_reads_the_key_path_or_the_section_and_the_message():
    assert names_key(
        "invalid config: sweep.seeds.0: -1 is less than the minimum of 0", "sweep.seeds"
    )
    assert names_key("invalid config: models: dt_ms must be < tau_ms=10.0", "models.dt_ms")
    assert names_key("invalid config: top level: unknown key(s) ['model']; allowed", "model")
    assert not names_key("invalid config: models: unknown key(s) ['models']", "model")
    assert not names_key("invalid config: sweep.neuron_fractions: x", "observation.x")
    assert not names_key("some other line", "sweep")


@pytest.mark.parametrize(
    "name",
    [n for n in BAD_CONFIGS],
)
def test_a_bad_config_stops_before_any_job_with_one_line_naming_the_key(name, bad_config_runs):
    bad, run = BAD_CONFIGS[name], bad_config_runs[name]
    assert run.proc.returncode != 0
    assert "Building DAG of jobs" not in console(run.proc)  # stopped while parsing
    assert "Traceback" not in console(run.proc)
    lines = [line for line in run.proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("invalid config:")]
    assert len(errors) == 1 and errors[0] == lines[-1], run.proc.stderr
    assert names_key(errors[0], bad.key), errors[0]
    assert bad.allowed in errors[0]
    assert run.after == run.before


def test_at_least_twenty_distinct_bad_configs_are_checked():
    assert len(BAD_CONFIGS) >= 20
    assert len({json.dumps(b.layer, sort_keys=True) for b in BAD_CONFIGS.values() if b.layer}) == (
        sum(b.layer is not None for b in BAD_CONFIGS.values())
    )


def test_a_missing_config_file_fails_naming_the_file(bad_config_runs):
    # Snakemake reads --configfile before the Snakefile, so the workflow cannot turn this into
    # its one-line message: the most it gets is Snakemake's traceback, whose last line names
    # the file. Nothing runs and results/ stays as it was.
    run = bad_config_runs["missing_config_file"]
    assert run.proc.returncode != 0
    last = run.proc.stderr.strip().splitlines()[-1]
    assert MISSING_CONFIG in last and "No such file" in last
    assert "Building DAG of jobs" not in console(run.proc)
    assert run.after == run.before


# ----------------------------------------------------------------------------------------------
# a refusal's suggested bound


@dataclass(frozen=True)
class Refusal:
    key: str  # the dotted key refused, a list of values (a sweep axis, similarity.ks)
    value: float  # its one value, refused
    more: dict = field(default_factory=dict)  # the rest of the layer, kept when the value changes

    def layer(self, value: float) -> dict:
        """The config layer with ``value`` as the key's one value."""
        layer: dict = {self.key.split(".")[-1]: [value]}
        for section in reversed(self.key.split(".")[:-1]):
            layer = {section: layer}
        return _merged(self.more, layer)


#: Configs refused with a suggested bound ("use <name> >= <bound>" or "<= <bound>").
REFUSALS = {
    # 0.08 x 6 muscles rounds to 0: the suggestion must not be 1/6 rounded down (selects none).
    "too_few_muscles": Refusal(
        "sweep.muscle_fractions", 0.08, {"ground_truth": {"emg": {"n_muscles": 6}}}
    ),
    "too_few_neurons": Refusal("sweep.neuron_fractions", 0.001),
    "every_neuron": Refusal("sweep.neuron_fractions", 1.0),
    "k_too_large": Refusal("similarity.ks", 50),
}


def _merged(a: dict, b: dict) -> dict:
    """``b`` layered over ``a``, section by section."""
    out = dict(a)
    for key, value in b.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and key in out else value
    return out


@dataclass
class Suggestion:
    refused: subprocess.CompletedProcess
    bound: tuple[str, str, int | float] | None  # (name, ">=" or "<=", value) as the message says
    accepted: subprocess.CompletedProcess | None  # the dry run with the suggested value


def _suggested_bound(proc: subprocess.CompletedProcess) -> tuple[str, str, int | float] | None:
    found = re.search(r"use (\w+) ([<>]=) ([-+.\deE]+)\)?$", proc.stderr.strip())
    if found is None:
        return None
    name, direction, text = found.groups()
    return name, direction, int(text) if re.fullmatch(r"[-+]?\d+", text) else float(text)


def _names(name: str, key: str) -> bool:
    """Whether the ``name`` of a suggestion is the config ``key`` or the axis it sweeps."""
    last = key.split(".")[-1]
    return name == last or any(a.name == name and a.sweep == last for a in study.AXES)


@pytest.fixture(scope="module")
def suggestions(tmp_path_factory) -> dict[str, Suggestion]:
    """Each refusal dry-run in a fresh copy of the project, then (when its message suggests a
    bound) the same config with the suggested value."""
    project = make_project(tmp_path_factory.mktemp("suggestions") / "study")
    args = ["--dry-run", "--cores", "1", "--configfile", SMALL]
    out = {}
    for name, case in REFUSALS.items():
        refused_config = project / "tests" / f"refused_{name}.yaml"
        refused_config.write_text(yaml.safe_dump(case.layer(case.value)))
        refused = snakemake(project, *args, f"tests/{refused_config.name}", check=False)
        bound = _suggested_bound(refused)
        accepted = None
        if bound is not None:
            accepted_config = project / "tests" / f"accepted_{name}.yaml"
            accepted_config.write_text(yaml.safe_dump(case.layer(bound[2])))
            accepted = snakemake(project, *args, f"tests/{accepted_config.name}", check=False)
        out[name] = Suggestion(refused, bound, accepted)
    return out


@pytest.mark.parametrize("name", list(REFUSALS))
def test_a_suggested_bound_is_itself_accepted(name, suggestions):
    case, run = REFUSALS[name], suggestions[name]
    lines = [line for line in run.refused.stderr.splitlines() if line.strip()]
    assert run.refused.returncode != 0
    assert lines and lines[-1].startswith(f"invalid config: {case.key}: "), lines[-1:]
    assert run.bound is not None, f"no suggested bound in: {lines[-1]}"
    suggested, direction, bound = run.bound
    assert _names(suggested, case.key), lines[-1]
    # The suggestion lies on the accepted side of the refused value ...
    assert bound > case.value if direction == ">=" else bound < case.value
    # ... and a config with it passes every check: the dry run plans the study.
    assert run.accepted is not None
    text = console(run.accepted)
    assert run.accepted.returncode == 0, f"{lines[-1]}\nthen, with {bound:g}:\n{text[-1500:]}"
    assert "invalid config" not in text
    planned = re.findall(r"^\s+output: (.+)$", text, flags=re.M)
    axis = next((a for a in study.AXES if f"sweep.{a.sweep}" == case.key), None)
    if axis is not None:  # the runs of the suggested value
        assert any(f"/{axis.key}~{axis.label(bound)}/" in out for out in planned), planned[:5]
    else:
        assert planned
