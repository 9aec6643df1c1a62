import json
import warnings

import numpy as np
import pandas as pd
import pytest
import zarr

from hintforce import jobs, store, study


def test_dataset_round_trips_arrays_dimension_names_and_attrs(tmp_path):
    path = tmp_path / "x.zarr"
    a = np.arange(24.0).reshape(2, 3, 4)
    store.write_dataset(path, {"a": (("c", "t", "u"), a)}, {"p": {"q": np.int64(2)}})
    back = store.read_dataset(path)
    assert np.array_equal(back["a"], a)
    attrs = store.read_attrs(path)
    assert attrs["p"] == {"q": 2}
    assert "hintforce_version" in attrs
    meta = json.loads((path / "a" / "zarr.json").read_text())
    assert meta["dimension_names"] == ["c", "t", "u"]
    assert meta["chunk_grid"]["configuration"]["chunk_shape"] == [2, 3, 4]


def test_dataset_overwrite_replaces_the_whole_store(tmp_path):
    path = tmp_path / "x.zarr"
    store.write_dataset(path, {"a": (("i",), np.ones(3)), "b": (("i",), np.ones(3))})
    store.write_dataset(path, {"a": (("i",), np.zeros(2))})
    assert set(store.read_dataset(path)) == {"a"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_failed_write_leaves_nothing_at_the_final_path(tmp_path):
    path = tmp_path / "x.zarr"
    with pytest.raises(ValueError, match="dimensions"):
        store.write_dataset(path, {"a": (("i",), np.ones((2, 2)))})
    assert list(tmp_path.iterdir()) == []


def test_missing_array_error_names_store_and_array(tmp_path):
    path = tmp_path / "x.zarr"
    store.write_dataset(path, {"a": (("i",), np.ones(3))})
    (path / "a" / "c" / "0").unlink()
    with pytest.raises(store.StoreError, match=r"x\.zarr.*'a'"):
        store.read_dataset(path)
    store.write_dataset(tmp_path / "y.zarr", {"b": (("i",), np.ones(3))})
    with pytest.raises(store.StoreError, match=r"y\.zarr.*'a'"):
        store.read_dataset(tmp_path / "y.zarr", ["a"])
    with pytest.raises(store.StoreError, match="nothere"):
        store.read_dataset(tmp_path / "nothere.zarr")


def test_truncated_chunk_is_reported_with_store_and_array(tmp_path):
    path = tmp_path / "x.zarr"
    store.write_dataset(path, {"a": (("i",), np.arange(1000.0))})
    chunk = path / "a" / "c" / "0"
    chunk.write_bytes(chunk.read_bytes()[:10])
    with pytest.raises(store.StoreError, match=r"x\.zarr.*'a'"):
        store.read_dataset(path, ["a"])


def test_an_all_zero_array_is_stored_not_treated_as_missing(tmp_path):
    store.write_dataset(tmp_path / "z.zarr", {"a": (("i",), np.zeros(4))})
    assert np.array_equal(store.read_dataset(tmp_path / "z.zarr")["a"], np.zeros(4))


def test_csv_and_json_round_trip_exactly(tmp_path):
    table = pd.DataFrame({"x": [0.1, 1 / 3, np.pi], "k": [1, 2, 3]})
    store.write_csv(tmp_path / "t.csv", table)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t.csv"), table)
    store.write_json(tmp_path / "o.json", {"idx": np.arange(3)})
    assert store.read_json(tmp_path / "o.json") == {"idx": [0, 1, 2]}


def test_job_logs_to_file_and_records_the_failure(tmp_path):
    import logging

    log_file = tmp_path / "job.log"
    with pytest.raises(SystemExit) as stop, jobs.job(log_file, threads=1):
        logging.getLogger("hintforce.test").info("progress 1")
        raise RuntimeError("diverged at step 7")
    assert str(stop.value) == f"RuntimeError: diverged at step 7 (log: {log_file})"
    text = log_file.read_text()
    assert "progress 1" in text
    assert "diverged at step 7" in text
    assert "Traceback" in text


def test_job_limits_blas_threads_inside_and_restores_them_after(tmp_path):
    from threadpoolctl import threadpool_info

    def blas_threads():
        return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}

    before = blas_threads()
    with jobs.job(tmp_path / "job.log", threads=1):
        assert blas_threads() <= {1}
    assert blas_threads() == before


def _cube_table() -> pd.DataFrame:
    """A tidy table over two numeric and two text dimensions, with two cells absent."""
    rng = np.random.default_rng(0)
    rows = [
        (f, s, m, k, rng.random())
        for f in (0.5, 0.3)
        for s in (4, 1)
        for m in ("ffh", "ff")
        for k in (10, 5)
        if not (f == 0.5 and s == 4 and m == "ff")
    ]
    return pd.DataFrame(rows, columns=["nf", "seed", "model", "k", "value"])


CUBE_DIMS = ["nf", "seed", "model", "k"]


def test_cubes_round_trip_tidy_tables_with_gaps_as_nan(tmp_path):
    table = _cube_table()
    store.write_cubes(tmp_path / "c.zarr", {"v": (table, CUBE_DIMS)}, {"axes": {"gt": 7}})
    data = store.read_dataset(tmp_path / "c.zarr")
    assert data["v"].shape == (2, 2, 2, 2)
    assert np.isnan(data["v"]).sum() == 2
    # Every dimension is a coordinate array: numbers sorted, text in order of first appearance.
    assert data["nf"].tolist() == [0.3, 0.5]
    assert data["seed"].tolist() == [1, 4]
    assert data["k"].tolist() == [5, 10]
    assert data["model"].tolist() == ["ffh", "ff"]
    attrs = store.read_attrs(tmp_path / "c.zarr")
    assert "coords" not in attrs
    assert attrs["axes"] == {"gt": 7}
    back = store.read_cube(tmp_path / "c.zarr", "v")
    assert list(back.columns) == [*CUBE_DIMS, "value"]
    pd.testing.assert_frame_equal(
        back.sort_values(CUBE_DIMS).reset_index(drop=True),
        table.sort_values(CUBE_DIMS).reset_index(drop=True),
        check_dtype=False,
    )


def test_cube_text_coordinates_are_variable_length_strings_and_round_trip(tmp_path):
    # Labels of different lengths, one longer than any inline string, one not ASCII.
    labels = ["ffh_shuffled", "ff", "soc_split_half" * 3, "floor", "réf"]
    table = pd.DataFrame({"model": labels, "value": np.arange(len(labels), dtype=float)})
    other = pd.DataFrame({"model": ["ff", "extra"], "value": [10.0, 11.0]})
    store.write_cubes(tmp_path / "c.zarr", {"v": (table, ["model"]), "w": (other, ["model"])})
    meta = json.loads((tmp_path / "c.zarr" / "model" / "zarr.json").read_text())
    assert meta["data_type"] == "string"
    assert meta["dimension_names"] == ["model"]
    # One coordinate shared by both cubes: the labels of both tables, in order of appearance.
    assert store.read_dataset(tmp_path / "c.zarr", ["model"])["model"].tolist() == [
        *labels,
        "extra",
    ]
    pd.testing.assert_frame_equal(store.read_cube(tmp_path / "c.zarr", "v"), table)
    back = store.read_cube(tmp_path / "c.zarr", "w")
    assert back.values.tolist() == other.values.tolist()


def test_xarray_opens_a_cube_store_and_selects_cells_by_label(tmp_path):
    import xarray as xr  # the test extra: a store that xarray cannot label is a failure

    table = _cube_table()
    store.write_cubes(
        tmp_path / "c.zarr",
        {"v": (table, CUBE_DIMS), "w": (table.assign(value=-table["value"]), CUBE_DIMS)},
    )
    with warnings.catch_warnings():
        # Consolidated: no fallback to (slow) non-consolidated reads, no warning.
        warnings.simplefilter("error")
        ds = xr.open_zarr(tmp_path / "c.zarr")
    with ds:
        assert set(ds.data_vars) == {"v", "w"}
        assert ds["v"].dims == tuple(CUBE_DIMS)
        assert ds["model"].values.tolist() == ["ffh", "ff"]
        for row in table.itertuples():
            cell = {"nf": row.nf, "seed": row.seed, "model": row.model, "k": row.k}
            assert float(ds["v"].sel(**cell)) == row.value
            assert float(ds["w"].sel(**cell)) == -row.value
        # The absent cells are NaN.
        gap = ds["v"].sel(nf=0.5, seed=4, model="ff")
        assert np.isnan(gap.values).all() and gap.sizes == {"k": 2}
        # A label that is not a coordinate is not silently matched.
        with pytest.raises(KeyError):
            ds["v"].sel(model="ffh_mean")


def test_cube_refuses_duplicate_cells(tmp_path):
    table = pd.DataFrame({"a": [1, 1], "value": [0.1, 0.2]})
    with pytest.raises(ValueError, match="same"):
        store.write_cubes(tmp_path / "c.zarr", {"v": (table, ["a"])})


def test_results_get_umask_permissions_not_owner_only(tmp_path):
    import os
    import stat

    umask = os.umask(0o022)
    try:
        store.write_csv(tmp_path / "t.csv", pd.DataFrame({"a": [1]}))
        store.write_dataset(tmp_path / "d.zarr", {"a": (("i",), np.ones(2))})
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "t.csv").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d.zarr").stat().st_mode) == 0o755


def test_a_killed_writers_temporary_sibling_is_removed_by_the_next_write(tmp_path):
    stale = tmp_path / ".x.zarr.tmp-dead"
    (stale / "a").mkdir(parents=True)
    store.write_dataset(tmp_path / "x.zarr", {"a": (("i",), np.ones(2))})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.zarr"]


def test_fit_rows_have_a_clean_and_a_noisy_row_per_model_and_nan_for_a_diverged_one(tmp_path):
    axes = {study.GROUND_TRUTH_SEED: 7, study.MUSCLE_FRACTION: 0.4, study.SEED: 2}
    store.write_dataset(
        tmp_path / "ff.zarr",
        {"rates": (("i",), np.ones(2))},
        {"model": "ff", "status": "ok", "r2_clean": 0.99, "r2_noisy": 0.9},
    )
    store.write_dataset(tmp_path / "ffh.zarr", {}, {"model": "ffh", "status": "diverged"})
    paths = {"ffh": tmp_path / "ffh.zarr", "ff": tmp_path / "ff.zarr"}
    fit = store.fit_rows(axes, paths)
    assert list(fit.columns) == [*axes, "model", "start", "r2"]
    # The models in the order given, each with its clean and noisy start.
    assert fit[["model", "start"]].values.tolist() == [
        ["ffh", "clean"],
        ["ffh", "noisy"],
        ["ff", "clean"],
        ["ff", "noisy"],
    ]
    for name, value in axes.items():
        assert (fit[name] == value).all(), name
    assert fit["r2"].iloc[:2].isna().all()
    assert fit["r2"].tolist()[2:] == [0.99, 0.9]
    assert store.trained_models(paths) == {"ff": tmp_path / "ff.zarr"}


def test_a_marker_file_in_a_store_is_ignored_without_a_warning(tmp_path):
    """Snakemake leaves ``.snakemake_timestamp`` in directory outputs; zarr listing the
    directory would warn that it is not part of the hierarchy."""
    import xarray as xr

    path = tmp_path / "s.zarr"
    store.write_dataset(path, {"x": (("i",), np.arange(3.0)), "y": (("i", "j"), np.ones((3, 2)))})
    (path / ".snakemake_timestamp").touch()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sorted(zarr.open_group(str(path), mode="r").array_keys()) == ["x", "y"]
        assert sorted(store.read_dataset(path)) == ["x", "y"]
        with xr.open_zarr(path) as ds:
            assert ds["y"].dims == ("i", "j")


def test_the_study_cube_holds_every_similarity_value_and_each_runs_spectrum(tmp_path):
    spectrum_dims = [*study.SPECTRUM_KEYS, "index"]
    runs = []
    for seed in (1, 2):
        axes = {a: 0.5 for a in study.AXIS_NAMES} | {study.SEED: seed}
        spectrum = pd.DataFrame(
            {key: ["x"] for key in spectrum_dims} | {"index": [0], "value": [seed / 10]}
        )
        path = tmp_path / f"run{seed}.zarr"
        store.write_cubes(path, {"spectrum": (spectrum, spectrum_dims)}, {"axes": axes})
        runs.append((axes, path))
    keys = {key: "x" for key in study.ROW_KEYS}
    similarity = pd.DataFrame(
        [
            {**axes, **keys, **{v: i + j / 10 for j, v in enumerate(study.SIMILARITY_VALUES)}}
            for i, (axes, _) in enumerate(runs)
        ]
    )
    store.write_study_cube(tmp_path / "cube.zarr", similarity, [p for _, p in runs])
    cells = [*study.AXIS_NAMES, *study.ROW_KEYS]
    for name in study.SIMILARITY_VALUES:
        back = store.read_cube(tmp_path / "cube.zarr", name, value="stored")
        merged = similarity.merge(back, on=cells)
        assert len(merged) == len(back) == len(similarity)
        assert (merged["stored"] == merged[name]).all()
    spectra = store.read_cube(tmp_path / "cube.zarr", "spectrum")
    assert sorted(zip(spectra[study.SEED], spectra["value"], strict=True)) == [(1, 0.1), (2, 0.2)]


def _held_out_model_stores(tmp_path):
    """Two trained model stores with R² on both sets of directions (and the per-start noisy R²
    the training script also stores) and one diverged store without any R²."""
    scores = {
        "ffh": {"r2_clean": 0.97, "r2_noisy": 0.91, "held_out_r2_clean": 0.71},
        "ff": {"r2_clean": 0.95, "r2_noisy": 0.88, "held_out_r2_clean": 0.52},
    }
    scores["ffh"] |= {"held_out_r2_noisy": 0.63, "held_out_r2_noisy_starts": [0.6, 0.66]}
    scores["ff"] |= {"held_out_r2_noisy": 0.41, "held_out_r2_noisy_starts": [0.4, 0.42]}
    paths = {}
    for name, attrs in scores.items():
        paths[name] = tmp_path / f"{name}.zarr"
        store.write_dataset(
            paths[name],
            {"rates": (("i",), np.ones(2))},
            {"model": name, "status": "ok", "r2_noisy_starts": [0.9, 0.92], **attrs},
        )
    paths["ffh_mean"] = tmp_path / "ffh_mean.zarr"
    store.write_dataset(paths["ffh_mean"], {}, {"model": "ffh_mean", "status": "diverged"})
    return scores, paths


HELD_OUT_AXES = {study.GROUND_TRUTH_SEED: 7, study.MUSCLE_FRACTION: 0.4, study.SEED: 3}


def test_fit_rows_without_held_out_have_no_directions_column_and_the_default_csv(tmp_path):
    scores, paths = _held_out_model_stores(tmp_path)
    fit = store.fit_rows(HELD_OUT_AXES, paths)
    assert study.DIRECTIONS not in fit.columns
    assert list(fit.columns) == [*HELD_OUT_AXES, "model", "start", "r2"]
    # The training directions' R² only, never the held-out one, in the order given.
    expected = pd.DataFrame(
        [
            {**HELD_OUT_AXES, "model": name, "start": start, "r2": r2}
            for name, r2_by_start in (
                ("ffh", (0.97, 0.91)),
                ("ff", (0.95, 0.88)),
                ("ffh_mean", (np.nan, np.nan)),
            )
            for start, r2 in zip(("clean", "noisy"), r2_by_start, strict=True)
        ]
    )
    pd.testing.assert_frame_equal(fit, expected)
    # The table written is byte for byte the one of a study without held-out directions.
    store.write_csv(tmp_path / "fit.csv", fit)
    store.write_csv(tmp_path / "expected.csv", expected)
    assert (tmp_path / "fit.csv").read_bytes() == (tmp_path / "expected.csv").read_bytes()
    assert b"held_out" not in (tmp_path / "fit.csv").read_bytes()


def test_fit_rows_with_held_out_have_a_row_per_model_direction_set_and_start(tmp_path):
    scores, paths = _held_out_model_stores(tmp_path)
    fit = store.fit_rows(HELD_OUT_AXES, paths, held_out=True)
    assert list(fit.columns) == [*HELD_OUT_AXES, "model", "start", study.DIRECTIONS, "r2"]
    assert set(fit[study.DIRECTIONS]) == set(study.DIRECTION_SETS) == {"train", "held_out"}
    assert len(fit) == len(paths) * len(study.DIRECTION_SETS) * len(study.STARTS)
    assert not fit.duplicated(["model", "start", study.DIRECTIONS]).any()
    for name, value in HELD_OUT_AXES.items():
        assert (fit[name] == value).all(), name
    assert fit["model"].tolist() == [m for m in paths for _ in range(4)]
    assert pd.api.types.is_float_dtype(fit["r2"])
    for row in fit.itertuples():
        prefix = "held_out_" if getattr(row, study.DIRECTIONS) == "held_out" else ""
        expected = scores.get(row.model, {}).get(f"{prefix}r2_{row.start}", np.nan)
        if np.isnan(expected):
            assert np.isnan(row.r2), row
        else:
            assert row.r2 == expected, row
    # The training rows are the default table's rows, in its order.
    train = fit[fit[study.DIRECTIONS] == "train"].drop(columns=study.DIRECTIONS)
    pd.testing.assert_frame_equal(
        train.reset_index(drop=True), store.fit_rows(HELD_OUT_AXES, paths)
    )
    diverged = fit[fit["model"] == "ffh_mean"]
    assert diverged["r2"].isna().all() and len(diverged) == 4
