"""The study's config as the workflow reads it (hintforce.configuration), without Snakemake:
axes and values, each job's settings, and the refusals."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from hintforce import study
from hintforce.configuration import ConfigError, StudyConfig, schema_error, settings

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = ROOT / "workflow/schemas/config.schema.yaml"
SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text())


def _merge(base, over):
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def study_config(**over) -> dict:
    """config.yaml under the small test study, with ``over`` layered on top, as the workflow
    sees it (defaults filled in by the schema)."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    _merge(config, yaml.safe_load((ROOT / "tests/config.small.yaml").read_text()))
    _merge(config, copy.deepcopy(over))
    validate(config, str(SCHEMA_PATH))
    return config


def test_settings_sort_their_keys():
    assert list(settings({"b": 1, "a": 2}, c=3)) == ["a", "b", "c"]


def test_an_exact_rate_study_has_no_spike_axis_and_each_axis_its_setting_or_sweep():
    sc = StudyConfig(study_config(sweep={"hint_gains": [0.1, 0.3]}))
    assert not sc.spikes
    assert [a.name for a in sc.axes] == [a.name for a in study.AXES if not a.spikes]
    assert sc.values[study.HINT_GAIN] == [0.1, 0.3]
    assert sc.values[study.N_UNITS] == [80]  # the single setting models.n_units
    assert sc.values[study.SEED] == [1, 2]
    assert sc.labels(study.HINT_GAIN) == ["0.1", "0.3"]
    assert sc.swept_axes() == [study.HINT_GAIN]
    assert sc.axis_key(study.axis(study.HINT_GAIN)) == "sweep.hint_gains"
    assert sc.axis_key(study.axis(study.N_UNITS)) == "models.n_units"
    assert "hint_gain_tradeoff" in sc.figure_names()
    assert "recording" not in sc.figure_names()


def test_setting_or_sweeping_the_trial_count_makes_a_study_of_spikes():
    for over in ({"recording": {"n_trials": 4}}, {"sweep": {"n_trials": [4, 8]}}):
        sc = StudyConfig(study_config(**over))
        assert sc.spikes
        assert [a.name for a in sc.axes] == list(study.AXIS_NAMES)
        assert "recording" in sc.figure_names()
    sc = StudyConfig(study_config(sweep={"n_trials": [8, 4]}))
    assert sc.recording_settings()["n_trials"] == 8  # the first swept value


def test_a_job_gets_the_values_its_path_sweeps_and_a_model_only_its_own_axes():
    sc = StudyConfig(study_config(sweep={"hint_gains": [0.1, 0.3], "n_units": [40, 80]}))
    path = {study.N_UNITS: "40", study.HINT_GAIN: "0.3", study.SEED: "1"}
    models = sc.section_params("models", path)
    assert models["n_units"] == 40 and models["hint_gain"] == 0.3
    assert sc.model_params(study.FFH, path) == models
    unhinted = sc.model_params(study.FF, path)
    assert "hint_gain" not in unhinted and unhinted["n_units"] == 40
    assert sc.model_params(study.FLOOR, path) == unhinted


def test_schema_errors_name_the_key_and_what_is_allowed():
    config = study_config()
    config["models"]["colour"] = "red"
    error = schema_error(config, SCHEMA)
    assert isinstance(error, ConfigError) and error.where == "models"
    assert "unknown key(s) ['colour']" in str(error) and "n_units" in str(error)
    assert schema_error(study_config(), SCHEMA) is None


@pytest.mark.parametrize(
    ("over", "where", "says"),
    [
        ({"sweep": {"neuron_fractions": [0.01]}}, "sweep.neuron_fractions", "neurons"),
        ({"observation": {"muscle_fraction": 0.01}}, "observation.muscle_fraction", "muscles"),
        ({"similarity": {"ks": [40]}}, "similarity.ks", "use ks <="),
        ({"models": {"dt_ms": 5.0}}, "models.dt_ms", "must equal ground_truth.emg.dt_ms"),
        ({"recording": {"emg_noise": 0.1}}, "recording", "needs a spike recording"),
        (
            {"recording": {"n_trials": 4, "held_out_fraction": 0.99}},
            "recording.held_out_fraction",
            "at neuron fraction",
        ),
    ],
)
def test_a_bad_study_is_refused_naming_its_key(over, where, says):
    with pytest.raises(ConfigError) as refused:
        StudyConfig(study_config(**over)).check()
    assert refused.value.where.startswith(where)
    assert says in str(refused.value)


def test_every_bound_a_refusal_suggests_passes():
    with pytest.raises(ConfigError, match=r"use ks <= (\d+)") as refused:
        StudyConfig(study_config(similarity={"ks": [40]})).check()
    limit = int(refused.value.args[0].rsplit("<= ", 1)[1])
    StudyConfig(study_config(similarity={"ks": [limit]})).check()


def test_the_default_and_shipped_studies_pass():
    StudyConfig(study_config()).check()
    for path in sorted((ROOT / "studies").glob("*.yaml")):
        config = yaml.safe_load((ROOT / "config.yaml").read_text())
        _merge(config, yaml.safe_load(path.read_text()))
        validate(config, str(SCHEMA_PATH))
        StudyConfig(config).check()
