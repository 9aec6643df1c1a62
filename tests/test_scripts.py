"""The glue between the rules and the library, in this process: every script of ``scripts/``
run as Snakemake runs it (``runpy`` with ``__name__ == "__main__"`` and a ``snakemake`` object
built as Snakemake's preamble builds it), on the tiny studies of the workflow tests.

Each test asks a :class:`support.scripts.Pipeline` for a rule's output; the pipeline first runs
the jobs upstream of it (each once per module, in temporary directories), taking every
parameter from the layered configs as ``workflow/rules/common.smk`` does and checking every
job's named inputs, outputs and parameters against the rule that declares them. The tests then
compare what a script wrote with independent facts: what the library returns for the same
inputs, the table contracts of :mod:`hintforce.study`, a decodable figure.

Three studies, each as small as the workflow tests run them:

* ``small``: config.yaml with tests/config.small.yaml (exact rates; every table, the mechanism
  and the report's figures);
* ``spikes``: with tests/config.recording.yaml over it (a spike recording: co-smoothing, NWB,
  the recording figure) at its first trial count, swept instead over the hint gains of
  tests/config.sweep.yaml (the trade-off figure), for the first run seed, sharing the small
  study's circuit;
* ``directions``: tests/config.generalisation.yaml (held-out directions; the generalisation
  figure), for its first run seed.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from support.scripts import (
    ROOT,
    RULES,
    SCRIPTS,
    Pipeline,
    ScriptFailed,
    import_script,
    job,
    run_script,
    study_config,
)

from hintforce import (
    dynamics,
    emg,
    findings,
    force,
    gain,
    observe,
    recording,
    soc,
    stats,
    store,
    study,
)
from hintforce.seeding import generator
from hintforce.task import Task

SMALL = "tests/config.small.yaml"
RECORDING = "tests/config.recording.yaml"
GENERALISATION = "tests/config.generalisation.yaml"
SWEEP = "tests/config.sweep.yaml"

# The in-process tier: in `make test`, not in `make test-fast`.
pytestmark = pytest.mark.scripts


# -- the studies ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Pipeline:
    return Pipeline(study_config(SMALL), tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="module")
def spikes(small, tmp_path_factory) -> Pipeline:
    """The spike-recording study at its first trial count, swept over hint gains, for one run
    seed (each run trains three hinted models: two runs, not the four of both sweeps); its
    circuit is the small study's (the same ground-truth settings and seed), built once."""
    hint_gains = yaml.safe_load((ROOT / SWEEP).read_text())["sweep"]["hint_gains"]
    recorded = study_config(SMALL, RECORDING).values
    sweep = {
        "seeds": recorded[study.SEED][:1],
        "n_trials": recorded[study.N_TRIALS][:1],
        "hint_gains": hint_gains,
    }
    config = study_config(SMALL, RECORDING, {"sweep": sweep})
    return Pipeline(config, tmp_path_factory.mktemp("spikes"), ground_truth=small)


@pytest.fixture(scope="module")
def directions(tmp_path_factory) -> Pipeline:
    """The generalisation study, for its first run seed."""
    seeds = study_config(GENERALISATION).values[study.SEED][:1]
    config = study_config(GENERALISATION, {"sweep": {"seeds": seeds}})
    return Pipeline(config, tmp_path_factory.mktemp("directions"))


# -- facts about files ---------------------------------------------------------------------


def csv(path) -> pd.DataFrame:
    return pd.read_csv(path)


def as_written(table: pd.DataFrame) -> pd.DataFrame:
    """A table as it reads back from a CSV."""
    return pd.read_csv(io.StringIO(table.to_csv(index=False)))


def assert_same_table(path, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(csv(path), as_written(expected), check_dtype=False)


def assert_png(path) -> None:
    """A PNG that decodes, with a drawing on it (more than a handful of colours)."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    with Image.open(path) as image:
        image.load()
        width, height = image.size
        assert width > 100 and height > 100, image.size
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 16, f"{path} is nearly blank"


def assert_columns(path, axes, contract) -> pd.DataFrame:
    table = csv(path)
    assert list(table.columns) == [*study.axes_in(axes), *contract]
    assert len(table) > 0
    return table


# -- the scripts are modules first -----------------------------------------------------------


def test_scripts_only_define_on_import():
    """Loaded as a module (no ``snakemake`` global), no script runs anything: each defines
    ``main`` and calls it only as a program."""
    for path in sorted(SCRIPTS.glob("*.py")):
        module = import_script(path.stem)
        assert callable(module.get("main")), f"{path.name} defines no main"


def test_failing_job_reports_its_log(tmp_path):
    """A script whose job fails exits as hintforce.jobs.job makes it, with the log."""
    log = tmp_path / "emg.log"
    bad = job(
        rule="emg",
        output=[tmp_path / "emg.zarr"],
        params={"axes": {study.GROUND_TRUTH_SEED: 1}, "emg": {"n_muscles": -1}},
        log=[log],
    )
    with pytest.raises(ScriptFailed, match="emg.py"):
        run_script("emg", bad)
    assert "Error" in log.read_text()


def test_jobs_follow_their_rules(tmp_path):
    """The tier builds a job only with the names its rule declares (workflow/rules/*.smk):
    a job without one of the rule's parameters is refused before its script runs."""
    assert {rule.script for rule in RULES.values()} >= {"emg", "train", "similarity"}
    assert RULES["train_hinted"].params == RULES["train"].params
    assert RULES["train_hinted"].input == RULES["train"].input | {"recording"}
    pipeline = Pipeline(study_config(SMALL), tmp_path)
    with pytest.raises(AssertionError, match="declares params"):
        pipeline.run(
            "emg",
            output=[tmp_path / "emg.zarr"],
            params={"axes": {study.GROUND_TRUTH_SEED: 1}},
            log=tmp_path / "emg.log",
            result=None,
        )
    assert not (tmp_path / "emg.zarr").exists()


# -- ground_truth.smk ----------------------------------------------------------------------


def test_emg(small):
    first = small.example_run()
    path = small.emg(first)
    seed = first[study.GROUND_TRUTH_SEED]
    params = emg.EMGParams(**small.settings("ground_truth.emg"))
    expected = emg.sample_emg(params, generator(seed, "emg"))
    stored = store.read_dataset(path)
    np.testing.assert_array_equal(stored["emg"], expected.emg)
    np.testing.assert_array_equal(stored["time_ms"], expected.time_ms)
    np.testing.assert_array_equal(stored["angle_rad"], expected.angle_rad)
    assert store.read_attrs(path)[study.GROUND_TRUTH_SEED] == seed


def test_soc_connectivity(small):
    first = small.example_run()
    path = small.soc_connectivity(first)
    params = soc.SOCParams(**small.settings("ground_truth.soc"))
    expected = soc.build_soc(params, generator(first[study.GROUND_TRUTH_SEED], "soc"))
    stored = store.read_dataset(path)
    np.testing.assert_array_equal(stored["W"], expected.W)
    np.testing.assert_array_equal(stored["excitatory"], expected.excitatory)
    assert stored["W"].shape == (params.n_neurons, params.n_neurons)


def test_soc_gains(small):
    first = small.example_run()
    path = small.soc_gains(first)
    circuit = store.read_dataset(small.soc_connectivity(first))
    targets = store.read_dataset(small.emg(first))
    params = gain.GainParams(**small.config.gain_settings())
    expected = gain.fit_gains(circuit["W"], circuit["excitatory"], targets["emg"], params)
    stored = store.read_dataset(path)
    np.testing.assert_array_equal(stored["W"], circuit["W"])
    np.testing.assert_array_equal(stored["gains"], expected.gains)
    np.testing.assert_array_equal(stored["emg_fit"], expected.emg_fit)
    np.testing.assert_array_equal(stored["rates"], expected.rates)
    attrs = store.read_attrs(path)
    np.testing.assert_allclose(attrs["r2"], expected.r2)
    assert attrs["soc"] == store.read_attrs(small.soc_connectivity(first))


def test_ground_truth_figure(small):
    assert_png(small.ground_truth_figure(small.example_run()))


# -- models.smk ----------------------------------------------------------------------------


def test_observe(small):
    gt = small.raw["ground_truth"]
    for run in small.runs():
        seen = store.read_observation(small.observe(run))
        expected = observe.observe(
            gt["soc"]["n_neurons"],
            gt["emg"]["n_muscles"],
            run[study.MUSCLE_FRACTION],
            generator(run[study.SEED], "observe"),
        )
        np.testing.assert_array_equal(seen.neuron_order, expected.neuron_order)
        np.testing.assert_array_equal(seen.muscles, expected.muscles)
    orders = [store.read_observation(small.observe(r)).neuron_order for r in small.runs()]
    assert not np.array_equal(orders[0], orders[-1]), "every run seed observes the same"


def test_record_emg(small, spikes):
    """Without noise the recorded EMG is the circuit's of the observed muscles; with it,
    that plus noise of the configured size."""
    run = small.example_run()
    task = Task(**small.task)
    muscles = store.read_observation(small.observe(run)).muscles
    truth = task.with_rest(store.read_dataset(small.emg(run), ["emg"])["emg"])[:, :, muscles]
    exact = store.read_dataset(small.record_emg(run))
    assert small.raw["recording"]["emg_noise"] == 0
    np.testing.assert_array_equal(exact["emg"], truth)
    np.testing.assert_array_equal(exact["muscles"], muscles)
    noisy = store.read_dataset(spikes.record_emg(run))["emg"]
    noise_sd = spikes.raw["recording"]["emg_noise"]
    assert noise_sd > 0 and noisy.shape == truth.shape
    assert 0.5 * noise_sd < np.std(noisy - truth) < 2 * noise_sd


def test_record_neurons(small, spikes):
    run = small.example_run()
    seen = store.read_observation(small.observe(run))
    rates = store.read_dataset(small.soc_gains(run), ["rates"])["rates"]
    exact = recording.Recording.from_arrays(*store.read_recording(small.record_neurons(run)))
    np.testing.assert_array_equal(exact.neurons, seen.neurons(run[study.NEURON_FRACTION]))
    assert exact.spikes is None and not exact.held_out.any()
    n_times = rates.shape[1]
    np.testing.assert_allclose(exact.psth[:, :n_times], rates[:, :, exact.neurons])
    for values in spikes.runs():
        rec = recording.Recording.from_arrays(*store.read_recording(spikes.record_neurons(values)))
        assert rec.spikes.n_trials == values[study.N_TRIALS]
        assert rec.held_out.any() and not rec.held_out.all()
        observed = store.read_observation(spikes.observe(values))
        np.testing.assert_array_equal(rec.neurons, observed.neurons(values[study.NEURON_FRACTION]))


def _fit_directly(pipeline: Pipeline, model: str, run) -> force.Fit:
    """The library's fit of ``model`` on the run's recording, called without the script."""
    task = Task(**pipeline.task)
    pattern = pipeline.layout.model_path(model)
    params = force.ForceParams(**pipeline.config.model_params(model, pipeline.axes(pattern, run)))
    recorded = store.read_dataset(pipeline.record_emg(run))
    kwargs = {}
    if study.model(model).hinted:
        rec = recording.Recording.from_arrays(
            *store.read_recording(pipeline.record_neurons(run), counts=False)
        )
        kwargs = {
            "hints": rec.hints(task.training),
            "hint_units": rec.hint_units,
            "n_neurons": rec.n_circuit_neurons,
        }
    seed = run[study.SEED]
    return force.fit_model(
        model,
        task,
        recorded["emg"][task.training],
        params,
        generator(seed, "force"),
        sham_rng=generator(seed, "sham"),
        **kwargs,
    )


def test_train(small):
    """Every model of every run trained once per store, each the library's fit of the run's
    recording (the hinted ones on its observed neurons)."""
    task = Task(**small.task)
    for run in small.runs():
        for model in study.MODEL_NAMES:
            path = small.train(model, run)
            attrs = store.read_attrs(path)
            assert attrs["status"] == "ok" and attrs["model"] == model
            assert attrs["axes"] == small.axes(small.layout.model_path(model), run)
            stored = store.read_dataset(path, ["rates", "output", "J"])
            n_units = run[study.N_UNITS]
            n_muscles = store.read_observation(small.observe(run)).muscles.size
            assert stored["rates"].shape == (task.n_directions, task.n_window, n_units)
            assert stored["output"].shape == (task.n_directions, task.n_window, n_muscles)
            assert np.isfinite(attrs["r2_clean"])
    first = small.example_run()
    for model in (study.FF, study.FFH):
        fit = _fit_directly(small, model, first)
        stored = store.read_dataset(small.train(model, first), ["J", "W"])
        np.testing.assert_array_equal(stored["J"], fit.network.J)
        np.testing.assert_array_equal(stored["W"], fit.network.W)


def test_train_shares_models_across_hint_gains(spikes):
    """A model without hints does not depend on the hint gain: one store serves every hint
    gain of a run seed, the hinted models are trained per hint gain."""
    runs = spikes.runs()
    assert len({r[study.HINT_GAIN] for r in runs}) == len(runs) > 1
    for model in study.MODEL_NAMES:
        stores = {spikes.train(model, r) for r in runs}
        assert len(stores) == (len(runs) if study.model(model).hinted else 1), model
    rules = [rule for rule, _ in spikes.jobs]
    assert rules.count("train") == len(study.MODEL_NAMES) - len(study.hinted_models())
    assert rules.count("train_hinted") == len(study.hinted_models()) * len(runs)
    J = [store.read_dataset(spikes.train(study.FFH, r), ["J"])["J"] for r in runs]
    assert not np.array_equal(J[0], J[1]), "the hint gain did not reach the hinted training"


# -- similarity.smk ------------------------------------------------------------------------


def test_similarity(small):
    for run in small.runs():
        out = small.similarity(run)
        table = assert_columns(out["csv"], run, study.SIMILARITY_COLUMNS)
        assert (table[list(run)] == pd.Series(run)).all().all()
        assert set(table["model"]) == set(study.MODEL_NAMES) | {
            study.CEILING,
            study.BASELINE,
            study.RELIABILITY,
        }
        assert set(table["k"]) == set(small.raw["similarity"]["ks"])
        assert set(table["population"]) == set(study.POPULATIONS)
        paths = {m: small.train(m, run) for m in study.MODEL_NAMES}
        assert_same_table(out["fit"], store.fit_rows(run, paths))
        cube = store.read_cube(out["zarr"], "similarity")
        merged = table.merge(cube, on=list(study.ROW_KEYS), suffixes=("", "_cube"))
        assert len(merged) == table["value"].notna().sum()
        np.testing.assert_allclose(merged["value_cube"], merged["value"])


def test_soc_dynamics(small):
    """The SOC's mechanism rows: what the library measures of the stored circuit with the
    circuit's own generator."""
    run = small.example_run()
    path = small.soc_dynamics(run)
    expected = dynamics.soc_dynamics(
        dynamics.read_soc(small.soc_gains(run)),
        Task(**small.task),
        dynamics.DynamicsParams(**small.settings("dynamics")),
        generator(run[study.GROUND_TRUTH_SEED], "soc_dynamics"),
    )
    assert_same_table(path, expected)
    assert len(expected) > 0 and np.isfinite(csv(path)["value"]).any()


def test_dynamics(small):
    for run in small.runs():
        table = assert_columns(small.dynamics(run), run, study.DYNAMICS_COLUMNS)
        assert set(study.MODEL_NAMES) <= set(table["model"])
        reference = csv(small.soc_dynamics(run))
        assert set(reference["measure"]) <= set(table["measure"])


# -- aggregate.smk -------------------------------------------------------------------------


def test_tables(small):
    out = small.tables()
    runs = small.runs()
    similarity = pd.concat([csv(small.similarity(r)["csv"]) for r in runs], ignore_index=True)
    assert_same_table(out["similarity"], similarity)
    fit = pd.concat([csv(small.similarity(r)["fit"]) for r in runs], ignore_index=True)
    assert_same_table(out["fit"], stats.fit_gate(fit, small.raw["statistics"]["min_fit_r2"]))
    gated = csv(out["fit"])
    assert set(gated[study.SEED]) == set(small.config.values[study.SEED])
    clean = gated["start"] == study.STARTS[0]
    min_r2 = small.raw["statistics"]["min_fit_r2"]
    assert (gated.loc[clean, "passes_fit_gate"] == (gated.loc[clean, "r2"] >= min_r2)).all()
    cube = store.read_cube(out["cube"], "value")
    assert len(cube) == similarity["value"].notna().sum()


def test_statistics(small):
    out = small.statistics()
    tables = small.tables()
    similarity, fit = csv(tables["similarity"]), csv(tables["fit"])
    assert_same_table(out["summary"], stats.summarise_study(similarity, fit))
    # (stats.paired_study takes as long as the job: the paired table by its contract instead)
    axes = study.axes_in(similarity.columns)
    paired = csv(out["paired"])
    pooled = [a for a in axes if a != study.SEED]
    assert list(paired.columns[: len(pooled)]) == pooled
    assert list(paired.columns[-len(study.PAIRED_COLUMNS) :]) == list(study.PAIRED_COLUMNS)
    assert set(paired["contrast"]) == {f"{a}-{b}" for a, b in study.CONTRASTS}
    assert paired["n"].max() == len(small.config.values[study.SEED])
    assert (paired["n_over"] == study.SEED).all()


def test_dynamics_tables(small):
    out = small.dynamics_tables()
    table = pd.concat([csv(small.dynamics(r)) for r in small.runs()], ignore_index=True)
    assert_same_table(out["dynamics"], table)
    distances = stats.dynamics_distances(table, csv(small.tables()["fit"]))
    assert_same_table(out["summary"], stats.summarise_dynamics(distances))
    assert_same_table(out["tests"], stats.paired_dynamics(distances))


def _report_tables(pipeline) -> dict[str, pd.DataFrame]:
    """The tables rule findings reads, as the library takes them."""
    stats_out, dyn = pipeline.statistics(), pipeline.dynamics_tables()
    return {
        "summary": csv(stats_out["summary"]),
        "paired": csv(stats_out["paired"]),
        "fit": csv(pipeline.tables()["fit"]),
        "dynamics_summary": csv(dyn["summary"]),
        "dynamics_tests": csv(dyn["tests"]),
    }


def test_findings(small):
    """The answer page and the landing text, each what the library writes of the tables."""
    out = small.findings()
    t = _report_tables(small)
    dynamics = {n: t[n] for n in ("dynamics_summary", "dynamics_tests")}
    page = out["page"].read_text()
    assert page == findings.findings_html(t["summary"], t["paired"], t["fit"], small.k, **dynamics)
    assert page.startswith("<html") and page.rstrip().endswith("</html>")
    intro = (ROOT / "workflow" / "report" / "workflow.rst").read_text()
    expected = findings.answer_rst(t["summary"], t["paired"], t["fit"], small.k, intro, **dynamics)
    assert out["landing"].read_text() == expected
    assert all(findings.QUESTIONS[q] in expected for q in ("similarity", "mechanism"))


def test_findings_with_recording(spikes):
    """With a spike recording both documents hold the co-smoothing tables too."""
    out = spikes.findings()
    t = _report_tables(spikes)
    tables = spikes.co_smoothing_tables()
    optional = {
        "co_smoothing": csv(tables["summary"]),
        "validity": csv(tables["validity"]),
        "dynamics_summary": t["dynamics_summary"],
        "dynamics_tests": t["dynamics_tests"],
    }
    with_recording = findings.findings_html(
        t["summary"], t["paired"], t["fit"], spikes.k, **optional
    )
    assert out["page"].read_text() == with_recording
    assert with_recording != findings.findings_html(t["summary"], t["paired"], t["fit"], spikes.k)
    assert "bits/spike" in out["landing"].read_text()


def test_mechanism_report(small):
    out = small.mechanism_report()
    tables = small.dynamics_tables()
    expected = findings.mechanism_html(csv(tables["summary"]), csv(tables["tests"]))
    assert out["html"].read_text() == expected
    assert_png(out["figure"])


def test_summary_figures(small):
    out = small.summary_figures()
    assert_png(out["headline"])
    assert_png(out["spectra"])


def test_example_run_figures(small):
    out = small.example_run_figures()
    assert_png(out["outputs"])
    assert_png(out["trajectories"])


def test_axis_figure(spikes):
    """One figure per swept axis: the spike study's hint gain."""
    assert spikes.config.swept_axes() == [study.HINT_GAIN]
    for axis in spikes.config.swept_axes():
        assert_png(spikes.axis_figure(axis))


def test_tradeoff_figure(spikes):
    assert "hint_gain_tradeoff" in spikes.config.figure_names()
    assert_png(spikes.tradeoff_figure())


@pytest.mark.xfail(
    strict=True,
    raises=ScriptFailed,
    reason="hintforce.plots.tradeoff_figure without fit= takes both fit rows of a study with "
    "held-out directions (training and held-out directions) for each point",
)
def test_tradeoff_figure_with_held_out_directions(directions):
    """A study that sweeps hint gains and holds directions out gets the trade-off figure
    (StudyConfig.figure_names); its summary has two fit rows per model and hint gain."""
    assert Task(**directions.task).held_out.size
    directions.tradeoff_figure()


def test_generalisation_figure(directions):
    assert Task(**directions.task).held_out.size
    summary = csv(directions.statistics()["summary"])
    assert (summary["validation"] == study.HELD_OUT_DIRECTIONS).any()
    assert_png(directions.generalisation_figure())


# -- recording.smk -------------------------------------------------------------------------


def test_co_smoothing(spikes):
    for run in spikes.runs():
        table = assert_columns(spikes.co_smoothing(run), run, study.CO_SMOOTHING_COLUMNS)
        assert set(table["model"]) == set(study.MODEL_NAMES) | {study.SMOOTHING_BASELINE}
        rec = recording.Recording.from_arrays(*store.read_recording(spikes.record_neurons(run)))
        assert (table["n_neurons"] <= rec.held_out.sum()).all()
        assert (table["n_neurons"] > 0).all()


def test_nwb(spikes):
    from pynwb import NWBHDF5IO

    run = spikes.example_run()
    path = spikes.nwb(run)
    rec = recording.Recording.from_arrays(*store.read_recording(spikes.record_neurons(run)))
    task = Task(**spikes.task)
    with NWBHDF5IO(str(path), "r") as io_:
        nwb = io_.read()
        assert len(nwb.units) == rec.neurons.size
        assert len(nwb.trials) == task.n_directions * run[study.N_TRIALS]
        assert nwb.identifier.startswith(spikes.raw["study"])
        angles = store.read_dataset(spikes.emg(run), ["angle_rad"])["angle_rad"]
        condition = np.asarray(nwb.trials["condition"][:])
        np.testing.assert_allclose(nwb.trials["direction_rad"][:], angles[condition])
        muscles = store.read_dataset(spikes.record_emg(run), ["muscles"])["muscles"]
        assert nwb.acquisition["emg"].data.shape[1] == muscles.size
        for column, neuron in enumerate(rec.neurons[:3]):
            times = nwb.units["spike_times"][column]
            assert len(times) == int(rec.spikes.counts[..., column].sum()), neuron


def test_co_smoothing_tables(spikes):
    out = spikes.co_smoothing_tables()
    table = pd.concat([csv(spikes.co_smoothing(r)) for r in spikes.runs()], ignore_index=True)
    assert_same_table(out["table"], table)
    fit = csv(spikes.tables()["fit"])
    assert_same_table(out["summary"], stats.summarise_co_smoothing(table, fit))
    assert len(csv(out["validity"])) > 0


def test_recording_figure(spikes):
    assert_png(spikes.recording_figure())


# -- every script is covered ------------------------------------------------------------------

#: Each script and the tests that run it.
SCRIPT_TESTS = {
    "emg": [test_emg],
    "soc_connectivity": [test_soc_connectivity],
    "soc_gains": [test_soc_gains],
    "ground_truth_figure": [test_ground_truth_figure],
    "observe": [test_observe],
    "record_emg": [test_record_emg],
    "record_neurons": [test_record_neurons],
    "train": [test_train, test_train_shares_models_across_hint_gains],
    "similarity": [test_similarity],
    "soc_dynamics": [test_soc_dynamics],
    "dynamics": [test_dynamics],
    "tables": [test_tables],
    "statistics": [test_statistics],
    "dynamics_tables": [test_dynamics_tables],
    "findings": [test_findings, test_findings_with_recording],
    "mechanism_report": [test_mechanism_report],
    "summary_figures": [test_summary_figures],
    "example_run_figures": [test_example_run_figures],
    "axis_figure": [test_axis_figure],
    "tradeoff_figure": [test_tradeoff_figure, test_tradeoff_figure_with_held_out_directions],
    "generalisation_figure": [test_generalisation_figure],
    "co_smoothing": [test_co_smoothing],
    "nwb": [test_nwb],
    "co_smoothing_tables": [test_co_smoothing_tables],
    "recording_figure": [test_recording_figure],
}


def test_every_script_has_a_test():
    scripts = {p.stem for p in SCRIPTS.glob("*.py")}
    assert scripts - set(SCRIPT_TESTS) == set(), "scripts without a test in SCRIPT_TESTS"
    assert set(SCRIPT_TESTS) - scripts == set(), "SCRIPT_TESTS names scripts that do not exist"
    used = {rule.script for rule in RULES.values()}
    assert scripts == used, f"scripts no rule runs: {scripts - used}; missing: {used - scripts}"
