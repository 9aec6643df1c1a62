"""Reading and writing results: Zarr v3 stores, tidy CSV and JSON, all written atomically.

This is the only module of the package that touches paths. Every writer builds its output in
a temporary sibling of the final path and renames it into place, so an interrupted job never
leaves a readable half-written store, table or file at the final path.

A *dataset* here is a flat Zarr group: a few named arrays, each one chunk, each with named
dimensions, and group attributes holding the parameters that produced it plus the package
version.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import zarr

from hintforce import __version__, study
from hintforce.observe import Observation

__all__ = [
    "StoreError",
    "fit_rows",
    "gather_spectra",
    "read_attrs",
    "read_cube",
    "read_dataset",
    "read_json",
    "read_observation",
    "read_recording",
    "to_jsonable",
    "trained_models",
    "write_cubes",
    "write_csv",
    "write_dataset",
    "write_json",
    "write_nwb",
    "write_study_cube",
    "write_text",
]

log = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """A stored result is missing, truncated or unreadable."""


def to_jsonable(value: Any) -> Any:
    """Convert dataclasses, numpy scalars/arrays and tuples to plain JSON types."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


@contextlib.contextmanager
def _atomic_path(path: str | os.PathLike, directory: bool) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it onto ``path`` if the block succeeds."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{final.name}.tmp-"
    for stale in final.parent.glob(f"{glob.escape(prefix)}*"):  # left by a killed writer
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=final.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, dir=final.parent)
        os.close(fd)
        tmp = Path(name)
    # mkdtemp/mkstemp create owner-only entries; results get the usual permissions instead.
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod((0o777 if directory else 0o666) & ~umask)
    try:
        yield tmp
        if final.is_dir() and not final.is_symlink():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def write_dataset(
    path: str | os.PathLike,
    arrays: Mapping[str, tuple[Sequence[str], np.ndarray]],
    attrs: Mapping[str, Any] | None = None,
) -> None:
    """Write named arrays with named dimensions to a Zarr v3 store, atomically.

    Parameters
    ----------
    path : path-like
        Final location of the store (a directory, conventionally ending in ``.zarr``).
    arrays : mapping name -> (dimension names, array)
        Each array is written as a single chunk; the number of dimension names must equal
        its number of dimensions.
    attrs : mapping, optional
        JSON-serialisable attributes of the group (parameters, fit quality, ...). The package
        version is added as ``hintforce_version``.

    Notes
    -----
    The group's metadata is consolidated (every array's metadata copied into the group's
    ``zarr.json``), so readers (zarr, ``xarray.open_zarr``) open the store without listing its
    directory: they neither warn about marker files a workflow manager leaves in it
    (Snakemake's ``.snakemake_timestamp``) nor fall back to slower non-consolidated reads.
    """
    with _atomic_path(path, directory=True) as tmp:
        group = zarr.open_group(str(tmp), mode="w", zarr_format=3)
        for name, (dims, data) in arrays.items():
            data = np.asarray(data)
            if len(dims) != data.ndim:
                raise ValueError(
                    f"array {name!r} has {data.ndim} dimensions but {len(dims)} names {dims}"
                )
            if data.dtype == object:  # text: variable-length UTF-8 strings
                array = group.create_array(
                    name,
                    shape=data.shape,
                    dtype=str,
                    chunks=data.shape or None,
                    dimension_names=tuple(dims),
                    config={"write_empty_chunks": True},
                )
                array[...] = data
                continue
            group.create_array(
                name,
                data=data,
                chunks=data.shape or None,
                dimension_names=tuple(dims),
                config={"write_empty_chunks": True},
            )
        group.attrs.update(to_jsonable({**(attrs or {}), "hintforce_version": __version__}))
        with warnings.catch_warnings():
            # zarr notes that consolidated metadata is an extension of the v3 format; every
            # zarr-python 3 and xarray reader supports it
            warnings.filterwarnings("ignore", message="Consolidated metadata is currently not")
            zarr.consolidate_metadata(str(tmp), zarr_format=3)


def _open(path: str | os.PathLike) -> zarr.Group:
    try:
        return zarr.open_group(str(path), mode="r", zarr_format=3)
    except Exception as err:  # zarr raises several types for a missing/corrupt group
        raise StoreError(f"cannot open store {path}: {type(err).__name__}: {err}") from None


def read_dataset(path: str | os.PathLike, names: Sequence[str] | None = None) -> dict:
    """Read arrays from a store written by :func:`write_dataset`.

    Parameters
    ----------
    path : path-like
        The store.
    names : sequence of str, optional
        Arrays to read (default: all).

    Returns
    -------
    dict
        name -> ndarray.

    Raises
    ------
    StoreError
        If the store or one of the arrays is missing, truncated or unreadable; the message
        names the store and the array.
    """
    group = _open(path)
    if names is None:
        names = list(group.array_keys())
    out = {}
    for name in names:
        try:
            array = group[name]
            if array.nchunks_initialized < array.nchunks:
                raise ValueError(f"{array.nchunks - array.nchunks_initialized} chunk(s) missing")
            out[name] = np.asarray(array[...])
        except Exception as err:
            raise StoreError(
                f"store {path}: array {name!r} is missing or unreadable "
                f"({type(err).__name__}: {err}); rerun the job that writes {path}"
            ) from None
    return out


def write_cubes(
    path: str | os.PathLike,
    cubes: Mapping[str, tuple[pd.DataFrame, Sequence[str]]],
    attrs: Mapping[str, Any] | None = None,
    value: str = "value",
) -> None:
    """Write tidy tables as dense labelled arrays ("cubes") to a Zarr v3 store, atomically.

    Parameters
    ----------
    path : path-like
        The store.
    cubes : mapping name -> (table, dims)
        Each table has one row per cell, the columns ``dims`` (the cell's coordinates) and
        ``value``; it becomes the array ``name`` with dimensions ``dims``. Absent cells are NaN;
        duplicate cells are an error.
    attrs : mapping, optional
        Extra group attributes.
    value : str
        Column holding the values.

    Notes
    -----
    The coordinates of each dimension are the values found across all tables (numbers
    sorted, labels in order of first appearance), stored as 1-d arrays named after their
    dimension (text as variable-length strings), so ``xarray.open_zarr`` opens the store as a
    labelled dataset. :func:`read_cube` turns an array back into the tidy table.
    """
    coords: dict[str, list] = {}
    for table, dims in cubes.values():
        for dim in dims:
            seen = coords.setdefault(dim, [])
            seen.extend(v for v in pd.unique(table[dim]) if v not in seen)
    for dim, values in coords.items():
        if all(isinstance(v, int | float | np.number) for v in values):
            coords[dim] = sorted(values)
    arrays: dict[str, tuple[Sequence[str], np.ndarray]] = {}
    for name, (table, dims) in cubes.items():
        if table.duplicated(list(dims)).any():
            raise ValueError(f"cube {name!r}: several rows share the same {list(dims)}")
        data = np.full([len(coords[d]) for d in dims], np.nan)
        index = tuple(pd.Index(coords[d]).get_indexer(table[d]).astype(np.intp) for d in dims)
        data[index] = table[value].to_numpy(dtype=float)
        arrays[name] = (tuple(dims), data)
    for dim, values in coords.items():
        if all(isinstance(v, int | float | np.number) for v in values):
            arrays[dim] = ((dim,), np.asarray(values))
        else:
            arrays[dim] = ((dim,), np.array([str(v) for v in values], dtype=object))
    write_dataset(path, arrays, attrs)


def read_cube(path: str | os.PathLike, name: str, value: str = "value") -> pd.DataFrame:
    """The array ``name`` of a store written by :func:`write_cubes`, as a tidy table
    (one row per non-NaN cell)."""
    group = _open(path)
    data = read_dataset(path, [name])[name]
    dims = group[name].metadata.dimension_names
    axes = [read_dataset(path, [d])[d].tolist() for d in dims]
    index = pd.MultiIndex.from_product(axes, names=dims)
    table = pd.DataFrame({value: data.ravel()}, index=index).reset_index()
    return table[np.isfinite(table[value])].reset_index(drop=True)


def read_attrs(path: str | os.PathLike) -> dict:
    """Attributes of a store written by :func:`write_dataset`."""
    return dict(_open(path).attrs)


def trained_models(paths: Mapping[str, str | os.PathLike]) -> dict[str, str | os.PathLike]:
    """The model stores (name -> path) whose training succeeded.

    A model whose training diverged is kept as a store with attribute ``status`` other than
    ``"ok"`` (only when the study allows failed runs); it is logged and left out.
    """
    kept = {}
    for name, path in paths.items():
        attrs = read_attrs(path)
        if attrs.get("status") == "ok":
            kept[name] = path
        else:
            log.warning("skipping %s: %s", path, attrs.get("error", attrs.get("status")))
    return kept


def gather_spectra(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """The ``spectrum`` cubes of several runs' similarity stores as one tidy table, each row
    tagged with its run's axes (the store's attribute ``axes``)."""
    tables = []
    for path in paths:
        axes = read_attrs(path)["axes"]
        tables.append(read_cube(path, "spectrum").assign(**axes))
    return pd.concat(tables, ignore_index=True)


def write_study_cube(
    path: str | os.PathLike, similarity: pd.DataFrame, run_stores: Sequence[str | os.PathLike]
) -> None:
    """The study's similarity cube: one array per value of the similarity table
    (:data:`hintforce.study.SIMILARITY_VALUES`, dimensions the axes and the row keys) and the
    canonical correlations of every run (``spectrum``, from the runs' similarity stores)."""
    axes = study.axes_in(similarity.columns)
    cells = [*axes, *study.ROW_KEYS]
    cubes = {
        name: (similarity[[*cells, name]].rename(columns={name: "value"}), cells)
        for name in study.SIMILARITY_VALUES
    }
    cubes["spectrum"] = (
        gather_spectra(run_stores),
        [*axes, *study.SPECTRUM_KEYS, "index"],
    )
    write_cubes(path, cubes)


def fit_rows(
    axes: Mapping[str, Any],
    model_paths: Mapping[str, str | os.PathLike],
    held_out: bool = False,
) -> pd.DataFrame:
    """Output fit of one run's models: one row per model and start (clean, noisy), columns
    the run's ``axes``, then ``model, start, r2`` (NaN for a diverged model).

    With ``held_out`` (the task holds directions out) every model has a row per set of
    directions too: the column ``directions`` (after ``start``) says which,
    :data:`hintforce.study.DIRECTION_SETS` (``train``: the attributes ``r2_<start>``;
    ``held_out``: ``held_out_r2_<start>``)."""
    sets = study.DIRECTION_SETS if held_out else study.DIRECTION_SETS[:1]
    rows = []
    for name, path in model_paths.items():
        attrs = read_attrs(path)
        for directions in sets:
            prefix = "" if directions == study.DIRECTION_SETS[0] else f"{directions}_"
            for start in study.STARTS:
                row = {**axes, "model": name, "start": start}
                if held_out:
                    row[study.DIRECTIONS] = directions
                rows.append({**row, "r2": attrs.get(f"{prefix}r2_{start}", np.nan)})
    return pd.DataFrame(rows)


def write_csv(path: str | os.PathLike, table: pd.DataFrame) -> None:
    """Write a tidy table to CSV atomically (floats round-trip exactly, no index)."""
    with _atomic_path(path, directory=False) as tmp:
        table.to_csv(tmp, index=False)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text document (e.g. an HTML page) atomically."""
    with _atomic_path(path, directory=False) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, value: Any) -> None:
    """Write a JSON document atomically."""
    with _atomic_path(path, directory=False) as tmp:
        tmp.write_text(json.dumps(to_jsonable(value), indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON document, naming the file if it is missing or malformed."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise StoreError(f"cannot read {path}: {err}") from None


def read_observation(path: str | os.PathLike) -> Observation:
    """The :class:`~hintforce.observe.Observation` a run's ``observation.json`` holds."""
    seen = read_json(path)
    try:
        return Observation(neuron_order=seen["neuron_order"], muscles=seen["muscles"])
    except (KeyError, ValueError) as err:
        raise StoreError(f"{path}: not an observation ({type(err).__name__}: {err})") from None


def read_recording(path: str | os.PathLike, counts: bool = True) -> tuple[dict, int]:
    """The arrays of a recording store (:meth:`hintforce.recording.Recording.arrays`) and its
    circuit's number of neurons, the arguments of
    :meth:`~hintforce.recording.Recording.from_arrays`; without the spike counts unless
    ``counts`` (the hints and the similarity need only the PSTHs)."""
    names = [n for n in _open(path).array_keys() if counts or n != "counts"]
    attrs = read_attrs(path)
    if "n_circuit_neurons" not in attrs:
        raise StoreError(f"{path}: not a recording (no attribute n_circuit_neurons)")
    return read_dataset(path, sorted(names)), int(attrs["n_circuit_neurons"])


def write_nwb(path: str | os.PathLike, nwbfile: Any) -> None:
    """Write an in-memory ``pynwb.NWBFile`` to an NWB (HDF5) file, atomically."""
    from pynwb import NWBHDF5IO  # imported here: only the NWB export needs pynwb

    with _atomic_path(path, directory=False) as tmp, NWBHDF5IO(str(tmp), "w") as io:
        io.write(nwbfile)
