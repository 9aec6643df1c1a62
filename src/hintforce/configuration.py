"""A study's config as the workflow reads it: its axes and their values, each job's settings,
and the checks that refuse a bad config before any job runs.

The workflow (``workflow/rules/common.smk``) validates the config against its schema
(``workflow/schemas/config.schema.yaml``, which also fills in the defaults), then builds one
:class:`StudyConfig` and calls :meth:`StudyConfig.check`. Every refusal is a
:class:`ConfigError`: one line naming the offending key and what is allowed.

The axes come from the registry (:data:`hintforce.study.AXES`): an axis's values are its list
under ``sweep:`` or else its single setting, and a swept setting reaches a job through the
job's path (:meth:`StudyConfig.section_params`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from hintforce import dynamics, emg, force, gain, observe, recording, similarity, soc, study, task
from hintforce.study import Axis

__all__ = ["ConfigError", "StudyConfig", "schema_error", "settings"]


class ConfigError(ValueError):
    """A config the study refuses: ``str(err)`` reads ``where: message``."""

    def __init__(self, where: str, message: object):
        super().__init__(f"{where}: {message}")
        self.where = where


def settings(section: Mapping, **more) -> dict:
    """A config section with its keys sorted, as a job parameter. Snakemake compares
    parameters as text; the order in which a config file lists keys must not cause reruns."""
    return dict(sorted({**section, **more}.items()))


def _schema_choice(alternative: Mapping) -> str:
    """One alternative of a ``oneOf`` in words: its values, or the type of its items."""
    if "enum" in alternative:
        return ", ".join(str(v) for v in alternative["enum"])
    if alternative.get("type") == "array":
        return f"a list of {alternative.get('items', {}).get('type', 'value')}s"
    if "minimum" in alternative:
        return f"{alternative.get('type', 'a number')} >= {alternative['minimum']}"
    return alternative.get("type", "a value")


def schema_error(config: Mapping, schema: Mapping) -> ConfigError | None:
    """The config's first schema violation (the one nearest the top), in words, or None.

    Unknown keys are named with the allowed ones, and a ``oneOf`` lists its alternatives."""
    from jsonschema import Draft202012Validator

    errors = list(Draft202012Validator(schema).iter_errors(config))
    if not errors:
        return None
    err = min(errors, key=lambda e: len(e.absolute_path))
    where = ".".join(str(p) for p in err.absolute_path) or "top level"
    if err.validator == "additionalProperties":
        allowed = ", ".join(sorted(err.schema.get("properties", {})))
        unknown = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return ConfigError(where, f"unknown key(s) {unknown}; allowed keys: {allowed}")
    if err.validator == "uniqueItems":
        return ConfigError(where, f"values must not repeat, got {err.instance}")
    if err.validator == "minItems":
        return ConfigError(where, "must list at least one value, got an empty list")
    if err.validator == "oneOf":
        choices = " or ".join(_schema_choice(s) for s in err.schema["oneOf"])
        return ConfigError(where, f"got {err.instance!r}; allowed: {choices}")
    return ConfigError(where, err.message)


def _parameters(where: str, params: type, values: Mapping) -> None:
    """``params(**values)``, its refusal as a :class:`ConfigError` at ``where``."""
    try:
        params(**values)
    except (TypeError, ValueError) as err:
        raise ConfigError(where, err) from None


@dataclass(frozen=True)
class StudyConfig:
    """A study's config, schema-validated with its defaults filled in.

    Attributes
    ----------
    config : mapping
        The config (Snakemake's ``config``).
    registry : tuple of Axis
        The axes a study may have (:data:`hintforce.study.AXES`).
    """

    config: Mapping
    registry: tuple[Axis, ...] = study.AXES

    # -- the study's axes ------------------------------------------------------------------

    def setting(self, path: str):
        """The config value at a dotted ``section.key`` path."""
        section, key = path.split(".")
        return self.config[section][key]

    @cached_property
    def spikes(self) -> bool:
        """Whether the study records spikes: it sets or sweeps the trial count. Else its
        recording is the exact rates, and the spike-recording axes are not among its axes."""
        n_trials = next(a for a in self.registry if a.name == study.N_TRIALS)
        return (
            self.setting(n_trials.setting) is not None
            or self.config["sweep"].get(n_trials.sweep) is not None
        )

    @cached_property
    def axes(self) -> tuple[Axis, ...]:
        """The study's axes, in path order."""
        return tuple(a for a in self.registry if self.spikes or not a.spikes)

    @cached_property
    def values(self) -> dict[str, list]:
        """Each axis's values: its list under ``sweep:``, else its single setting."""
        values = {}
        for a in self.axes:
            listed = self.config["sweep"].get(a.sweep)
            if listed is None:
                listed = [self.setting(a.setting)]
            values[a.name] = [a.kind(v) for v in listed]
        return values

    def labels(self, name: str) -> list[str]:
        """An axis's values as its path segments write them."""
        a = next(a for a in self.axes if a.name == name)
        return [a.label(v) for v in self.values[name]]

    def swept(self, a: Axis) -> bool:
        return self.config["sweep"].get(a.sweep) is not None

    def axis_key(self, a: Axis) -> str:
        """The config key an axis's values came from: its sweep list, else its setting."""
        return f"sweep.{a.sweep}" if self.swept(a) or a.setting is None else a.setting

    def swept_axes(self) -> list[str]:
        """Axes with more than one value but the seed: each gets a figure against it."""
        return [a for a, v in self.values.items() if len(v) > 1 and a != study.SEED]

    def first_values(self) -> dict[str, int | float]:
        """The example run: the first value of every axis."""
        return {a: v[0] for a, v in self.values.items()}

    # -- each job's settings ---------------------------------------------------------------

    def gain_settings(self) -> dict:
        """The gain fit's settings; its sampling grid is the EMG's."""
        gt = self.config["ground_truth"]
        return settings(gt["gain"], bin_ms=gt["emg"]["dt_ms"])

    def task_settings(self) -> dict:
        """The task's settings, with its directions and movement window from the EMG's grid."""
        grid = self.config["ground_truth"]["emg"]
        return settings(
            self.config["task"],
            n_directions=grid["n_conditions"],
            n_times=grid["n_times"],
            bin_ms=grid["dt_ms"],
        )

    def similarity_settings(self) -> dict:
        return settings(self.config["similarity"])

    def recording_settings(self) -> dict:
        """The recording's settings, with the first value of a swept trial count or
        smoothing (each swept value is checked by :meth:`check`)."""
        return self.section_params("recording", self.first_values(), swept_only=True)

    def section_params(
        self, section: str, axis_values: Mapping[str, object], swept_only: bool = False
    ) -> dict:
        """A config section's settings, with those its job's axes sweep (``axis_values``:
        axis -> value, e.g. from the job's wildcards) taken from there. With ``swept_only``,
        an axis not listed under ``sweep:`` keeps its setting."""
        swept = {
            a.setting.split(".")[1]: a.kind(axis_values[a.name])
            for a in self.axes
            if a.name in axis_values
            and a.setting
            and a.setting.split(".")[0] == section
            and (self.swept(a) or not swept_only)
        }
        return settings(self.config[section], **swept)

    def model_params(self, name: str, axis_values: Mapping[str, object]) -> dict:
        """Training settings of one model, with the swept ones from its path. A setting of an
        axis the model does not depend on (the hint gain of a model without hints) does not
        reach it, so sweeping it never retrains that model."""
        params = self.section_params("models", axis_values)
        own = set(study.model(name).axes_among(self.axes))
        for a in self.axes:
            if a.setting and a.setting.split(".")[0] == "models" and a.name not in own:
                params.pop(a.setting.split(".")[1])
        return params

    def held_out_fraction(self) -> float:
        """The neurons unobserved at the largest swept fraction form the fixed held-out set."""
        return max(self.values[study.NEURON_FRACTION])

    def figure_names(self) -> list[str]:
        """The study's figures (besides one per circuit): the example run's and the headline,
        one per swept axis, and those of the hint-gain trade-off, the held-out directions and
        the recording when the study has them."""
        names = ["model_outputs", "trajectories", "cca_spectra", "headline", "mechanism"]
        names += [f"similarity_vs_{a}" for a in self.swept_axes()]
        if len(self.values[study.HINT_GAIN]) > 1:
            names.append("hint_gain_tradeoff")
        if task.Task(**self.task_settings()).held_out.size:
            names.append("generalisation")
        if self.spikes:
            names.append("recording")
        return names

    # -- the checks ------------------------------------------------------------------------

    def check(self) -> None:
        """Every check of the study's settings; raises :class:`ConfigError` on the first."""
        self.check_parameters()
        self.check_sweep()
        self.check_recording()

    def check_parameters(self) -> None:
        """The library's own checks of every section, one parameter class per section."""
        gt = self.config["ground_truth"]
        models = settings(self.config["models"], n_units=self.values[study.N_UNITS][0])
        for where, params, values in (
            ("ground_truth.emg", emg.EMGParams, gt["emg"]),
            ("ground_truth.soc", soc.SOCParams, gt["soc"]),
            ("ground_truth.gain", gain.GainParams, self.gain_settings()),
            ("models", force.ForceParams, models),
            ("task", task.Task, self.task_settings()),
            ("similarity", similarity.SimilarityParams, self.similarity_settings()),
            ("dynamics", dynamics.DynamicsParams, self.config["dynamics"]),
            ("recording", recording.RecordingParams, self.recording_settings()),
        ):
            _parameters(where, params, values)
        _parameters("task", task.check_trainable, {"task": task.Task(**self.task_settings())})
        if self.config["models"]["dt_ms"] != gt["emg"]["dt_ms"]:
            raise ConfigError(
                "models.dt_ms",
                f"must equal ground_truth.emg.dt_ms={gt['emg']['dt_ms']} (targets are sampled "
                f"on the network's time step), got {self.config['models']['dt_ms']}",
            )

    def _fraction(self, name: str, n: int, what: str, **bounds) -> None:
        """Each value of a fraction axis observes enough of ``n`` (``observe.n_selected``)."""
        a = study.axis(name)
        for fraction in self.values[name]:
            try:
                observe.n_selected(n, fraction, name, what, **bounds)
            except ValueError as err:
                raise ConfigError(self.axis_key(a), err) from None

    def check_sweep(self) -> None:
        """Each axis's values: fractions that observe enough neurons (and muscles) and leave
        enough unobserved for the largest k, then the largest k the whole sweep supports.
        Every bound a refusal suggests is one that passes."""
        gt = self.config["ground_truth"]
        n_neurons = gt["soc"]["n_neurons"]
        k = max(self.config["similarity"]["ks"])
        self._fraction(study.MUSCLE_FRACTION, gt["emg"]["n_muscles"], "muscles")
        # Each population is split in two halves of k components: with room for that, a
        # fraction must observe 2k neurons and leave 2k unobserved; without, k itself is
        # refused below.
        per_side = 2 * k if 4 * k <= n_neurons else 1
        why = f" (each population is split in two halves of k = {k} principal components)"
        self._fraction(
            study.NEURON_FRACTION, n_neurons, "neurons", minimum=per_side, keep=per_side, why=why
        )
        fractions = self.values[study.NEURON_FRACTION]
        n_held_out = n_neurons - observe.n_selected(n_neurons, max(fractions))
        limits = {
            (n_units, fraction): similarity.max_k(
                n_neurons=n_neurons,
                n_observed=observe.n_selected(n_neurons, fraction),
                n_held_out=n_held_out,
                n_units=n_units,
                n_conditions=gt["emg"]["n_conditions"],
                n_times=gt["emg"]["n_times"],
            )
            for n_units in self.values[study.N_UNITS]
            for fraction in fractions
        }
        (n_units, fraction), limit = min(limits.items(), key=lambda item: item[1])
        if k > limit:
            raise ConfigError(
                "similarity.ks",
                f"k={k} exceeds the {limit} principal components available with {n_units} "
                f"model units at neuron fraction {fraction} of {n_neurons} SOC neurons (every "
                f"population, split half, model and cross-validation training fold must have k "
                f"components); use ks <= {limit}",
            )

    def check_recording(self) -> None:
        """Each swept trial count and smoothing, and a held-out fraction that leaves hint and
        held-out neurons at every neuron fraction; spikes need a whole number of ms per bin."""
        if not self.spikes:
            return
        for a in (a for a in self.axes if a.spikes):
            key = a.setting.split(".")[1]
            for value in self.values[a.name]:
                values = settings(self.recording_settings(), **{key: value})
                _parameters(self.axis_key(a), recording.RecordingParams, values)
        dt = self.config["ground_truth"]["emg"]["dt_ms"]
        if dt != int(dt):
            raise ConfigError(
                "recording.n_trials",
                f"spikes are drawn on a 1 ms grid: ground_truth.emg.dt_ms must be a whole "
                f"number of ms, got {dt}",
            )
        n_neurons = self.config["ground_truth"]["soc"]["n_neurons"]
        for fraction in self.values[study.NEURON_FRACTION]:
            n_observed = observe.n_selected(n_neurons, fraction)
            try:
                recording.split_held_out(
                    range(n_observed), self.config["recording"]["held_out_fraction"]
                )
            except ValueError as err:
                raise ConfigError(
                    "recording.held_out_fraction", f"at neuron fraction {fraction}: {err}"
                ) from None
