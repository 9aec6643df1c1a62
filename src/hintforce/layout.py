"""Where a study's results live: the path layout of ``results/<study>/``, and the wildcards.

Every artefact of a run lives in a directory of ``key~value`` segments, one per axis it depends
on, in the registry's path order (:data:`hintforce.study.AXES`): a circuit's stores under
``ground_truth/gt~<seed>/``, a run seed's observation under ``runs/gt~/mf~/seed~/``, a model
under the axes its training depends on (:attr:`hintforce.study.Model.axes`), a run's results
under every axis. Logs and benchmarks mirror the results under ``logs/<study>/`` and
``results/<study>/benchmarks/``.

:class:`Layout` gives each path as a Snakemake pattern (``{axis}`` wildcards); :meth:`Layout.fill`
puts values in. The workflow rules and the tests take every path from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hintforce import study
from hintforce.study import Axis

__all__ = ["NUMBER", "Layout"]

#: The wildcard pattern of an axis's values, by its kind (an int, or a float as ``repr``
#: writes it).
NUMBER = {int: r"\d+", float: r"\d+\.\d+|\d+(\.\d+)?e[-+]\d+"}


@dataclass(frozen=True)
class Layout:
    """The paths of one study.

    Attributes
    ----------
    study : str
        The study's name: its results live in ``results/<study>/``.
    axes : tuple of Axis
        The study's axes, in path order.
    """

    study: str
    axes: tuple[Axis, ...]

    @property
    def results(self) -> str:
        return f"results/{self.study}"

    @property
    def logs(self) -> str:
        return f"logs/{self.study}"

    @property
    def benchmarks(self) -> str:
        return f"{self.results}/benchmarks"

    def names(self, stages: Iterable[str]) -> tuple[str, ...]:
        """The study's axes of ``stages`` (:data:`hintforce.study.STAGES`)."""
        return study.axes_of(tuple(stages), self.axes)

    def segments(self, names: Iterable[str]) -> str:
        """The ``key~{wildcard}`` segments of the study's axes among ``names``, in path
        order."""
        chosen = set(names)
        return "/".join(f"{a.key}~{{{a.name}}}" for a in self.axes if a.name in chosen)

    def run_dir(self, names: Iterable[str]) -> str:
        return f"{self.results}/runs/{self.segments(names)}"

    @property
    def ground_truth(self) -> str:
        """The directory of a circuit's stores."""
        return f"{self.results}/ground_truth/{self.segments(self.names(['circuit']))}"

    @property
    def ground_truth_figure(self) -> str:
        """A circuit's figure, under ``figures/``, without its suffix."""
        return f"ground_truth/{self.segments(self.names(['circuit']))}"

    @property
    def observation(self) -> str:
        """A run seed's observed sample (for every fraction at once)."""
        return f"{self.run_dir(self.names(study.OBSERVATION_STAGES))}/observation.json"

    @property
    def emg_recording(self) -> str:
        """What a run seed records of its muscles."""
        return f"{self.run_dir(self.names(study.OBSERVATION_STAGES))}/emg_recording.zarr"

    @property
    def recording(self) -> str:
        """What a run records of its neurons (per neuron fraction and, with spikes, trial
        count and smoothing)."""
        return f"{self.run_dir(self.names(study.RECORDING_STAGES))}/recording.zarr"

    @property
    def run(self) -> str:
        """A run's directory: every axis."""
        return self.run_dir(a.name for a in self.axes)

    def model_dir(self, names: Iterable[str]) -> str:
        """The directory of the models ``names`` (one rule trains them all): the axes they
        depend on, which must be the same."""
        axes = {study.model(n).axes_among(self.axes) for n in names}
        if len(axes) != 1:
            raise ValueError(f"models {list(names)} depend on different axes {axes}")
        return self.run_dir(axes.pop())

    def model_path(self, name: str) -> str:
        """Store of one model, under the directory of the axes it depends on."""
        return f"{self.model_dir([name])}/{name}.zarr"

    def log_path(self, output: str) -> str:
        """The log of a job, mirroring its output path under ``logs/<study>/``."""
        return self._mirror(output, self.logs) + ".log"

    def benchmark_path(self, output: str) -> str:
        """The benchmark of a job, mirroring its output path under the benchmarks."""
        return self._mirror(output, self.benchmarks) + ".tsv"

    def _mirror(self, output: str, root: str) -> str:
        if not output.startswith(self.results + "/"):
            raise ValueError(f"{output} is not under {self.results}")
        return root + output[len(self.results) :].rsplit(".", 1)[0]

    def constraints(self) -> dict[str, str]:
        """The wildcard constraint of every axis."""
        return {a.name: NUMBER[a.kind] for a in self.axes}

    def axis_values(self, wildcards: Mapping[str, str]) -> dict[str, int | float]:
        """The axis values a job's wildcards name, typed."""
        return {a.name: a.kind(wildcards[a.name]) for a in self.axes if a.name in wildcards}

    def fill(self, pattern: str, values: Mapping[str, int | float]) -> str:
        """``pattern`` with the axes' ``values`` written as their path segments write them
        (other wildcards must not remain)."""
        unknown = set(values) - {a.name for a in self.axes}
        if unknown:
            raise ValueError(f"unknown axes {sorted(unknown)}")
        return pattern.format(
            **{a.name: a.label(values[a.name]) for a in self.axes if a.name in values}
        )
