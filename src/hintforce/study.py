"""The study's names, in one place: sweep axes, models, reference rows and table columns.

Rules, scripts, tables, statistics, plots and tests take every name from here, so adding a
sweep axis or a model is one entry below plus its science.

* An **axis** is a setting a study may sweep. Every combination of the axes' values is a
  *run*; a model is trained only for the axes it depends on (:attr:`Model.axes`).
* A **model** is a network trained (or not) on a run's observations; its similarity to the
  ground truth is what the study measures.
* A **reference row** is scored like a model but is made from the ground truth itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from hintforce import hints
from hintforce.hints import Hints

__all__ = [
    "AXES",
    "NETWORK_STAGES",
    "OBSERVATION_STAGES",
    "RECORDING_STAGES",
    "STAGES",
    "axes_of",
    "FF",
    "FFH",
    "FFH_MEAN",
    "FFH_SHUFFLED",
    "FLOOR",
    "GROUND_TRUTH_SEED",
    "HINT_GAIN",
    "MUSCLE_FRACTION",
    "NEURON_FRACTION",
    "N_TRIALS",
    "N_UNITS",
    "SEED",
    "SMOOTHING_MS",
    "AXIS_NAMES",
    "BASELINE",
    "CEILING",
    "CO_SMOOTHING_COLUMNS",
    "COMPONENTS",
    "CONTRASTS",
    "DIRECTIONS",
    "DIRECTION_SETS",
    "DYNAMICS_COLUMNS",
    "FIT_COLUMNS",
    "HELD_OUT",
    "HELD_OUT_DIRECTIONS",
    "METRICS",
    "MODELS",
    "MODEL_NAMES",
    "PAIRED_COLUMNS",
    "POPULATIONS",
    "REFERENCES",
    "RELIABILITY",
    "ROW_KEYS",
    "SIMILARITY_COLUMNS",
    "SIMILARITY_VALUES",
    "SMOOTHING_BASELINE",
    "SPECTRUM_KEYS",
    "STARTS",
    "SUMMARY_COLUMNS",
    "TRIAL_SPLIT",
    "VALIDATIONS",
    "Axis",
    "Metric",
    "Model",
    "axis",
    "axes_in",
    "metric",
    "model",
    "hinted_models",
]


#: What an axis changes first, in the order of the study's stages. An artefact depends on the
#: axes of the stages it is built from:
#:
#: * ``circuit``: the ground truth (EMG draw, SOC, gain fit);
#: * ``observation``: which muscles and neurons are observed and the run's random draws; the
#:   recorded EMG (built from circuit and observation);
#: * ``network``: the trained networks (every model is built from circuit, observation and
#:   network);
#: * ``recording``: the neural recording (built from circuit, observation and recording; the
#:   hinted models read it);
#: * ``hints``: how the hints reach a hinted network (the hinted models only).
STAGES: tuple[str, ...] = ("circuit", "observation", "network", "recording", "hints")
#: Stages each artefact of a run is built from.
OBSERVATION_STAGES: tuple[str, ...] = ("circuit", "observation")
RECORDING_STAGES: tuple[str, ...] = (*OBSERVATION_STAGES, "recording")
NETWORK_STAGES: tuple[str, ...] = (*OBSERVATION_STAGES, "network")


@dataclass(frozen=True)
class Axis:
    """A sweepable setting of the study.

    Attributes
    ----------
    name : str
        Table column, cube dimension, Snakemake wildcard and ``observation.json`` key.
    key : str
        Path segment key: a run's directories read ``key~value``.
    sweep : str
        Key of the list of values under ``sweep:`` in the config.
    setting : str or None
        The single-valued config setting the axis overrides when it is swept
        (``section.key``), or None for an axis that exists only as a sweep.
    kind : type
        ``int`` or ``float``: how values are parsed from paths and written to tables.
    doc : str
        One line for the config documentation and the report.
    stage : str
        The first of :data:`STAGES` the axis changes: which artefacts (and so which jobs)
        depend on it.
    spikes : bool
        True for an axis of the spike recording: it exists in a study only when the
        recording draws spikes (``recording.n_trials`` set or swept). A study of exact rates
        has no such axis in its paths, wildcards or tables.
    """

    name: str
    key: str
    sweep: str
    setting: str | None
    kind: type
    doc: str
    stage: str
    spikes: bool = False

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(
                f"axis {self.name!r}: stage must be one of {STAGES}, got {self.stage!r}"
            )
        if self.kind not in (int, float):
            raise ValueError(f"axis {self.name!r}: kind must be int or float, got {self.kind!r}")

    def label(self, value: int | float) -> str:
        """The value as it appears in paths and wildcards (``repr`` of an int or float)."""
        return repr(self.kind(value))


#: Each axis's name, for code that treats one axis specially (its science).
GROUND_TRUTH_SEED = "ground_truth_seed"
MUSCLE_FRACTION = "muscle_fraction"
SEED = "seed"
N_UNITS = "n_units"
NEURON_FRACTION = "neuron_fraction"
N_TRIALS = "n_trials"
SMOOTHING_MS = "smoothing_ms"
HINT_GAIN = "hint_gain"

#: The sweep axes, in path order: a run's directory reads ``gt~/mf~/seed~/n~/nf~/hg~`` (with
#: ``nt~/sm~`` before ``hg~`` in a study of spikes), and every artefact's directory holds the
#: segments of the axes it depends on, in this order.
AXES: tuple[Axis, ...] = (
    Axis(
        GROUND_TRUTH_SEED,
        "gt",
        "ground_truth_seeds",
        "ground_truth.seed",
        int,
        "ground-truth circuit: one EMG draw, SOC and gain fit per seed",
        "circuit",
    ),
    Axis(
        MUSCLE_FRACTION,
        "mf",
        "muscle_fractions",
        "observation.muscle_fraction",
        float,
        "fraction of the muscles observed (the trained outputs)",
        "observation",
    ),
    Axis(
        SEED,
        "seed",
        "seeds",
        None,
        int,
        "run seed: observed sample, weights, initial states",
        "observation",
    ),
    Axis(
        N_UNITS, "n", "n_units", "models.n_units", int, "units of each trained network", "network"
    ),
    Axis(
        NEURON_FRACTION,
        "nf",
        "neuron_fractions",
        None,
        float,
        "fraction of the SOC neurons observed (the hints); nested across fractions",
        "recording",
    ),
    Axis(
        N_TRIALS,
        "nt",
        "n_trials",
        "recording.n_trials",
        int,
        "trials per direction of the spike recording (its PSTHs are the hints)",
        "recording",
        spikes=True,
    ),
    Axis(
        SMOOTHING_MS,
        "sm",
        "smoothing_ms",
        "recording.smoothing_ms",
        float,
        "sd of the Gaussian kernel of the recorded PSTHs, ms",
        "recording",
        spikes=True,
    ),
    Axis(
        HINT_GAIN,
        "hg",
        "hint_gains",
        "models.hint_gain",
        float,
        "scale of the hint inputs",
        "hints",
    ),
)
AXIS_NAMES: tuple[str, ...] = tuple(a.name for a in AXES)


def axis(name: str) -> Axis:
    """The axis called ``name``."""
    for candidate in AXES:
        if candidate.name == name:
            return candidate
    raise ValueError(f"unknown axis {name!r}; axes: {', '.join(AXIS_NAMES)}")


def axes_in(names) -> tuple[str, ...]:
    """The axes among ``names`` (e.g. a table's columns or a run's axes), in registry order:
    a study of exact rates has no spike-recording axis."""
    present = set(names)
    return tuple(a for a in AXIS_NAMES if a in present)


def axes_of(stages, axes: tuple[Axis, ...] = AXES) -> tuple[str, ...]:
    """Names of the axes of ``stages`` among ``axes``, in path order: the axes an artefact
    built from those stages depends on."""
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stages {sorted(unknown)}; stages: {', '.join(STAGES)}")
    return tuple(a.name for a in axes if a.stage in stages)


@dataclass(frozen=True)
class Model:
    """A model of the study.

    Attributes
    ----------
    name : str
        Name in paths, tables and figures.
    hints : Hints or None
        What the teacher network receives as hints (:mod:`hintforce.hints`), or None for a
        network without hints. A hinted model reads the neural recording.
    trained : bool
        False for the floor (the untrained network with a fitted readout).
    label : str
        Name in figure legends.
    """

    name: str
    hints: Hints | None
    trained: bool
    label: str

    def __post_init__(self):
        if self.hints is not None and not self.trained:
            raise ValueError(f"model {self.name!r} is untrained: it cannot receive hints")

    @property
    def hinted(self) -> bool:
        return self.hints is not None

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages its training is built from: a hinted model's, every stage."""
        return STAGES if self.hinted else NETWORK_STAGES

    def axes_among(self, axes: tuple[Axis, ...]) -> tuple[str, ...]:
        """The axes among ``axes`` its training depends on."""
        return axes_of(self.stages, axes)

    @property
    def axes(self) -> tuple[str, ...]:
        """The axes its training depends on; it is trained once per combination of these and
        shared by every run that differs only in the others."""
        return self.axes_among(AXES)


#: Each model's name, for code that treats one model specially (the contrasts, the figures).
FLOOR = "floor"
FF = "ff"
FFH = "ffh"
FFH_SHUFFLED = "ffh_shuffled"
FFH_MEAN = "ffh_mean"
#: The models, in table and legend order.
MODELS: tuple[Model, ...] = (
    Model(FLOOR, None, False, "floor"),
    Model(FF, None, True, "FF"),
    Model(FFH, hints.OBSERVED, True, "FFH"),
    Model(FFH_SHUFFLED, hints.SHUFFLED, True, "FFH, shuffled hints"),
    Model(FFH_MEAN, hints.MEAN, True, "FFH, mean hints"),
)
MODEL_NAMES: tuple[str, ...] = tuple(m.name for m in MODELS)


def model(name: str) -> Model:
    """The model called ``name``."""
    for candidate in MODELS:
        if candidate.name == name:
            return candidate
    raise ValueError(f"unknown model {name!r}; models: {', '.join(MODEL_NAMES)}")


def hinted_models() -> tuple[str, ...]:
    """Names of the models that receive hints (they depend on the hint gain)."""
    return tuple(m.name for m in MODELS if m.hinted)


#: Reference rows of the similarity table, scored like models but made of the SOC itself:
#: the SOC scored as a model (the true ceiling), the observed SOC neurons scored against the
#: unobserved (the data baseline) and two random halves of a population against each other
#: (split-half subsampling reliability: how alike two disjoint samples of one circuit look;
#: not a ceiling).
CEILING = "soc"
BASELINE = "soc_observed"
RELIABILITY = "soc_split_half"
#: With a spike recording, the PSTHs of the first half of the trials of the recorded neurons
#: scored against those of the second half (population ``observed``): the trial-to-trial
#: noise ceiling an experimenter can compute.
TRIAL_SPLIT = "soc_trial_split"
REFERENCES: tuple[str, ...] = (CEILING, BASELINE, RELIABILITY, TRIAL_SPLIT)

#: The ground-truth populations a model is compared with: all SOC neurons, the observed, the
#: unobserved of the run's own fraction, and one fixed held-out set (the neurons unobserved at
#: the study's largest swept fraction) for like-for-like curves across fractions.
HELD_OUT = "held_out"
POPULATIONS: tuple[str, ...] = ("all", "observed", "unobserved", HELD_OUT)


@dataclass(frozen=True)
class Metric:
    """A similarity metric.

    Attributes
    ----------
    name : str
    higher_is_better : bool
        Direction in which the metric improves (a distance improves when it falls).
    label : str
        Axis label in figures.
    """

    name: str
    higher_is_better: bool
    label: str


METRICS: tuple[Metric, ...] = (
    Metric("cca", True, "mean canonical correlation"),
    Metric("cka", True, "linear CKA"),
    Metric("procrustes", False, "angular Procrustes distance (rad)"),
    Metric("predictivity", True, "neural predictivity (median held-out R²)"),
)


def metric(name: str) -> Metric:
    """The metric called ``name``."""
    for candidate in METRICS:
        if candidate.name == name:
            return candidate
    raise ValueError(f"unknown metric {name!r}; metrics: {', '.join(m.name for m in METRICS)}")


#: Activity components: the full activity, and its condition-specific part (each unit's mean
#: over conditions, per time bin, removed; Kaufman et al. 2016).
COMPONENTS: tuple[str, ...] = ("full", "condition")
#: Validation of a score: fitted and scored on all training directions; fitted on some
#: training directions and scored on the others; fitted on the training directions and scored
#: on the directions no model was trained on (only when the task holds directions out).
HELD_OUT_DIRECTIONS = "held_out_directions"
VALIDATIONS: tuple[str, ...] = ("in_sample", "cross_validated", HELD_OUT_DIRECTIONS)
#: The two sets of directions of the task, as the fit table's ``directions`` column names
#: them (the column exists when the task holds directions out).
DIRECTION_SETS: tuple[str, ...] = ("train", "held_out")
DIRECTIONS = "directions"
#: Starts of the free-running evaluation: clean (x = 0) and noisy initial states.
STARTS: tuple[str, ...] = ("clean", "noisy")
#: Paired contrasts of the statistics: (a, b) for the difference a - b.
CONTRASTS: tuple[tuple[str, str], ...] = ((FFH, FF), (FFH, FFH_SHUFFLED), (FFH, FFH_MEAN))

#: Columns that identify one similarity value within a run.
ROW_KEYS: tuple[str, ...] = ("model", "population", "metric", "k", "component", "validation")
#: Columns of ``similarity.csv`` after the study's axes (:func:`axes_in`): the row keys, the
#: value and its permutation null (mean over permutations, p-value, and value above the null
#: in the metric's direction).
SIMILARITY_VALUES: tuple[str, ...] = ("value", "null_mean", "null_p", "above_null")
SIMILARITY_COLUMNS: tuple[str, ...] = (*ROW_KEYS, *SIMILARITY_VALUES)
#: Keys of a canonical-correlation spectrum row (before its ``index`` and ``value``).
SPECTRUM_KEYS: tuple[str, ...] = ("model", "population", "k", "component")
#: Columns of ``fit.csv`` after the study's axes.
FIT_COLUMNS: tuple[str, ...] = ("model", "start", "r2", "passes_fit_gate")
#: Columns of ``dynamics.csv`` after the study's axes: a mechanism measure of a model or the
#: SOC in one run (per condition, or with the condition empty for a measure of the whole run).
DYNAMICS_COLUMNS: tuple[str, ...] = ("model", "measure", "condition", "value")
#: The model-free row of ``co_smoothing.csv``: the Neural Latents Benchmark's smoothing
#: baseline (held-out neurons predicted from the held-in neurons' smoothed spikes).
SMOOTHING_BASELINE = "smoothing"
#: Columns of ``co_smoothing.csv`` after the study's axes: a model's (or the smoothing
#: baseline's) co-smoothing bits per spike on the held-out recorded neurons, and how many
#: were scored.
CO_SMOOTHING_COLUMNS: tuple[str, ...] = ("model", "bits_per_spike", "n_neurons")
#: Columns of ``summary.csv`` after the cell's axes and row keys.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "quantity",
    "n",
    "n_over",
    "n_excluded",
    "mean",
    "sd",
    "ci_low",
    "ci_high",
)
#: Columns of ``paired_tests.csv`` after the cell's axes and row keys.
PAIRED_COLUMNS: tuple[str, ...] = (
    "contrast",
    "n",
    "n_over",
    "mean_difference",
    "wins",
    "ties",
    "wilcoxon_p",
    "ttest_p",
    "holm_wilcoxon_p",
    "holm_ttest_p",
    "wilcoxon_min_p",
)
