"""One run's mechanism rows (``dynamics.csv``): the SOC and every model, run freely past the
end of its trial and measured alike, and each model's dynamical similarity to the SOC.

* **Trajectories.** Each network is run from its own start over its whole trial and then
  ``free_run_ms`` further with no input: the SOC from its fitted ``x0`` at movement onset
  (:func:`hintforce.gain.simulate`, the gain fit's own integrator, sampled on the bin grid),
  each model from ``x = 0`` through its preparatory period (:func:`hintforce.force.trajectory`,
  the evaluation's own code path). The trial is the task's window: movement, then rest.
* **Mechanism measures** (:func:`hintforce.mechanism.measure`) from those states: the return to
  rest over the free run's last ``mechanism.rest_window_ms``, the local linear dynamics at the
  movement's last state and at rest, the transient amplification at rest and the fixed points
  with the input off. The SOC's rows come from its own weights and gains (one system per
  condition) and do not depend on the run: :func:`soc_dynamics` computes them once per circuit
  (its fixed-point starts from the circuit's seed) and every run of the circuit puts them
  first in its table. The models' rows come from ``J``, their fixed-point searches in one
  batch (:func:`hintforce.mechanism.measure_networks`).
* **Dynamical similarity** (:func:`hintforce.dsa.dsa_table`): each model's rates over the window
  against each SOC population's (measure ``dsa_<population>``, radians, no condition), the
  delays and rank chosen on each system's own one-step prediction error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hintforce import dsa, force, gain, mechanism, store, study
from hintforce._validate import check_number
from hintforce.seeding import generator
from hintforce.task import Task

__all__ = [
    "DSA_PREFIX",
    "DynamicsParams",
    "Model",
    "SOC",
    "example_panels",
    "load_model",
    "model_trajectory",
    "read_soc",
    "run_dynamics",
    "soc_dynamics",
    "soc_trajectory",
    "trajectories",
]

#: Measure names of the dynamical similarity to a SOC population: ``dsa_<population>``.
DSA_PREFIX = "dsa_"
COLUMNS = ("model", "measure", "condition", "value")


@dataclass(frozen=True)
class DynamicsParams:
    """Settings of the mechanism rows (config section ``dynamics``).

    Parameters
    ----------
    free_run_ms : float
        Free run past the end of each trial, ms (> 0). Default 2000.
    rest_window_ms : float
        The return to rest is measured over the free run's last ``rest_window_ms``, ms
        (> 0, <= ``free_run_ms``). Default 500.
    slow_s : float
        A mode is slow when its time constant exceeds this, s (> 0). Default 1.
    n_starts : int
        Starts of the fixed-point search per system (>= 1). Default 20.
    """

    free_run_ms: float = 2000.0
    rest_window_ms: float = 500.0
    slow_s: float = 1.0
    n_starts: int = 20

    def __post_init__(self) -> None:
        check_number("free_run_ms", self.free_run_ms, 0.0)
        check_number("rest_window_ms", self.rest_window_ms, 0.0, self.free_run_ms, high_open=False)
        self.mechanism(10.0)

    def mechanism(self, bin_ms: float) -> mechanism.MechanismParams:
        """The measures' parameters on a grid of ``bin_ms``."""
        return mechanism.MechanismParams(
            slow_s=self.slow_s,
            n_starts=self.n_starts,
            rest_window_ms=self.rest_window_ms,
            t_max_s=1e-3 * self.free_run_ms,
            bin_ms=bin_ms,
        )


@dataclass(frozen=True)
class SOC:
    """The fitted ground truth: ``W`` (N, N), ``gains`` (C, N), ``x0`` (N,), its
    :class:`hintforce.gain.GainParams` and its stored ``rates`` (C, T, N) over the movement
    window, Hz, which every simulation of it must reproduce."""

    W: np.ndarray
    gains: np.ndarray
    x0: np.ndarray
    params: gain.GainParams
    rates: np.ndarray


def read_soc(path: str | os.PathLike) -> SOC:
    """The fitted SOC of a ground-truth store ``soc.zarr``."""
    data = store.read_dataset(path, ["W", "gains", "x0", "rates"])
    return SOC(**data, params=gain.GainParams(**store.read_attrs(path)["params"]))


@dataclass(frozen=True)
class Model:
    """A trained model as its store keeps it: the restored fit and its training parameters."""

    fit: force.Fit
    params: force.ForceParams


def load_model(path: str | os.PathLike, n_neurons: int) -> Model:
    """A model store's network, restored with the draws of its run (:func:`force.restore`):
    its task, parameters, seed, observed muscles and hint units from the store's attributes,
    its weights ``J`` and ``W`` from the store; ``n_neurons`` is the SOC's."""
    attrs = store.read_attrs(path)
    data = store.read_dataset(path, ["J", "W", "training_mse"])
    params = force.ForceParams(**attrs["params"])
    fit = force.restore(
        attrs["model"],
        Task(**attrs["task"]),
        params,
        generator(attrs["axes"][study.SEED], "force"),
        force.Network(data["J"], data["W"], data["training_mse"]),
        n_out=len(attrs["muscles"]),
        n_neurons=n_neurons,
        hint_units=attrs["neurons"],
    )
    return Model(fit, params)


def soc_trajectory(soc: SOC, task: Task, free_run_ms: float = 0.0) -> mechanism.Trajectory:
    """The SOC run from its fitted ``x0`` at movement onset over the task's window and
    ``free_run_ms`` past it (:func:`hintforce.gain.simulate`, sampled on the bin grid); its
    movement-window rates must be the stored ones (:func:`hintforce.gain.check_reproduced`)."""
    n_bins = task.n_window + round(free_run_ms / task.bin_ms)
    stride = soc.params.steps_per_bin
    states = gain.simulate(soc.W, soc.gains, soc.x0, soc.params, (n_bins - 1) * stride)
    systems = mechanism.RateSystem.soc(
        soc.W, soc.gains, soc.params.tau_ms, soc.params.r0_hz, soc.params.rmax_hz
    )
    run = mechanism.Trajectory(
        systems, np.ascontiguousarray(states[:, ::stride]), slice(0, task.n_times)
    )
    gain.check_reproduced(soc.params.r0_hz + run.rates()[:, : task.n_times], soc.rates)
    return run


def model_trajectory(model: Model, task: Task, free_run_ms: float) -> mechanism.Trajectory:
    """A model run from ``x = 0`` through its preparatory period, over the task's window and
    ``free_run_ms`` past it, with no input after the preparatory period
    (:func:`hintforce.force.trajectory`)."""
    n_bins = task.n_window + round(free_run_ms / task.bin_ms)
    trials = task.trials(np.arange(task.n_directions))
    net = model.fit.network
    x = force.trajectory(net, trials, model.fit.shared, n_bins, model.params)
    movement = slice(task.n_prep, task.n_prep + task.n_times)
    return mechanism.Trajectory(mechanism.RateSystem.rnn(net.J, model.params.tau_ms), x, movement)


def trajectories(
    soc: SOC, models: Mapping[str, Model], task: Task, free_run_ms: float
) -> dict[str, mechanism.Trajectory]:
    """The SOC (first, as :data:`hintforce.study.CEILING`) and every model run over the task's
    window and ``free_run_ms`` past it."""
    out = {study.CEILING: soc_trajectory(soc, task, free_run_ms)}
    for name, model in models.items():
        out[name] = model_trajectory(model, task, free_run_ms)
    return out


def example_panels(
    runs: Mapping[str, mechanism.Trajectory], task: Task
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """What the mechanism figure draws of one run's :func:`trajectories`: each network's
    Jacobian eigenvalues at rest (s^-1; the SOC's of every condition together), its RMS rate
    deviation from rest over units and conditions at every step from movement onset relative
    to its RMS over the movement window, and the steps' times (ms)."""
    spectra, traces = {}, {}
    for name, run in runs.items():
        spectra[name] = np.concatenate([np.linalg.eigvals(A) for A in run.rest_jacobians()])
        rates = run.rates()[:, run.movement.start :]
        rms = np.sqrt(np.mean(rates**2, axis=(0, 2)))
        traces[name] = rms / np.sqrt(np.mean(rates[:, : task.n_times] ** 2))
    n_steps = len(next(iter(traces.values())))
    return spectra, traces, task.bin_ms * np.arange(n_steps)


def _table(name: str, rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(model=name)[list(COLUMNS)]


def soc_dynamics(
    soc: SOC, task: Task, params: DynamicsParams, rng: np.random.Generator
) -> pd.DataFrame:
    """The SOC's mechanism rows, the reference of every run of its circuit.

    Parameters
    ----------
    soc : SOC
    task : Task
        Its window (movement and rest) is the trial; every direction is measured.
    params : DynamicsParams
    rng : numpy.random.Generator
        The fixed-point starts.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, measure, condition, value``: model :data:`hintforce.study.CEILING`,
        every measure of :data:`hintforce.mechanism.MEASURE_NAMES` per condition, from the
        SOC's own weights and gains (one system per condition).
    """
    run = soc_trajectory(soc, task, params.free_run_ms)
    rows = mechanism.measure(
        run.systems, run.states, run.movement, params.mechanism(task.bin_ms), rng
    )
    return _table(study.CEILING, rows)


def run_dynamics(
    soc: SOC,
    reference: pd.DataFrame,
    models: Mapping[str, Model],
    task: Task,
    populations: Mapping[str, np.ndarray],
    params: DynamicsParams,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The mechanism rows of one run (module docstring).

    Parameters
    ----------
    soc : SOC
    reference : pandas.DataFrame
        The SOC's rows (:func:`soc_dynamics` of the run's circuit), put first.
    models : mapping of name to Model
    task : Task
        Its window (movement and rest) is the trial; every direction is measured.
    populations : mapping of name to ndarray of int
        The SOC populations the dynamical similarity compares with
        (:data:`hintforce.study.POPULATIONS`).
    params : DynamicsParams
    rng : numpy.random.Generator
        Spawned into one generator per model's fixed-point starts (in the given order) and one
        for the similarity's starts.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, measure, condition, value``: the SOC's rows, each model's, every
        measure of :data:`hintforce.mechanism.MEASURE_NAMES` per condition, then each model's
        ``dsa_<population>`` (condition empty).
    """
    runs = {
        name: model_trajectory(model, task, params.free_run_ms) for name, model in models.items()
    }
    generators = rng.spawn(len(runs) + 1)
    tables = mechanism.measure_networks(
        list(runs.values()), params.mechanism(task.bin_ms), generators[:-1]
    )
    windows = {}
    for name, run in runs.items():
        start = run.movement.start
        windows[name] = run.rates()[:, start : start + task.n_window]
    soc_window = soc_trajectory(soc, task).rates()
    targets = {p: soc_window[:, :, idx] for p, idx in populations.items()}
    similarity = dsa.dsa_table(windows, targets, dsa.DSAParams(), generators[-1])
    dsa_rows = pd.DataFrame(
        {
            "model": similarity["source"],
            "measure": DSA_PREFIX + similarity["target"],
            "condition": np.nan,
            "value": similarity["distance"],
        }
    )
    parts = [reference[list(COLUMNS)]]
    parts += [_table(name, rows) for name, rows in zip(runs, tables, strict=True)]
    return pd.concat([*parts, dsa_rows], ignore_index=True)[list(COLUMNS)]
