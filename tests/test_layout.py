"""The path layout (hintforce.layout): every artefact under the axes it depends on."""

import re

import pytest

from hintforce import study
from hintforce.layout import Layout

EXACT = Layout("default", tuple(a for a in study.AXES if not a.spikes))
SPIKES = Layout("spikes", study.AXES)
RUN = {
    study.GROUND_TRUTH_SEED: 7,
    study.MUSCLE_FRACTION: 0.4,
    study.SEED: 2,
    study.N_UNITS: 80,
    study.NEURON_FRACTION: 0.3,
    study.HINT_GAIN: 1.0,
}


def test_a_run_of_exact_rates_has_its_paths_in_registry_order():
    assert (
        EXACT.fill(EXACT.run, RUN) == "results/default/runs/gt~7/mf~0.4/seed~2/n~80/nf~0.3/hg~1.0"
    )
    assert EXACT.fill(EXACT.ground_truth, RUN) == "results/default/ground_truth/gt~7"
    assert EXACT.fill(EXACT.observation, RUN).endswith("runs/gt~7/mf~0.4/seed~2/observation.json")
    assert EXACT.fill(EXACT.recording, RUN).endswith("gt~7/mf~0.4/seed~2/nf~0.3/recording.zarr")
    spikes = {**RUN, study.N_TRIALS: 5, study.SMOOTHING_MS: 30}
    assert SPIKES.fill(SPIKES.recording, spikes).endswith(
        "seed~2/nf~0.3/nt~5/sm~30.0/recording.zarr"
    )


@pytest.mark.parametrize("layout", [EXACT, SPIKES])
def test_each_model_lives_under_the_axes_its_training_depends_on(layout):
    for m in study.MODELS:
        segments = re.findall(r"(\w+)~\{(\w+)\}", layout.model_path(m.name))
        assert tuple(name for _, name in segments) == m.axes_among(layout.axes)
        assert [key for key, _ in segments] == [study.axis(n).key for _, n in segments]
    assert study.HINT_GAIN not in layout.model_dir([study.FF, study.FLOOR])
    with pytest.raises(ValueError, match="depend on different axes"):
        layout.model_dir([study.FF, study.FFH])


def test_logs_and_benchmarks_mirror_the_results():
    out = "results/default/runs/gt~7/mf~0.4/seed~2/n~80/ff.zarr"
    assert EXACT.log_path(out) == "logs/default/runs/gt~7/mf~0.4/seed~2/n~80/ff.log"
    assert EXACT.benchmark_path(out) == (
        "results/default/benchmarks/runs/gt~7/mf~0.4/seed~2/n~80/ff.tsv"
    )
    with pytest.raises(ValueError, match="not under results/default"):
        EXACT.log_path("results/other/x.csv")


def test_every_label_matches_its_axis_constraint_and_reads_back():
    constraints = SPIKES.constraints()
    for a in SPIKES.axes:
        for value in (0, 1, 30, 0.3, 1e-05, 2.5e3):
            label = a.label(value)
            assert re.fullmatch(constraints[a.name], label), (a.name, label)
            assert SPIKES.axis_values({a.name: label}) == {a.name: a.kind(value)}


def test_fill_refuses_an_axis_the_study_does_not_have():
    with pytest.raises(ValueError, match="unknown axes"):
        EXACT.fill(EXACT.run, {**RUN, study.N_TRIALS: 5})
