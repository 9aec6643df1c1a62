"""Adding an axis is one registry entry (plus the schema entry that documents its config key):
the workflow's paths, wildcards, job parameters and reruns follow from the entry alone."""

from collections import Counter

import pytest
from support.workflow import make_project, planned_jobs, with_config

pytestmark = pytest.mark.workflow

# A toy axis: the trained networks' recurrent gain g (models.g), swept; it changes the networks
# (stage "network") and nothing the circuit, the observation or the recording is made of.
ENTRY = '    Axis("recurrent_gain", "g", "recurrent_gains", "models.g", float, "toy", "network"),\n'
SCHEMA_ENTRY = """      recurrent_gains:
        description: Toy axis of the registry test (overrides models.g).
        $ref: "#/$defs/axis"
        items: {type: number, minimum: 0}
"""


@pytest.fixture(scope="module")
def toy_project(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("toy_axis"))
    registry = project / "src/hintforce/study.py"
    text = registry.read_text()
    anchor = "    Axis(\n        NEURON_FRACTION,"
    assert text.count(anchor) == 1
    registry.write_text(text.replace(anchor, ENTRY + anchor))
    schema = project / "workflow/schemas/config.schema.yaml"
    text = schema.read_text()
    anchor = "      hint_gains:\n"
    assert text.count(anchor) == 1
    schema.write_text(text.replace(anchor, SCHEMA_ENTRY + anchor))
    return project


def test_a_new_axis_needs_only_its_registry_entry(toy_project):
    config = with_config(
        toy_project, "toy.yaml", lambda c: c["sweep"].update(recurrent_gains=[1.5, 1.6])
    )
    jobs = planned_jobs(toy_project, "--cores", "1", "--configfile", config)
    per_rule = Counter(rule for rule, _ in jobs)
    seeds, hinted, unhinted = 2, 3, 2  # the small study's seeds and the registry's models
    # Every network is trained per gain, under a g~ segment after n~ ...
    assert per_rule["train"] == seeds * 2 * unhinted
    assert per_rule["train_hinted"] == seeds * 2 * hinted
    trained = [out for rule, out in jobs if rule.startswith("train")]
    assert {out.split("/n~80/")[1].split("/")[0] for out in trained} == {"g~1.5", "g~1.6"}
    # ... and compared per gain, while the circuit, the observation and the recordings are
    # made once per seed.
    assert per_rule["similarity"] == seeds * 2
    for rule in ("observe", "record_emg", "record_neurons"):
        assert per_rule[rule] == seeds, rule
        assert not any("g~" in out for r, out in jobs if r == rule)
    assert per_rule["emg"] == 1
    # The swept gain has its figure.
    assert any(out.endswith("similarity_vs_recurrent_gain.png") for _, out in jobs)
