"""The mechanism of one run's networks: linearised dynamics at rest and return to rest."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from hintforce.plots._draw import _bottom_legend, _label, describe_run, model_color

__all__ = ["mechanism_figure"]


def mechanism_figure(
    spectra: Mapping[str, np.ndarray],
    traces: Mapping[str, np.ndarray],
    time_ms: np.ndarray,
    window_ms: float,
    run: Mapping[str, object],
) -> Figure:
    """The mechanism of one run's networks: linearised dynamics at rest and return to rest.

    Parameters
    ----------
    spectra : mapping of name to complex ndarray
        Eigenvalues (s^-1) of each network's Jacobian at rest: the SOC's of every condition
        together, each model's one.
    traces : mapping of name to ndarray, shape (S,)
        Each network's RMS rate deviation from rest over units and conditions at every step
        from movement onset, relative to its RMS over the movement window.
    time_ms : ndarray, shape (S,)
        Time of each step from movement onset, ms.
    window_ms : float
        End of the trial's window (movement, then rest), ms: the free run starts there.
    run : mapping
        The run's axes (the title).

    Returns
    -------
    Figure
        Left: the spectra on one set of axes (Re, Im in s^-1; the dashed line is Re = 0, the
        dotted one the slow-mode bound). Right: the traces, log scale, with the window's end.
    """
    fig = Figure(figsize=(13.0, 5.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    for name, eig in spectra.items():
        eig = np.asarray(eig)
        left.scatter(
            eig.real, eig.imag, s=10, alpha=0.6, color=model_color(name), label=_label(name)
        )
    left.axvline(0.0, color="0.3", ls="--", lw=1)
    left.axvline(-1.0, color="0.5", ls=":", lw=1)
    left.set_xlabel("Re λ (1/s)")
    left.set_ylabel("Im λ (1/s)")
    left.set_title("Jacobian eigenvalues at rest (dotted: time constant 1 s)", fontsize=11)
    for name, trace in traces.items():
        right.semilogy(time_ms, trace, color=model_color(name), label=_label(name))
    right.axvline(window_ms, color="0.3", ls="--", lw=1)
    right.set_xlabel("time from movement onset (ms); dashed: end of trial, input off")
    right.set_ylabel("RMS deviation from rest / movement RMS")
    right.set_title("return to rest in a free run", fontsize=11)
    handles, labels = left.get_legend_handles_labels()
    _bottom_legend(fig, handles, labels)
    fig.suptitle(f"Mechanism of one run: {describe_run(run)}", fontsize=12)
    return fig
