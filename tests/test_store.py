import json

import numpy as np
import pandas as pd
import pytest

from hintforce import store


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
    with pytest.raises(SystemExit) as stop, store.job(log_file, threads=1):
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
    with store.job(tmp_path / "job.log", threads=1):
        assert blas_threads() <= {1}
    assert blas_threads() == before


def test_cubes_round_trip_tidy_tables_with_gaps_as_nan(tmp_path):
    rng = np.random.default_rng(0)
    rows = [
        (f, s, m, k, rng.random())
        for f in (0.3, 0.5)
        for s in (1, 4)
        for m in ("ffh", "ff")
        for k in (5, 10)
        if not (f == 0.5 and s == 4 and m == "ff")
    ]
    table = pd.DataFrame(rows, columns=["nf", "seed", "model", "k", "value"])
    dims = ["nf", "seed", "model", "k"]
    store.write_cubes(tmp_path / "c.zarr", {"v": (table, dims)})
    data = store.read_dataset(tmp_path / "c.zarr")
    assert data["v"].shape == (2, 2, 2, 2)
    assert np.isnan(data["v"]).sum() == 2
    assert store.read_attrs(tmp_path / "c.zarr")["coords"] == {"model": ["ffh", "ff"]}
    back = store.read_cube(tmp_path / "c.zarr", "v")
    key = dims
    pd.testing.assert_frame_equal(
        back.sort_values(key).reset_index(drop=True),
        table.sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )


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


def test_fit_table_has_a_clean_and_a_noisy_row_per_model_and_nan_for_a_diverged_one(tmp_path):
    keys = {"neuron_fraction": 0.3, "muscle_fraction": 0.4, "seed": 2}
    store.write_dataset(
        tmp_path / "ff.zarr",
        {"rates": (("i",), np.ones(2))},
        {**keys, "model": "ff", "status": "ok", "r2_clean": 0.99, "r2_noisy": 0.9},
    )
    store.write_dataset(tmp_path / "ffh.zarr", {}, {**keys, "model": "ffh", "status": "diverged"})
    fit = store.fit_table([tmp_path / "ffh.zarr", tmp_path / "ff.zarr"])
    assert list(fit.columns) == [*store.RUN_KEYS, "model", "start", "r2"]
    assert fit[["model", "start"]].values.tolist() == [
        ["ff", "clean"],
        ["ff", "noisy"],
        ["ffh", "clean"],
        ["ffh", "noisy"],
    ]
    assert fit["r2"].tolist()[:2] == [0.99, 0.9]
    assert fit["r2"].iloc[2:].isna().all()
    assert store.trained_models({"ff": tmp_path / "ff.zarr", "ffh": tmp_path / "ffh.zarr"}) == {
        "ff": tmp_path / "ff.zarr"
    }
