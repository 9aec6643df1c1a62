"""The one selection layer: the findings and the figures pick the same rows."""

import numpy as np
import pandas as pd
import pytest

from hintforce import study
from hintforce.selection import FIT_METRIC, first_cell, fit_rows, select, where

GT, SEED, NF = study.GROUND_TRUTH_SEED, study.SEED, study.NEURON_FRACTION


def _summary():
    """Per-circuit rows of two circuits at two neuron fractions, and their cross-circuit rows."""
    rows = [
        {GT: gt, NF: nf, "n_over": SEED, "model": "ffh", "mean": gt + nf}
        for gt in (7, 3)
        for nf in (0.5, 0.3)
    ]
    rows += [
        {GT: np.nan, NF: nf, "n_over": GT, "model": "ffh", "mean": 100 + nf} for nf in (0.5, 0.3)
    ]
    return pd.DataFrame(rows)


def test_first_cell_prefers_the_rows_pooled_over_an_axis():
    rows, cell = first_cell(_summary())
    assert rows["mean"].tolist() == [100.3]
    assert np.isnan(cell[GT]) and cell[NF] == 0.3


def test_first_cell_of_one_pooling_takes_every_axis_at_its_smallest_value():
    rows, cell = first_cell(_summary(), n_over=SEED)
    assert rows["mean"].tolist() == [3.3]
    assert cell == {GT: 3, NF: 0.3}


def test_first_cell_keeps_the_varied_axis():
    rows, cell = first_cell(_summary(), vary=(NF,), n_over=SEED)
    assert sorted(rows[NF]) == [0.3, 0.5] and set(rows[GT]) == {3}
    assert NF not in cell


def test_where_ignores_absent_columns_and_names_an_empty_selection():
    table = _summary()
    assert len(where(table, "summary", model="ffh", metric="cca")) == len(table)
    with pytest.raises(ValueError, match="summary has no rows with model = 'ff'"):
        where(table, "summary", model="ff")
    assert select(table, model="ff").empty


def test_fit_rows_split_training_and_held_out_directions():
    table = pd.DataFrame(
        {
            "metric": [FIT_METRIC, FIT_METRIC, FIT_METRIC, "cca"],
            "start": ["clean", "clean", "noisy", "clean"],
            "validation": [None, study.HELD_OUT_DIRECTIONS, None, None],
        }
    )
    assert fit_rows(table, "clean").index.tolist() == [0, 1]
    assert fit_rows(table, "clean", held_out=True).index.tolist() == [1]
    assert fit_rows(table, "clean", held_out=False).index.tolist() == [0]
