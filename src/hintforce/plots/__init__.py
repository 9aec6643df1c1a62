"""Figures of the study, built on :class:`matplotlib.figure.Figure` (no pyplot, no global state).

Every function takes plain arrays or the study's tidy tables (:mod:`pandas`) and returns a
:class:`~matplotlib.figure.Figure`; the caller saves it (``fig.savefig(path, dpi=...)``), which
works without any backend selection because a bare ``Figure`` renders through Agg for raster
formats. Nothing here reads or writes files, and nothing here computes statistics: the
similarity figures draw the means and intervals of ``summary.csv`` as the statistics rule wrote
them.

One module per figure family, all names re-exported here (``plots.headline_figure``):

* :mod:`~hintforce.plots.ground_truth`: :func:`ground_truth_figure`;
* :mod:`~hintforce.plots.runs`, one example run: :func:`model_outputs_figure`,
  :func:`trajectories_figure`;
* :mod:`~hintforce.plots.similarity`, across runs: :func:`cca_spectra_figure`,
  :func:`headline_figure`;
* :mod:`~hintforce.plots.generalisation`: :func:`generalisation_figure`;
* :mod:`~hintforce.plots.sweeps`, along a swept axis: :func:`axis_figure`,
  :func:`tradeoff_figure`;
* :mod:`~hintforce.plots.mechanism`: :func:`mechanism_figure`;
* :mod:`~hintforce.plots.recording`: :func:`recording_figure`;

and :mod:`~hintforce.plots._draw`, what several of them share: the colours, labels and
defaults below and the drawings they repeat.

Names come from :mod:`hintforce.study`: models in :data:`~hintforce.study.MODELS` order with
their labels, one colour per model (:data:`MODEL_COLORS`) and, for each reference row,
a colour *and* line style each (:data:`REFERENCE_STYLES`). Reach directions get a cyclic hue
wheel (:func:`condition_colors`). Targets are dashed and fitted or model traces solid.

Where a table holds several sweep cells, a figure draws one: every axis it does not sweep at
its first (smallest) value, said in the title as :func:`describe_run` does for a run
(``gt~2020 mf~0.4 ...``). Rows summarised over a pooled axis (``n_over`` naming a column that
is empty in those rows, e.g. summaries across ground-truth circuits) are preferred to the
per-value rows of that axis.
"""

from hintforce.plots._draw import (
    MODEL_COLORS,
    MODEL_LABELS,
    REFERENCE_STYLES,
    condition_colors,
    describe_run,
    model_color,
)
from hintforce.plots.generalisation import generalisation_figure
from hintforce.plots.ground_truth import ground_truth_figure
from hintforce.plots.mechanism import mechanism_figure
from hintforce.plots.recording import recording_figure
from hintforce.plots.runs import model_outputs_figure, trajectories_figure
from hintforce.plots.similarity import cca_spectra_figure, headline_figure
from hintforce.plots.sweeps import axis_figure, tradeoff_figure

__all__ = [
    "MODEL_COLORS",
    "mechanism_figure",
    "MODEL_LABELS",
    "REFERENCE_STYLES",
    "axis_figure",
    "cca_spectra_figure",
    "condition_colors",
    "describe_run",
    "generalisation_figure",
    "ground_truth_figure",
    "headline_figure",
    "model_color",
    "model_outputs_figure",
    "recording_figure",
    "tradeoff_figure",
    "trajectories_figure",
]
