"""The workflow as a user runs it (see support.workflow): dry runs, real runs of the small config
and of a sweep over every kind of axis, and what a change of setting, axis value or library
module schedules."""

from __future__ import annotations

import ast
import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from support.workflow import (
    EXACT_AXES,
    ROOT,
    SMALL,
    make_project,
    planned_jobs,
    snakemake,
    with_config,
)

from hintforce import dynamics, force, mechanism, store, study
from hintforce.task import Task

#: The validations of a run whose task holds no direction out.
TRAINING_VALIDATIONS = tuple(v for v in study.VALIDATIONS if v != study.HELD_OUT_DIRECTIONS)

pytestmark = pytest.mark.workflow

SWEEP = "tests/config.sweep.yaml"
GENERALISATION = "tests/config.generalisation.yaml"
RECORDING = "tests/config.recording.yaml"
TABLES = ("similarity.csv", "fit.csv", "summary.csv", "paired_tests.csv")
UNHINTED = [m.name for m in study.MODELS if not m.hinted]
HINTED = [m.name for m in study.MODELS if m.hinted]


def results(project: Path, config: str) -> Path:
    name = yaml.safe_load((project / config).read_text()).get("study", "default")
    return project / "results" / name


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    project = make_project(tmp_path_factory.mktemp("study"))
    snakemake(project, "--cores", "2", "--configfile", SMALL)
    return project


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory) -> Path:
    project = make_project(tmp_path_factory.mktemp("sweep"))
    snakemake(project, "--cores", "2", "--configfile", SWEEP)
    return project


@pytest.fixture(scope="module")
def generalisation_run(tmp_path_factory) -> Path:
    project = make_project(tmp_path_factory.mktemp("generalisation"))
    snakemake(project, "--cores", "2", "--configfile", GENERALISATION)
    return project


@pytest.fixture(scope="module")
def recording_run(tmp_path_factory) -> Path:
    project = make_project(tmp_path_factory.mktemp("recording"))
    snakemake(project, "--cores", "2", "--configfile", SMALL, RECORDING)
    return project


def test_default_study_dry_run_plans_every_stage(tmp_path):
    project = make_project(tmp_path)
    rules = [rule for rule, _ in planned_jobs(project, "--cores", "2")]
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    n_runs = len(config["sweep"]["seeds"]) * len(config["sweep"]["neuron_fractions"])
    assert rules.count("train") == len(UNHINTED) * len(config["sweep"]["seeds"])
    assert rules.count("train_hinted") == len(HINTED) * n_runs
    assert rules.count("similarity") == n_runs
    for rule in ("emg", "soc_connectivity", "soc_gains", "tables", "statistics", "findings"):
        assert rules.count(rule) == 1
    assert "axis_figure" not in rules  # no axis has more than one value but the seed


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "studies").glob("*.yaml")))
def test_every_shipped_study_plans_its_figures(config, tmp_path):
    project = make_project(tmp_path)
    name = yaml.safe_load((project / "studies" / config).read_text())["study"]
    outputs = [out for _, out in planned_jobs(project, "--configfile", f"studies/{config}")]
    assert any(out.startswith(f"results/{name}/figures/") for out in outputs)


def test_snakefmt_and_lint_are_clean():
    fmt = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stderr
    lint = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint"], cwd=ROOT, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stderr
    assert "Lints for" not in lint.stdout + lint.stderr


def test_small_run_writes_every_contract_file(small_run):
    config = yaml.safe_load((small_run / SMALL).read_text())
    n_cond = config["ground_truth"]["emg"]["n_conditions"]
    n_time = config["ground_truth"]["emg"]["n_times"]
    n_muscles = config["ground_truth"]["emg"]["n_muscles"]
    n_neurons = config["ground_truth"]["soc"]["n_neurons"]
    n_units = config["models"]["n_units"]
    seeds = config["sweep"]["seeds"]
    out = results(small_run, SMALL)
    circuit = out / f"ground_truth/gt~{config['ground_truth']['seed']}"

    emg = store.read_dataset(circuit / "emg.zarr")
    assert emg["emg"].shape == (n_cond, n_time, n_muscles)
    soc = store.read_dataset(circuit / "soc.zarr")
    assert soc["rates"].shape == (n_cond, n_time, n_neurons)
    for name in ("W", "x0", "gains", "readout", "bias", "abscissa_trace", "emg_fit"):
        assert name in soc
    assert len(store.read_attrs(circuit / "soc.zarr")["r2"]) == n_muscles

    for seed in seeds:
        base = out / f"runs/gt~7/mf~0.4/seed~{seed}"
        seen = json.loads((base / "observation.json").read_text())
        assert sorted(seen["neuron_order"]) == list(range(n_neurons))
        assert len(seen["muscles"]) == round(0.4 * n_muscles)
        run = base / f"n~{n_units}/nf~0.3/hg~0.3"
        for model in study.MODEL_NAMES:
            where = run if study.model(model).hinted else base / f"n~{n_units}"
            arrays = store.read_dataset(where / f"{model}.zarr")
            assert arrays["rates"].shape == (n_cond, n_time, n_units)
            assert arrays["output"].shape == (n_cond, n_time, len(seen["muscles"]))
            assert np.isfinite(arrays["rates"]).all()
        per_run = pd.read_csv(run / "similarity.csv")
        assert list(per_run.columns) == [*EXACT_AXES, *study.SIMILARITY_COLUMNS]
        assert set(per_run["seed"]) == {seed}

    similarity = pd.read_csv(out / "tables/similarity.csv")
    assert list(similarity.columns) == [*EXACT_AXES, *study.SIMILARITY_COLUMNS]
    # no trial-split row: the small study records exact rates
    assert set(similarity["model"]) == set(study.MODEL_NAMES) | set(study.REFERENCES) - {
        study.TRIAL_SPLIT
    }
    assert set(similarity["population"]) == set(study.POPULATIONS)
    assert set(similarity["metric"]) == {m.name for m in study.METRICS}
    assert set(similarity["component"]) == set(study.COMPONENTS)
    assert set(similarity["validation"]) == set(TRAINING_VALIDATIONS)
    assert similarity["null_p"].between(0, 1).all()
    fit = pd.read_csv(out / "tables/fit.csv")
    assert list(fit.columns) == [*EXACT_AXES, *study.FIT_COLUMNS]
    assert len(fit) == len(seeds) * len(study.MODEL_NAMES) * len(study.STARTS)
    summary = pd.read_csv(out / "tables/summary.csv")
    assert list(summary.columns)[-len(study.SUMMARY_COLUMNS) :] == list(study.SUMMARY_COLUMNS)
    assert set(summary["n_over"]) == {study.SEED}
    paired = pd.read_csv(out / "tables/paired_tests.csv")
    assert list(paired.columns)[-len(study.PAIRED_COLUMNS) :] == list(study.PAIRED_COLUMNS)
    assert set(paired["contrast"]) == {f"{a}-{b}" for a, b in study.CONTRASTS}
    page = (out / "tables/findings.html").read_text()
    assert "unobserved SOC neurons" in page

    # Mechanism: every model and the SOC, every measure, per run; the DSA rows per population.
    dyn = pd.read_csv(out / "tables/dynamics.csv")
    assert list(dyn.columns) == [*EXACT_AXES, *study.DYNAMICS_COLUMNS]
    per_condition = dyn[dyn["condition"].notna()]
    assert set(per_condition["model"]) == {study.CEILING, *study.MODEL_NAMES}
    counts = per_condition.groupby(["seed", "model"]).size()
    assert (counts == n_cond * len(mechanism.MEASURE_NAMES)).all()
    dsa_rows = dyn[dyn["condition"].isna()]
    assert set(dsa_rows["measure"]) == {dynamics.DSA_PREFIX + p for p in study.POPULATIONS}
    assert set(dsa_rows["model"]) == set(study.MODEL_NAMES)
    tests = pd.read_csv(out / "tables/dynamics_tests.csv")
    assert set(tests["contrast"]) == {f"{a}-{b}" for a, b in study.CONTRASTS}
    assert "Do the models work like the SOC?" in (out / "tables/mechanism.html").read_text()
    for name in (
        "model_outputs",
        "cca_spectra",
        "headline",
        "trajectories",
        "mechanism",
        "ground_truth/gt~7",
    ):
        assert (out / f"figures/{name}.png").stat().st_size > 10_000


def test_every_stored_model_reruns_bit_identically_from_its_weights(small_run):
    out = results(small_run, SMALL)
    stores = [p for p in sorted((out / "runs").rglob("*.zarr")) if p.stem in study.MODEL_NAMES]
    assert len(stores) == 2 * len(study.MODEL_NAMES)  # two seeds, one fraction and gain
    for path in stores:
        data = store.read_dataset(path, ["rates", "output"])
        attrs = store.read_attrs(path)
        circuit = out / "ground_truth" / f"gt~{attrs['axes'][study.GROUND_TRUTH_SEED]}"
        n_neurons = store.read_dataset(circuit / "soc.zarr", ["gains"])["gains"].shape[1]
        fit = dynamics.load_model(path, n_neurons).fit
        task, params = Task(**attrs["task"]), force.ForceParams(**attrs["params"])
        emg = store.read_dataset(circuit / "emg.zarr", ["emg"])["emg"]
        targets = task.with_rest(emg)[:, :, attrs["muscles"]]
        rerun = force.evaluate_task(fit.network, task, fit.shared, targets, params)
        np.testing.assert_array_equal(rerun.rates, data["rates"], err_msg=str(path))
        np.testing.assert_array_equal(rerun.output, data["output"], err_msg=str(path))
        assert rerun.splits[force.TRAIN].r2_clean == attrs["r2_clean"]
        assert rerun.splits[force.TRAIN].r2_noisy == attrs["r2_noisy"]


def test_a_second_run_does_nothing(small_run):
    assert planned_jobs(small_run, "--configfile", SMALL) == []


def test_adding_a_hint_gain_trains_only_the_hinted_models_of_that_gain(small_run):
    config = with_config(
        small_run, "hint.yaml", lambda c: c["sweep"].__setitem__("hint_gains", [0.3, 0.5])
    )
    jobs = planned_jobs(small_run, "--configfile", config)
    trained = sorted(out for rule, out in jobs if rule.startswith("train"))
    assert len(trained) == 2 * len(HINTED)
    assert all("/hg~0.5/" in out and rule == "train_hinted" for rule, out in jobs if out in trained)
    similarity = [out for rule, out in jobs if rule == "similarity"]
    assert len(similarity) == 2 and all("/hg~0.5/" in out for out in similarity)
    rules = {rule for rule, _ in jobs}
    assert rules.isdisjoint({"emg", "soc_connectivity", "soc_gains", "observe"})
    assert {"tables", "statistics", "tradeoff_figure", "axis_figure"} <= rules


def test_adding_a_circuit_builds_that_circuit_and_its_runs_only(small_run):
    config = with_config(
        small_run, "gt.yaml", lambda c: c["sweep"].__setitem__("ground_truth_seeds", [7, 11])
    )
    jobs = planned_jobs(small_run, "--configfile", config)
    per_circuit = [out for rule, out in jobs if rule not in AGGREGATE_RULES]
    assert per_circuit and all("gt~11" in out for out in per_circuit)
    rules = [rule for rule, _ in jobs]
    for rule in ("emg", "soc_connectivity", "soc_gains", "ground_truth_figure", "soc_dynamics"):
        assert rules.count(rule) == 1
    assert rules.count("train") == 2 * len(UNHINTED)


def test_adding_a_model_size_trains_that_size_only(small_run):
    config = with_config(small_run, "n.yaml", lambda c: c["sweep"].__setitem__("n_units", [80, 50]))
    jobs = planned_jobs(small_run, "--configfile", config)
    trained = [out for rule, out in jobs if rule.startswith("train")]
    assert len(trained) == 2 * len(study.MODEL_NAMES)
    assert all("/n~50/" in out for out in trained)
    assert {rule for rule, _ in jobs}.isdisjoint({"emg", "soc_connectivity", "soc_gains"})


def test_adding_a_seed_schedules_only_that_seed_and_the_aggregates(small_run):
    config = with_config(
        small_run, "seed.yaml", lambda c: c["sweep"].__setitem__("seeds", [1, 2, 9])
    )
    jobs = planned_jobs(small_run, "--configfile", config)
    per_run = [out for rule, out in jobs if rule not in AGGREGATE_RULES]
    # observe, the EMG and the neurons' recordings, the models, similarity, dynamics
    assert len(per_run) == 1 + 2 + len(study.MODEL_NAMES) + 2
    assert all("seed~9/" in out for out in per_run)


AGGREGATE_RULES = {
    "tables",
    "statistics",
    "findings",
    "summary_figures",
    "axis_figure",
    "tradeoff_figure",
    "example_run_figures",
    "generalisation_figure",
    "dynamics_tables",
    "mechanism_report",
    "co_smoothing_tables",
    "recording_figure",
}


def _script_imports(script: Path) -> set[str]:
    """The hintforce modules (dotted, relative to ``hintforce``) a script names in its import
    statements."""
    names = set()
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "hintforce":
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("hintforce."):
            names.add(node.module.split(".", 1)[1])
    return names


def _loaded_modules(imports: set[str]) -> set[str]:
    """Every hintforce module (dotted, relative to ``hintforce``; a package by its own name)
    Python loads when importing ``imports`` (fresh interpreter), with the package's
    ``__init__``, which importing any of them runs."""
    code = (
        "import sys, importlib\n"
        f"for name in {sorted(imports)!r}: importlib.import_module('hintforce.' + name)\n"
        "print(' '.join(m.split('.', 1)[1] for m in sys.modules if m.startswith('hintforce.')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return {"__init__", *proc.stdout.split()}


def _library_modules(lib: Path) -> dict[str, Path]:
    """Every source file of the library by its module name as :func:`_loaded_modules` gives it
    (``__init__`` for the library's own, ``similarity`` for ``similarity/__init__.py``)."""
    modules = {}
    for path in sorted(lib.rglob("*.py")):
        parts = path.relative_to(lib).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts) or "__init__"] = path
    return modules


def _rules_and_scripts() -> dict[str, str]:
    rules = {}
    for smk in (ROOT / "workflow/rules").glob("*.smk"):
        for rule, body in re.findall(
            r"^rule (\w+):\n(.*?)(?=^\S|\Z)", smk.read_text(), re.M | re.S
        ):
            script = re.search(r'script:\s*"\.\./\.\./scripts/(\w+)\.py"', body)
            if script:
                rules[rule] = script.group(1)
    rules["train_hinted"] = rules["train"]
    return rules


def test_editing_a_library_module_reruns_exactly_the_rules_whose_scripts_import_it(small_run):
    scripts = _rules_and_scripts()
    in_study = {rule for rule, _ in planned_jobs(small_run, "--forceall", "--configfile", SMALL)}
    closure = {
        rule: _loaded_modules(_script_imports(ROOT / f"scripts/{script}.py"))
        for rule, script in scripts.items()
        if rule in in_study
    }
    for module, source in _library_modules(small_run / "src/hintforce").items():
        original = source.read_text()
        source.write_text(original + "\n# an edit\n")
        try:
            proc = snakemake(small_run, "--dry-run", "--configfile", SMALL)
        finally:
            source.write_text(original)
        reasons = {}
        for block in re.split(r"\n(?=(?:local)?rule \w+:)", proc.stdout + proc.stderr):
            head = re.match(r"(?:local)?rule (\w+):", block)
            if head and head.group(1) != "all":
                reason = re.search(r"^\s+reason: (.*)$", block, flags=re.M)
                reasons.setdefault(head.group(1), []).append(reason.group(1) if reason else "")
        expected = {rule for rule, loaded in closure.items() if module in loaded}
        if module == "jobs":  # decides logs and threads only: reruns nothing
            expected = set()
        # Every rule whose script imports the module reruns; any other rule reruns only
        # because a job upstream of it does.
        assert expected <= set(reasons), module
        for rule in set(reasons) - expected:
            assert all("Input files updated by another job" in r for r in reasons[rule]), rule
            edited = str(source.relative_to(small_run))
            assert not any(edited in r for r in reasons[rule]), (module, rule)


def test_a_sweep_over_every_axis_runs_end_to_end(sweep_run):
    config = yaml.safe_load((sweep_run / SWEEP).read_text())
    out = results(sweep_run, SWEEP)
    sweep = config["sweep"]
    axes = {
        study.GROUND_TRUTH_SEED: sweep["ground_truth_seeds"],
        study.MUSCLE_FRACTION: [config["observation"]["muscle_fraction"]],
        study.SEED: sweep["seeds"],
        study.N_UNITS: sweep["n_units"],
        study.NEURON_FRACTION: sweep["neuron_fractions"],
        study.HINT_GAIN: sweep["hint_gains"],
    }
    n_runs = int(np.prod([len(v) for v in axes.values()]))
    similarity = pd.read_csv(out / "tables/similarity.csv")
    runs = similarity[list(EXACT_AXES)].drop_duplicates()
    assert len(runs) == n_runs == 32
    expected = pd.DataFrame(itertools.product(*axes.values()), columns=list(axes))
    assert runs.merge(expected).shape[0] == n_runs
    per_run = similarity.groupby(list(EXACT_AXES)).size()
    assert per_run.nunique() == 1
    fit = pd.read_csv(out / "tables/fit.csv")
    assert len(fit) == n_runs * len(study.MODEL_NAMES) * len(study.STARTS)
    summary = pd.read_csv(out / "tables/summary.csv")
    assert set(summary["n_over"]) == {study.SEED, study.GROUND_TRUTH_SEED}
    circuits = summary[summary["n_over"] == study.GROUND_TRUTH_SEED]
    assert circuits[study.GROUND_TRUTH_SEED].isna().all()
    assert (circuits["n"] <= 2).all()
    models = circuits[circuits["model"].isin(study.MODEL_NAMES) & (circuits["quantity"] == "value")]
    assert (models["n"] == 2).all()  # seeds averaged within each circuit, then 2 circuits
    for axis in (study.GROUND_TRUTH_SEED, study.N_UNITS, study.NEURON_FRACTION, study.HINT_GAIN):
        assert (out / f"figures/similarity_vs_{axis}.png").stat().st_size > 10_000
    assert (out / "figures/hint_gain_tradeoff.png").stat().st_size > 10_000
    for gt in sweep["ground_truth_seeds"]:
        assert (out / f"figures/ground_truth/gt~{gt}.png").is_file()


def test_the_sweep_cube_opens_in_xarray_with_one_dimension_per_axis(sweep_run):
    xarray = pytest.importorskip("xarray")
    cube = xarray.open_zarr(results(sweep_run, SWEEP) / "tables/similarity.zarr")
    assert list(cube["value"].dims) == [*EXACT_AXES, *study.ROW_KEYS]
    table = pd.read_csv(results(sweep_run, SWEEP) / "tables/similarity.csv")
    row = table.iloc[len(table) // 2]
    picked = cube["value"].sel({name: row[name] for name in (*EXACT_AXES, *study.ROW_KEYS)})
    assert float(picked) == pytest.approx(row["value"], rel=1e-12)
    assert cube.sizes[study.HINT_GAIN] == 2 and cube.sizes[study.GROUND_TRUTH_SEED] == 2


def test_studies_with_different_names_never_share_results(sweep_run):
    assert results(sweep_run, SWEEP) != results(sweep_run, SMALL)
    assert not (results(sweep_run, SMALL)).exists()


def test_a_study_with_held_out_directions_and_a_rest_window_runs_end_to_end(generalisation_run):
    config = yaml.safe_load((generalisation_run / GENERALISATION).read_text())
    out = results(generalisation_run, GENERALISATION)
    task = config["task"]
    n_times, n_rest = config["ground_truth"]["emg"]["n_times"], round(task["rest_ms"] / 10.0)
    held_out, training = [1, 3, 5, 7], [0, 2, 4, 6]  # interleaved: the odd directions

    # Model stores: every direction, movement then rest, on a labelled time axis.
    for model in study.MODEL_NAMES:
        path = next((out / "runs").rglob(f"{model}.zarr"))
        data = store.read_dataset(path, ["rates", "time_ms"])
        assert data["rates"].shape[:2] == (8, n_times + n_rest), model
        np.testing.assert_array_equal(data["time_ms"], 10.0 * np.arange(n_times + n_rest))
        attrs = store.read_attrs(path)
        assert attrs["training_directions"] == training and attrs["held_out_directions"] == held_out

    # fit.csv: one row per model, start and set of directions.
    fit = pd.read_csv(out / "tables/fit.csv")
    assert set(fit["directions"]) == set(study.DIRECTION_SETS)
    per_model = fit.groupby(["seed", "model", "start"])["directions"].agg(sorted)
    assert all(v == sorted(study.DIRECTION_SETS) for v in per_model)

    # similarity.csv: the held-out validation for every model, population, metric and k.
    similarity = pd.read_csv(out / "tables/similarity.csv")
    cells = ["model", "population", "metric", "k", "component"]
    by_validation = {
        v: set(map(tuple, rows[cells].drop_duplicates().values))
        for v, rows in similarity.groupby("validation")
    }
    assert by_validation[study.HELD_OUT_DIRECTIONS] == by_validation["cross_validated"]

    # paired_tests.csv: FFH against FF and each sham on held-out R^2 and held-out similarity.
    paired = pd.read_csv(out / "tables/paired_tests.csv")
    held = paired[paired["validation"] == study.HELD_OUT_DIRECTIONS]
    assert set(held["contrast"]) == {f"{a}-{b}" for a, b in study.CONTRASTS}
    assert {"r2", "cca"} <= set(held["metric"])

    # The report: the generalisation figure and the findings' claim and answer.
    assert (out / "figures/generalisation.png").stat().st_size > 0
    findings = (out / "tables/findings.html").read_text()
    assert "generali" in findings.lower()


def test_a_spike_recording_study_runs_end_to_end(recording_run):
    from pynwb import NWBHDF5IO

    out = recording_run / "results" / "recording"
    config = yaml.safe_load((recording_run / SMALL).read_text())
    n_cond = config["ground_truth"]["emg"]["n_conditions"]
    similarity = pd.read_csv(out / "tables/similarity.csv")
    assert list(similarity.columns) == [*study.AXIS_NAMES, *study.SIMILARITY_COLUMNS]
    assert set(similarity[study.N_TRIALS]) == {4, 8}
    trial_split = similarity[similarity["model"] == study.TRIAL_SPLIT]
    assert set(trial_split["population"]) == {"observed"} and len(trial_split) > 0
    paired = pd.read_csv(out / "tables/paired_tests.csv")
    assert set(paired[study.N_TRIALS]) == {4, 8}

    # FF and the floor are trained once per seed, whatever the trial count.
    for model in (study.FF, study.FLOOR):
        stores = sorted((out / "runs").rglob(f"{model}.zarr"))
        assert len(stores) == len(config["sweep"]["seeds"])
        assert all("/nt~" not in str(p) for p in stores)
    assert len(list((out / "runs").rglob(f"{study.FFH}.zarr"))) == 4

    co = pd.read_csv(out / "tables/co_smoothing.csv")
    assert list(co.columns) == [*study.AXIS_NAMES, *study.CO_SMOOTHING_COLUMNS]
    assert set(co["model"]) == set(study.MODEL_NAMES) | {study.SMOOTHING_BASELINE}
    assert np.isfinite(co["bits_per_spike"]).all() and (co["n_neurons"] >= 1).all()
    validity = pd.read_csv(out / "tables/co_smoothing_validity.csv")
    assert set(validity["scope"]) == {"runs_and_models", "models_within_run"}
    assert (out / "figures/recording.png").stat().st_size > 0

    recordings = sorted((out / "runs").rglob("recording.zarr"))
    assert len(recordings) == 4
    for path in recordings:
        data = store.read_dataset(path)
        counts, neurons = data["counts"], data["neurons"]
        with NWBHDF5IO(str(path.with_suffix(".nwb")), "r") as io:
            nwb = io.read()
            trials = nwb.trials.to_dataframe()
            n_trials = counts.shape[1]
            assert len(trials) == n_cond * n_trials
            np.testing.assert_array_equal(trials["condition"], np.tile(np.arange(n_cond), n_trials))
            np.testing.assert_allclose(
                trials["direction_rad"], 2 * np.pi * trials["condition"] / n_cond
            )
            np.testing.assert_array_equal(nwb.units.id[:], neurons)
            for unit in range(len(neurons)):
                times = np.asarray(nwb.units["spike_times"][unit])
                per_trial = [
                    np.sum((times >= row.start_time) & (times < row.stop_time))
                    for row in trials.itertuples()
                ]
                expected = counts[:, :, :, unit].sum(axis=2).T.ravel()  # trial-major order
                np.testing.assert_array_equal(per_trial, expected)
    # 4 trials are the first 4 of the 8 (each neuron's stream is drawn trial by trial)
    seed_1 = [p for p in recordings if "/seed~1/" in str(p)]
    four, eight = (store.read_dataset(p, ["counts"])["counts"] for p in sorted(seed_1, key=str))
    four, eight = sorted((four, eight), key=lambda c: c.shape[1])
    np.testing.assert_array_equal(four, eight[:, :4])


def test_adding_a_trial_count_trains_only_the_hinted_models_of_that_count(recording_run):
    layer = yaml.safe_load((recording_run / RECORDING).read_text())
    layer["sweep"]["n_trials"] = [4, 8, 12]
    (recording_run / "tests/trials.yaml").write_text(yaml.safe_dump(layer))
    jobs = planned_jobs(recording_run, "--configfile", SMALL, "tests/trials.yaml")
    trained = [(rule, out) for rule, out in jobs if rule.startswith("train")]
    assert len(trained) == 2 * len(HINTED)
    assert all(rule == "train_hinted" and "/nt~12/" in out for rule, out in trained)
    recorded = [out for rule, out in jobs if rule == "record_neurons"]
    assert len(recorded) == 2 and all("/nt~12/" in out for out in recorded)
    assert {rule for rule, _ in jobs}.isdisjoint({"record_emg", "observe", "soc_gains"})
