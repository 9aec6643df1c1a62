"""Running a rule's script in this process, for the in-process tier (tests/test_scripts.py).

A script under ``scripts/`` reads its job from the global ``snakemake`` that Snakemake's
preamble defines, and calls ``main`` only under ``if __name__ == "__main__":`` (Snakemake runs
the script as a program). :func:`run_script` runs it the same way with
:func:`runpy.run_path`, giving it a real :class:`snakemake.iocontainers.Snakemake` built by
:func:`job` and pickled and unpickled as the preamble does, so the script's own unpacking of
``snakemake.input``, ``.params`` etc. is what runs.

A job's config, parameters, wildcards and paths come from the workflow's own sources: the
config files layered as ``--configfile`` layers them and completed by the schema's defaults
(:func:`study_config`), each section's settings from :class:`hintforce.configuration.StudyConfig`
and each path from :class:`hintforce.layout.Layout` (:class:`Study`), as
``workflow/rules/common.smk`` wires them.
"""

from __future__ import annotations

import copy
import pickle
import re
import runpy
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from snakemake.iocontainers import (
    InputFiles,
    Log,
    Namedlist,
    OutputFiles,
    Params,
    ResourceList,
    Snakemake,
    Wildcards,
)
from snakemake.utils import update_config, validate

from hintforce import study
from hintforce.configuration import StudyConfig
from hintforce.layout import Layout

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def load_config(*layers: str | Path | Mapping) -> dict:
    """``config.yaml`` with each layer (a config file relative to the project, or a mapping)
    merged over it as Snakemake merges ``--configfile`` layers, then validated against the
    schema, which fills in its defaults."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for layer in layers:
        if not isinstance(layer, Mapping):
            layer = yaml.safe_load((ROOT / layer).read_text()) or {}
        update_config(config, copy.deepcopy(dict(layer)))
    validate(config, str(SCHEMA))
    return config


def study_config(*layers: str | Path | Mapping) -> StudyConfig:
    """The study of ``config.yaml`` with ``layers`` over it, checked as the workflow checks it
    before any job runs."""
    config = StudyConfig(load_config(*layers))
    config.check()
    return config


def _namedlist(cls: type[Namedlist], items: Mapping[str, Any] | Sequence[Any] | None):
    """A Snakemake named list as a rule builds it: a mapping's values named by its keys, a
    named list of values flattened into the list with the name spanning them (as
    ``models=[...]`` in ``input:``), a sequence unnamed."""
    out = cls()
    if items is None:
        return out
    if not isinstance(items, Mapping):
        out.extend(items)
        return out
    for name, value in items.items():
        if cls in (InputFiles, OutputFiles, Log) and isinstance(value, list | tuple):
            start = len(out)
            out.extend(str(v) for v in value)
            out._set_name(name, start, end=len(out))
        else:
            out.append(str(value) if cls in (InputFiles, OutputFiles, Log) else value)
            out._add_name(name)
    return out


def job(
    *,
    rule: str,
    input: Mapping[str, Any] | Sequence[Any] | None = None,
    output: Mapping[str, Any] | Sequence[Any] | None = None,
    params: Mapping[str, Any] | None = None,
    wildcards: Mapping[str, str] | None = None,
    log: Sequence[Any] | None = None,
    threads: int = 1,
    config: Mapping | None = None,
) -> Snakemake:
    """The ``snakemake`` object a script of rule ``rule`` sees: built like Snakemake's script
    preamble builds it, then through pickle protocol 4 as the preamble sends it."""
    obj = Snakemake(
        _namedlist(InputFiles, input),
        _namedlist(OutputFiles, output),
        _namedlist(Params, params),
        _namedlist(Wildcards, wildcards),
        threads,
        ResourceList(),
        _namedlist(Log, log),
        dict(config or {}),
        rule,
        None,
        str(SCRIPTS),
    )
    return pickle.loads(pickle.dumps(obj, protocol=4))


class ScriptFailed(AssertionError):
    """A script's job failed (:func:`hintforce.jobs.job` exits with its error): the job's
    log is in the message."""


def run_script(name: str, snakemake: Snakemake) -> dict:
    """Run ``scripts/<name>.py`` as Snakemake runs it (``__name__ == "__main__"``, a global
    ``snakemake``); return the module's globals. A job that fails raises
    :class:`ScriptFailed` with its log."""
    try:
        return runpy.run_path(
            str(SCRIPTS / f"{name}.py"), init_globals={"snakemake": snakemake}, run_name="__main__"
        )
    except SystemExit as err:
        logs = [Path(p) for p in snakemake.log if Path(p).is_file()]
        text = "\n".join(p.read_text() for p in logs)
        raise ScriptFailed(f"scripts/{name}.py: {err}\n{text}") from err


def import_script(name: str) -> dict:
    """``scripts/<name>.py`` loaded as a module, not as a program: it must only define."""
    return runpy.run_path(str(SCRIPTS / f"{name}.py"), run_name=f"scripts.{name}")


@dataclass
class Study:
    """One study's jobs under ``root``: its config, and each job's paths, wildcards and axes
    as the workflow's rules derive them."""

    config: StudyConfig
    root: Path

    @cached_property
    def layout(self) -> Layout:
        return Layout(self.config.config["study"], self.config.axes)

    @property
    def raw(self) -> dict:
        """The config (Snakemake's ``config``)."""
        return self.config.config

    def runs(self) -> list[dict[str, int | float]]:
        """Every run: one value of each axis, in the order ``expand`` lists them."""
        combos: list[dict] = [{}]
        for a, values in self.config.values.items():
            combos = [{**c, a: v} for c in combos for v in values]
        return combos

    def path(self, pattern: str, values: Mapping[str, int | float]) -> Path:
        """``pattern`` (a :class:`Layout` path, relative to the project) under ``root``, with
        the axes it names at ``values``."""
        names = self.wildcard_names(pattern)
        path = self.root / self.layout.fill(pattern, {a: values[a] for a in names})
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    @staticmethod
    def wildcard_names(pattern: str) -> list[str]:
        return [n for n in re.findall(r"\{(\w+)\}", pattern) if n in study.AXIS_NAMES]

    def wildcards(self, pattern: str, values: Mapping[str, int | float]) -> dict[str, str]:
        """The wildcards of a job whose output is ``pattern``: each axis it names, as its path
        segment writes it."""
        return {a: study.axis(a).label(values[a]) for a in self.wildcard_names(pattern)}

    def axes(self, pattern: str, values: Mapping[str, int | float]) -> dict[str, int | float]:
        """The ``axes`` parameter of that job (``run_axes(wildcards)``)."""
        return self.layout.axis_values(self.wildcards(pattern, values))

    def log(self, output: Path) -> Path:
        """The job's log, mirroring its output under ``logs/<study>/``."""
        relative = output.relative_to(self.root).as_posix()
        path = self.root / self.layout.log_path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    # -- the workflow's paths ------------------------------------------------------------

    def ground_truth(self, name: str) -> str:
        return f"{self.layout.ground_truth}/{name}"

    def run_file(self, name: str) -> str:
        return f"{self.layout.run}/{name}"

    def table(self, name: str) -> str:
        return f"{self.layout.results}/tables/{name}"

    def figure(self, name: str) -> str:
        return f"{self.layout.results}/figures/{name}.png"


# -- the rules, as workflow/rules/*.smk declares them ------------------------------------------

RULES_DIR = ROOT / "workflow" / "rules"
_HEAD = re.compile(r"^(?:rule (\w+):|use rule (\w+) as (\w+) with:)\s*$")
_SECTION = re.compile(r"^    (\w+):\s*(.*)$")
_NAMED = re.compile(r"^        (\w+)=")


@dataclass(frozen=True)
class Rule:
    """What a rule declares (``workflow/rules/*.smk``, in snakefmt's layout): the names of its
    named inputs, outputs and parameters, whether its input unpacks a function (whose names
    are not written out), its threads and its script's name."""

    name: str
    input: frozenset[str]
    output: frozenset[str]
    params: frozenset[str]
    unpacks: bool
    threads: int
    script: str


def rules() -> dict[str, Rule]:
    """Every rule of the workflow with a ``script:``, by name; ``use rule ... with:`` takes
    the sections it does not give from the rule it uses."""
    blocks: dict[str, dict] = {}
    for smk in sorted(RULES_DIR.glob("*.smk")):
        name, section = None, None
        for line in smk.read_text().splitlines():
            head = _HEAD.match(line)
            if head:
                name = head.group(1) or head.group(3)
                base = {} if head.group(1) else blocks[head.group(2)]
                blocks[name] = {k: (set(v) if isinstance(v, set) else v) for k, v in base.items()}
                section = None
                continue
            if name is None:
                continue
            if line and not line.startswith(" ") and not line.startswith("#"):
                name = None  # the end of the rule (a top-level statement)
                continue
            found = _SECTION.match(line)
            if found:
                section, value = found.groups()
                if section in ("input", "output", "params"):
                    blocks[name][section] = set()
                    blocks[name][f"{section}_unpacks"] = False
                elif section == "threads":
                    blocks[name]["threads"] = int(value)
                continue
            if section == "script" and "scripts/" in line:
                blocks[name]["script"] = Path(line.strip().strip('"')).stem
            elif section in ("input", "output", "params"):
                named = _NAMED.match(line)
                if named:
                    blocks[name][section].add(named.group(1))
                elif line.startswith("        unpack("):
                    blocks[name][f"{section}_unpacks"] = True
    return {
        name: Rule(
            name,
            frozenset(block.get("input", ())),
            frozenset(block.get("output", ())),
            frozenset(block.get("params", ())),
            block.get("input_unpacks", False),
            block.get("threads", 1),
            block["script"],
        )
        for name, block in blocks.items()
        if "script" in block
    }


RULES = rules()


# -- the workflow's jobs, run in this process ------------------------------------------------


def _named(items) -> set[str]:
    return set(items) if isinstance(items, Mapping) else set()


class Pipeline(Study):
    """The workflow's jobs of one study, built on demand like Snakemake's DAG: asking for an
    output (``pipeline.similarity(run)``) first asks for its inputs, runs every job still
    missing, each once, and returns the output's path(s). Each method builds the job of the
    rule it is named after from what that rule declares; :meth:`run` checks the names against
    the rule (:data:`RULES`).

    ``jobs`` lists (rule, first output) of every job run, in order; ``seconds`` the time
    spent in each rule's jobs."""

    def __init__(self, config: StudyConfig, root: Path, ground_truth: Pipeline | None = None):
        """With ``ground_truth``, another study of the same circuits whose ground-truth
        stores this one reads instead of building its own (as a copy of them would be)."""
        super().__init__(config, root)
        self.jobs: list[tuple[str, Path]] = []
        self._done: dict[tuple[str, Path], Any] = {}
        #: Seconds spent in each rule's jobs.
        self.seconds: dict[str, float] = {}
        if ground_truth is not None:
            same = (
                ground_truth.raw["ground_truth"] == self.raw["ground_truth"]
                and ground_truth.config.values[study.GROUND_TRUTH_SEED]
                == self.config.values[study.GROUND_TRUTH_SEED]
            )
            if not same:
                raise ValueError("the studies build different circuits")
        self.shared = ground_truth

    # -- running a job -----------------------------------------------------------------

    def run(self, rule_name, *, input=None, output, params=None, wildcards=None, log, result):
        """Run rule ``rule_name``'s script on this job once; return ``result``."""
        first = next(iter(output.values())) if isinstance(output, Mapping) else output[0]
        key = (rule_name, Path(first))
        if key in self._done:
            return self._done[key]
        rule = RULES[rule_name]
        given = {"input": _named(input), "output": _named(output), "params": set(params or {})}
        for section, names in given.items():
            declared = set(getattr(rule, section))
            if section == "input" and rule.unpacks:
                assert declared <= names, f"rule {rule_name}: {section} lacks {declared - names}"
            else:
                assert names == declared, (
                    f"rule {rule_name} declares {section} {sorted(declared)}, the tier's job "
                    f"gives {sorted(names)}"
                )
        snakemake = job(
            rule=rule_name,
            input=input,
            output=output,
            params=params,
            wildcards=wildcards,
            log=[log],
            threads=rule.threads,
            config=self.raw,
        )
        start = time.perf_counter()
        run_script(rule.script, snakemake)
        self.seconds[rule_name] = self.seconds.get(rule_name, 0.0) + time.perf_counter() - start
        self.jobs.append(key)
        self._done[key] = result
        return result

    def _simple(self, rule_name, pattern, values, *, input=None, params=None, **more):
        """A job with one output ``pattern`` (its wildcards the axes it names), logged where
        ``log_path`` puts it."""
        out = self.path(pattern, values)
        return self.run(
            rule_name,
            input=input,
            output=[out],
            params=params,
            wildcards=self.wildcards(pattern, values) | more,
            log=self.log(out),
            result=out,
        )

    def settings(self, section_path: str) -> dict:
        """``settings(config[...])`` of a config section (``"ground_truth.emg"``)."""
        section = self.raw
        for key in section_path.split("."):
            section = section[key]
        return dict(sorted(section.items()))

    @property
    def task(self) -> dict:
        return self.config.task_settings()

    @property
    def k(self) -> int:
        return max(self.raw["similarity"]["ks"])

    def example_run(self) -> dict:
        return self.config.first_values()

    # -- ground_truth.smk --------------------------------------------------------------

    def emg(self, values) -> Path:
        if self.shared is not None:
            return self.shared.emg(values)
        pattern = self.ground_truth("emg.zarr")
        params = {"axes": self.axes(pattern, values), "emg": self.settings("ground_truth.emg")}
        return self._simple("emg", pattern, values, params=params)

    def soc_connectivity(self, values) -> Path:
        if self.shared is not None:
            return self.shared.soc_connectivity(values)
        pattern = self.ground_truth("connectivity.zarr")
        params = {"axes": self.axes(pattern, values), "soc": self.settings("ground_truth.soc")}
        return self._simple("soc_connectivity", pattern, values, params=params)

    def soc_gains(self, values) -> Path:
        if self.shared is not None:
            return self.shared.soc_gains(values)
        inputs = {"emg": self.emg(values), "connectivity": self.soc_connectivity(values)}
        return self._simple(
            "soc_gains",
            self.ground_truth("soc.zarr"),
            values,
            input=inputs,
            params={"gain": self.config.gain_settings()},
        )

    def ground_truth_figure(self, values) -> Path:
        figure = self.figure(self.layout.ground_truth_figure)
        out = self.path(figure, values)
        log = self.path(f"{self.layout.logs}/figures/{self.layout.ground_truth_figure}.log", values)
        return self.run(
            "ground_truth_figure",
            input={"emg": self.emg(values), "soc": self.soc_gains(values)},
            output=[out],
            params={"axes": self.axes(figure, values)},
            wildcards=self.wildcards(figure, values),
            log=log,
            result=out,
        )

    # -- models.smk --------------------------------------------------------------------

    def observe(self, values) -> Path:
        pattern = self.layout.observation
        gt = self.raw["ground_truth"]
        params = {
            "axes": self.axes(pattern, values),
            "n_neurons": gt["soc"]["n_neurons"],
            "n_muscles": gt["emg"]["n_muscles"],
        }
        return self._simple("observe", pattern, values, params=params)

    def record_emg(self, values) -> Path:
        pattern = self.layout.emg_recording
        params = {
            "axes": self.axes(pattern, values),
            "emg_noise": self.raw["recording"]["emg_noise"],
            "task": self.task,
        }
        inputs = {"emg": self.emg(values), "observation": self.observe(values)}
        return self._simple("record_emg", pattern, values, input=inputs, params=params)

    def record_neurons(self, values) -> Path:
        pattern = self.layout.recording
        axes = self.axes(pattern, values)
        params = {
            "axes": axes,
            "recording": self.config.section_params("recording", axes),
            "task": self.task,
        }
        inputs = {"soc": self.soc_gains(values), "observation": self.observe(values)}
        return self._simple("record_neurons", pattern, values, input=inputs, params=params)

    def train(self, model: str, values) -> Path:
        pattern = self.layout.model_path(model)
        axes = self.axes(pattern, values)
        inputs = {"emg": self.emg(values), "emg_recording": self.record_emg(values)}
        hinted = study.model(model).hinted
        if hinted:
            inputs["recording"] = self.record_neurons(values)
        params = {
            "axes": axes,
            "force": self.config.model_params(model, axes),
            "task": self.task,
        }
        return self._simple(
            "train_hinted" if hinted else "train",
            pattern,
            values,
            input=inputs,
            params=params,
            model=model,
        )

    def models(self, values) -> list[Path]:
        """``run_models``: every model store the run compares."""
        return [self.train(m, values) for m in study.MODEL_NAMES]

    # -- similarity.smk ----------------------------------------------------------------

    def similarity(self, values) -> dict[str, Path]:
        pattern = self.run_file("similarity.csv")
        outputs = {
            "zarr": self.path(self.run_file("similarity.zarr"), values),
            "csv": self.path(pattern, values),
            "fit": self.path(self.run_file("fit.csv"), values),
        }
        inputs = {
            "soc": self.soc_gains(values),
            "observation": self.observe(values),
            "recording": self.record_neurons(values),
            "models": self.models(values),
        }
        params = {
            "axes": self.axes(pattern, values),
            "held_out_fraction": self.config.held_out_fraction(),
            "models": study.MODEL_NAMES,
            "similarity": self.config.similarity_settings(),
            "task": self.task,
        }
        return self.run(
            "similarity",
            input=inputs,
            output=outputs,
            params=params,
            wildcards=self.wildcards(pattern, values),
            log=self.log(outputs["csv"]),
            result=outputs,
        )

    def soc_dynamics(self, values) -> Path:
        pattern = self.ground_truth("dynamics.csv")
        params = {
            "axes": self.axes(pattern, values),
            "dynamics": self.settings("dynamics"),
            "task": self.task,
        }
        inputs = {"soc": self.soc_gains(values)}
        return self._simple("soc_dynamics", pattern, values, input=inputs, params=params)

    def dynamics(self, values) -> Path:
        pattern = self.run_file("dynamics.csv")
        inputs = {
            "soc": self.soc_gains(values),
            "reference": self.soc_dynamics(values),
            "observation": self.observe(values),
            "models": self.models(values),
        }
        params = {
            "axes": self.axes(pattern, values),
            "held_out_fraction": self.config.held_out_fraction(),
            "models": study.MODEL_NAMES,
            "dynamics": self.settings("dynamics"),
            "task": self.task,
        }
        return self._simple("dynamics", pattern, values, input=inputs, params=params)

    # -- aggregate.smk -----------------------------------------------------------------

    def _aggregate(self, rule_name, log: str, *, input, output, params=None, wildcards=None):
        """A job of the whole study: its outputs ``output`` (name -> path pattern, or one path
        pattern for an unnamed output), its log under ``logs/<study>/``."""
        if isinstance(output, str):
            single = self.path(output, {})
            outputs, result = [single], single
        else:
            outputs = result = {n: self.path(p, {}) for n, p in output.items()}
        return self.run(
            rule_name,
            input=input,
            output=outputs,
            params=params,
            wildcards=wildcards,
            log=self.path(f"{self.layout.logs}/{log}", {}),
            result=result,
        )

    def tables(self) -> dict[str, Path]:
        per_run = [self.similarity(r) for r in self.runs()]
        return self._aggregate(
            "tables",
            "tables/tables.log",
            input={
                "similarity_csv": [s["csv"] for s in per_run],
                "similarity_zarr": [s["zarr"] for s in per_run],
                "fit": [s["fit"] for s in per_run],
            },
            output={
                "similarity": self.table("similarity.csv"),
                "cube": self.table("similarity.zarr"),
                "fit": self.table("fit.csv"),
            },
            params={
                "axis_values": self.config.values,
                "models": study.MODEL_NAMES,
                "min_fit_r2": self.raw["statistics"]["min_fit_r2"],
                "allow_failed": self.raw["sweep"]["allow_failed_runs"],
            },
        )

    def dynamics_tables(self) -> dict[str, Path]:
        return self._aggregate(
            "dynamics_tables",
            "tables/dynamics_tables.log",
            input={
                "dynamics": [self.dynamics(r) for r in self.runs()],
                "fit": self.tables()["fit"],
            },
            output={
                "dynamics": self.table("dynamics.csv"),
                "summary": self.table("dynamics_summary.csv"),
                "tests": self.table("dynamics_tests.csv"),
            },
        )

    def example_run_inputs(self) -> dict:
        first = self.example_run()
        return {
            "emg": self.emg(first),
            "soc": self.soc_gains(first),
            "observation": self.observe(first),
            "models": self.models(first),
        }

    def mechanism_report(self) -> dict[str, Path]:
        tables = self.dynamics_tables()
        return self._aggregate(
            "mechanism_report",
            "figures/mechanism.log",
            input={
                **self.example_run_inputs(),
                "summary": tables["summary"],
                "tests": tables["tests"],
            },
            output={"html": self.table("mechanism.html"), "figure": self.figure("mechanism")},
            params={
                "axes": self.example_run(),
                "models": study.MODEL_NAMES,
                "task": self.task,
                "dynamics": self.settings("dynamics"),
            },
        )

    def statistics(self) -> dict[str, Path]:
        tables = self.tables()
        return self._aggregate(
            "statistics",
            "tables/statistics.log",
            input={"similarity": tables["similarity"], "fit": tables["fit"]},
            output={"summary": self.table("summary.csv"), "paired": self.table("paired_tests.csv")},
        )

    def recording_tables(self) -> dict:
        """``recording_tables``: with a spike recording, the co-smoothing tables."""
        if not self.config.spikes:
            return {}
        tables = self.co_smoothing_tables()
        return {"co_smoothing": tables["summary"], "validity": tables["validity"]}

    def findings(self) -> dict[str, Path]:
        stats = self.statistics()
        dynamics = self.dynamics_tables()
        return self._aggregate(
            "findings",
            "tables/findings.log",
            input={
                **self.recording_tables(),
                "intro": ROOT / "workflow" / "report" / "workflow.rst",
                "summary": stats["summary"],
                "paired": stats["paired"],
                "fit": self.tables()["fit"],
                "dynamics_summary": dynamics["summary"],
                "dynamics_tests": dynamics["tests"],
            },
            output={"page": self.table("findings.html"), "landing": self.table("answer.rst")},
            params={"k": self.k},
        )

    def summary_figures(self) -> dict[str, Path]:
        return self._aggregate(
            "summary_figures",
            "figures/summary.log",
            input={"summary": self.statistics()["summary"], "cube": self.tables()["cube"]},
            output={"headline": self.figure("headline"), "spectra": self.figure("cca_spectra")},
            params={"k": self.k},
        )

    def axis_figure(self, axis: str) -> Path:
        return self._aggregate(
            "axis_figure",
            f"figures/similarity_vs_{axis}.log",
            input={"summary": self.statistics()["summary"]},
            output=self.figure(f"similarity_vs_{axis}"),
            params={"k": self.k},
            wildcards={"axis": axis},
        )

    def tradeoff_figure(self) -> Path:
        return self._aggregate(
            "tradeoff_figure",
            "figures/hint_gain_tradeoff.log",
            input={"summary": self.statistics()["summary"]},
            output=self.figure("hint_gain_tradeoff"),
            params={"k": self.k},
        )

    def example_run_figures(self) -> dict[str, Path]:
        return self._aggregate(
            "example_run_figures",
            "figures/example_run.log",
            input=self.example_run_inputs(),
            output={
                "outputs": self.figure("model_outputs"),
                "trajectories": self.figure("trajectories"),
            },
            params={
                "axes": self.example_run(),
                "models": study.MODEL_NAMES,
                "k": self.k,
                "task": self.task,
            },
        )

    def generalisation_figure(self) -> Path:
        return self._aggregate(
            "generalisation_figure",
            "figures/generalisation.log",
            input={"summary": self.statistics()["summary"]},
            output=self.figure("generalisation"),
            params={"k": self.k},
        )

    # -- recording.smk -----------------------------------------------------------------

    def co_smoothing(self, values) -> Path:
        pattern = self.run_file("co_smoothing.csv")
        axes = self.axes(pattern, values)
        params = {
            "axes": axes,
            "models": study.MODEL_NAMES,
            "recording": self.config.section_params("recording", axes),
            "task": self.task,
        }
        inputs = {"recording": self.record_neurons(values), "models": self.models(values)}
        return self._simple("co_smoothing", pattern, values, input=inputs, params=params)

    def nwb(self, values) -> Path:
        pattern = self.layout.recording.replace(".zarr", ".nwb")
        segments = self.layout.segments(self.layout.names(study.RECORDING_STAGES))
        identifier = f"{self.raw['study']} {segments.format(**self.wildcards(pattern, values))}"
        inputs = {
            "recording": self.record_neurons(values),
            "emg_recording": self.record_emg(values),
        }
        params = {"identifier": identifier, "task": self.task}
        return self._simple("nwb", pattern, values, input=inputs, params=params)

    def co_smoothing_tables(self) -> dict[str, Path]:
        tables = self.tables()
        return self._aggregate(
            "co_smoothing_tables",
            "tables/co_smoothing.log",
            input={
                "runs": [self.co_smoothing(r) for r in self.runs()],
                "similarity": tables["similarity"],
                "fit": tables["fit"],
            },
            output={
                "table": self.table("co_smoothing.csv"),
                "summary": self.table("co_smoothing_summary.csv"),
                "validity": self.table("co_smoothing_validity.csv"),
            },
            params={"k": self.k},
        )

    def recording_figure(self) -> Path:
        first = self.example_run()
        stats = self.statistics()
        return self._aggregate(
            "recording_figure",
            "figures/recording.log",
            input={
                "soc": self.soc_gains(first),
                "recording": self.record_neurons(first),
                "summary": stats["summary"],
                "paired": stats["paired"],
                "co_smoothing": self.co_smoothing_tables()["summary"],
            },
            output=self.figure("recording"),
            params={"k": self.k, "task": self.task},
        )
