"""The study registry (hintforce.study) is the one place the study's names are spelled."""

import ast
import io
import tokenize
from pathlib import Path

import pytest

from hintforce import study

ROOT = Path(__file__).resolve().parents[1]
NAMES = set(study.MODEL_NAMES) | set(study.AXIS_NAMES)


def _string_literals(path: Path):
    """(line, value) of every plain string literal of a Python or Snakemake file."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    for token in tokens:
        if token.type != tokenize.STRING:
            continue
        try:
            value = ast.literal_eval(token.string)
        except (ValueError, SyntaxError):  # an f-string
            continue
        if isinstance(value, str):
            yield token.start[0], value


def _sources():
    yield from (ROOT / "workflow").rglob("*.smk")
    yield ROOT / "Snakefile"
    yield from (ROOT / "scripts").glob("*.py")
    yield from (p for p in (ROOT / "src/hintforce").glob("*.py") if p.name != "study.py")


def test_model_and_axis_names_are_spelled_only_in_the_registry():
    spelled = [
        f"{path.relative_to(ROOT)}:{line}: {value!r}"
        for path in _sources()
        for line, value in _string_literals(path)
        if value in NAMES
    ]
    assert spelled == []


def test_the_literal_check_finds_a_spelled_name(tmp_path):
    source = tmp_path / "bad.py"
    source.write_text('x = {"ffh": 1}\ny = f"{x}-ff"\n')
    assert [v for _, v in _string_literals(source) if v in NAMES] == ["ffh"]


def test_names_are_unique_and_path_keys_distinct():
    assert len(set(study.AXIS_NAMES)) == len(study.AXES)
    assert len({a.key for a in study.AXES}) == len(study.AXES)
    assert len(set(study.MODEL_NAMES)) == len(study.MODELS)
    assert set(study.MODEL_NAMES).isdisjoint(study.REFERENCES)


def test_every_model_depends_on_known_axes_and_hinted_ones_on_every_axis():
    for model in study.MODELS:
        assert set(model.axes) <= set(study.AXIS_NAMES)
        assert (study.HINT_GAIN in model.axes) == model.hinted
        assert (study.NEURON_FRACTION in model.axes) == model.hinted


def test_contrasts_compare_known_models():
    for a, b in study.CONTRASTS:
        assert study.model(a).hinted and a != b
        study.model(b)


@pytest.mark.parametrize("value", [0.3, 1.0, 1e-05, 2020, 300])
def test_axis_labels_round_trip_through_their_kind(value):
    for axis in study.AXES:
        if isinstance(value, float) and axis.kind is int:
            continue
        assert axis.kind(axis.label(value)) == axis.kind(value)


def test_unknown_names_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="models: floor, ff"):
        study.model("ffx")
    with pytest.raises(ValueError, match="axes: ground_truth_seed"):
        study.axis("fraction")
