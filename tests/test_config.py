"""The config schema documents every key, and its defaults, config.yaml and the library's
parameter classes agree."""

import dataclasses
from pathlib import Path

import pytest
import yaml

from hintforce import emg, force, gain, recording, similarity, soc, study

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())
#: Config section -> the parameter class that checks it (fields the config does not set, such
#: as the gain fit's bin width taken from the EMG grid, are left out).
SECTIONS = {
    ("ground_truth", "emg"): emg.EMGParams,
    ("ground_truth", "soc"): soc.SOCParams,
    ("ground_truth", "gain"): gain.GainParams,
    ("models",): force.ForceParams,
    ("similarity",): similarity.SimilarityParams,
    ("recording",): recording.RecordingParams,
}
DERIVED = {"bin_ms"}  # GainParams.bin_ms is ground_truth.emg.dt_ms


def _resolve(node):
    while "$ref" in node and "description" not in node:
        node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _keys(node, path=()):
    """(path, schema node) of every key the schema defines."""
    for name, child in node.get("properties", {}).items():
        yield (*path, name), child
        yield from _keys(child, (*path, name))


def _section(path):
    node = SCHEMA
    for name in path:
        node = node["properties"][name]
    return node


def test_every_key_of_the_schema_has_a_description():
    undocumented = [".".join(p) for p, node in _keys(SCHEMA) if "description" not in node]
    assert undocumented == []


@pytest.mark.parametrize("path", list(SECTIONS), ids=".".join)
def test_schema_defaults_are_the_parameter_class_defaults(path):
    fields = {f.name: f.default for f in dataclasses.fields(SECTIONS[path])}
    properties = _section(path)["properties"]
    for name, node in properties.items():
        if "default" in node:
            default = fields[name]
            expected = list(default) if isinstance(default, tuple) else default
            assert node["default"] == expected, name
    assert set(fields) - DERIVED <= set(properties)


@pytest.mark.parametrize("path", list(SECTIONS), ids=".".join)
def test_config_yaml_keeps_the_parameter_class_defaults(path):
    values = CONFIG
    for name in path:
        values = values[name]
    fields = {f.name: f.default for f in dataclasses.fields(SECTIONS[path])}
    for name, value in values.items():
        default = fields[name]
        assert value == (list(default) if isinstance(default, tuple) else default), name


def test_every_sweep_axis_and_its_setting_are_in_the_schema():
    sweep = _section(("sweep",))["properties"]
    for axis in study.AXES:
        assert axis.sweep in sweep
        if axis.setting is not None:
            assert (
                axis.setting.split(".")[1]
                in _section(tuple(axis.setting.split(".")[:1]))["properties"]
            )
