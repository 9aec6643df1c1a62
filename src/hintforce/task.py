"""The reaching task: its directions, the input that tells a network which one to reach, the
structure of a trial, and the split of directions into training and held-out sets.

* **Directions.** ``theta_c = 2 pi c / C`` for ``c = 0, ..., C - 1``
  (:func:`hintforce.emg.reach_angles`; ``C`` is ``ground_truth.emg.n_conditions``). The ground
  truth (EMG targets, the SOC's gains and rates) exists for every direction.
* **Input** (:data:`ENCODINGS`): during the preparatory period a network receives the
  direction's input vector ``v_c`` through its N x D input weights, ``u_in v_c``; the input is
  off afterwards.

  - ``one_hot``: one channel per direction, ``v_c = e_c`` (D = C): every direction has input
    weights of its own, so a direction no network was trained on has weights that never
    learned anything, and a one-hot input cannot be used with held-out directions.
  - ``angle``: ``v_c = (cos theta_c, sin theta_c, 1)`` (D = 3): the direction as a point on
    the unit circle, plus a direction-independent target-onset channel; an unseen direction
    ``theta'`` is presented the same way. The third channel is needed: a tanh network driven
    by ``(cos theta, sin theta)`` alone is odd-symmetric (``x -> -x`` maps the trajectory of
    ``theta`` from the clean start ``x = 0`` onto that of ``theta + pi``), so its output for
    the opposite direction would be exactly the negative of its output for ``theta``, and no
    such network could produce positive EMG in opposite directions.
* **Trial**: ``prep_ms / bin_ms`` preparatory steps (input on, every target held at its first
  movement value), the ``n_times`` bins of the movement window (the EMG's), then
  ``rest_ms / bin_ms`` bins of rest (input off; muscles held at their final value, the hints
  the observed neurons' rates, which the SOC keeps generating past the movement). The
  networks step at ``bin_ms``; the *window* is movement followed by rest
  (:attr:`Task.window_ms`).
* **Split**: ``held_out_directions`` is ``none`` (every direction trains), ``interleaved``
  (the odd directions ``c = 1, 3, ...`` are held out, so the training set spans the circle at
  half the density) or a list of direction indices. Observation, hints and training use the
  training directions only; models are evaluated, and compared with the SOC, on both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hintforce._validate import check_integer, check_number
from hintforce.emg import reach_angles

__all__ = [
    "ENCODINGS",
    "INTERLEAVED",
    "MIN_TRAINING_DIRECTIONS",
    "NONE",
    "Angle",
    "Encoding",
    "OneHot",
    "Task",
    "Trials",
    "check_trainable",
    "held_out_indices",
]

#: ``held_out_directions`` settings that name a rule rather than list directions.
NONE = "none"
INTERLEAVED = "interleaved"
#: Fewest training directions: the similarity's cross-validation over training directions needs
#: two folds of two directions each (``n // 2 >= 2`` folds), and its ridge penalty a
#: leave-one-direction-out choice inside each training set of >= 2 directions.
MIN_TRAINING_DIRECTIONS = 4


class Encoding:
    """How a direction reaches a network: ``channels`` input channels per direction.

    Attributes
    ----------
    name : str
        The ``task.input`` setting.
    generalises : bool
        Whether a direction no network was trained on can be encoded.
    """

    name: str
    generalises: bool

    def channels(self, n_directions: int) -> int:
        """Number of input channels D for a task of ``n_directions`` directions."""
        raise NotImplementedError

    def encode(self, angles: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """Input vectors (len(directions), D) of the directions (indices into ``angles``)."""
        raise NotImplementedError


class OneHot(Encoding):
    """One channel per direction: ``v_c = e_c``."""

    name = "one_hot"
    generalises = False

    def channels(self, n_directions: int) -> int:
        return n_directions

    def encode(self, angles: np.ndarray, directions: np.ndarray) -> np.ndarray:
        return np.eye(angles.size)[directions]


class Angle(Encoding):
    """The direction's angle as a point on the unit circle and a target-onset channel:
    ``v_c = (cos theta_c, sin theta_c, 1)``."""

    name = "angle"
    generalises = True

    def channels(self, n_directions: int) -> int:
        return 3

    def encode(self, angles: np.ndarray, directions: np.ndarray) -> np.ndarray:
        theta = angles[directions]
        return np.column_stack([np.cos(theta), np.sin(theta), np.ones_like(theta)])


#: The input encodings, by the name ``task.input`` gives.
ENCODINGS: dict[str, Encoding] = {e.name: e for e in (OneHot(), Angle())}


def held_out_indices(setting: str | list | tuple, n_directions: int) -> tuple[int, ...]:
    """The held-out direction indices a ``held_out_directions`` setting names, ascending.

    Parameters
    ----------
    setting : "none", "interleaved" or sequence of int
        ``none``: no direction; ``interleaved``: the odd directions 1, 3, ...; a sequence: those
        direction indices (each in ``range(n_directions)``, no repeats, at least one).
    n_directions : int

    Raises
    ------
    ValueError
        Naming ``held_out_directions`` and what is allowed.
    """
    if isinstance(setting, str):
        if setting == NONE:
            return ()
        if setting == INTERLEAVED:
            return tuple(range(1, n_directions, 2))
        raise ValueError(
            f"held_out_directions must be {NONE!r}, {INTERLEAVED!r} or a list of direction "
            f"indices, got {setting!r}"
        )
    if isinstance(setting, np.ndarray):
        setting = setting.tolist()
    if not isinstance(setting, list | tuple) or not all(
        isinstance(c, int | np.integer) and not isinstance(c, bool) for c in setting
    ):
        raise ValueError(
            f"held_out_directions must be {NONE!r}, {INTERLEAVED!r} or a list of direction "
            f"indices, got {setting!r}"
        )
    if not setting:
        raise ValueError(
            f"held_out_directions lists no direction; use {NONE!r} to hold none out, or list "
            f"direction indices in 0..{n_directions - 1}"
        )
    bad = [int(c) for c in setting if not 0 <= c < n_directions]
    if bad:
        raise ValueError(
            f"held_out_directions: indices {bad} are out of range; the {n_directions} "
            f"directions are 0..{n_directions - 1}"
        )
    if len(set(setting)) != len(setting):
        raise ValueError(f"held_out_directions must not repeat a direction, got {list(setting)}")
    return tuple(sorted(int(c) for c in setting))


@dataclass(frozen=True)
class Trials:
    """Trials of some directions as a network receives them.

    Attributes
    ----------
    directions : ndarray of int, shape (B,)
        Direction index of each trial.
    inputs : ndarray, shape (B, D)
        Input vector of each trial (on during the preparatory period).
    n_prep : int
        Preparatory steps before the window.
    """

    directions: np.ndarray
    inputs: np.ndarray
    n_prep: int

    @property
    def size(self) -> int:
        return self.directions.size


def _multiple(name: str, value: float, step: float, positive: bool) -> int:
    """``value / step`` as an integer, refusing a value that is not a whole multiple."""
    check_number(name, value, 0.0, math.inf, low_open=positive)
    steps = value / step
    if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
        raise ValueError(f"{name} must be a multiple of the bin width {step:g} ms, got {value!r}")
    if positive and round(steps) == 0:
        raise ValueError(f"{name} must be at least one bin ({step:g} ms), got {value!r}")
    return round(steps)


@dataclass(frozen=True)
class Task:
    """The reaching task of a study (see the module docstring).

    Parameters
    ----------
    n_directions : int
        Reach directions C, evenly spaced on the circle: ``ground_truth.emg.n_conditions``.
    n_times : int
        Bins of the movement window (``ground_truth.emg.n_times``).
    bin_ms : float
        Bin width and network time step, ms (``ground_truth.emg.dt_ms``).
    prep_ms : float
        Preparatory period, ms: a positive multiple of ``bin_ms``. Default 200.
    rest_ms : float
        Rest window after the movement, ms: a multiple of ``bin_ms``, >= 0. Default 0 (none).
    input : str
        Input encoding, a key of :data:`ENCODINGS`. Default ``one_hot``.
    held_out_directions : "none", "interleaved" or sequence of int
        Directions no network is trained on (:func:`held_out_indices`). Default ``none``.

    Raises
    ------
    ValueError
        Naming the parameter: a bad value, a one-hot input with held-out directions, or a split
        that holds every direction out. (A study needs :data:`MIN_TRAINING_DIRECTIONS` training
        directions: :func:`check_trainable`.)
    """

    n_directions: int = 8
    n_times: int = 80
    bin_ms: float = 10.0
    prep_ms: float = 200.0
    rest_ms: float = 0.0
    input: str = OneHot.name
    held_out_directions: str | tuple[int, ...] = NONE

    def __post_init__(self) -> None:
        check_integer("n_directions", self.n_directions)
        check_integer("n_times", self.n_times)
        check_number("bin_ms", self.bin_ms, 0.0, math.inf)
        _multiple("prep_ms", self.prep_ms, self.bin_ms, positive=True)
        _multiple("rest_ms", self.rest_ms, self.bin_ms, positive=False)
        if self.input not in ENCODINGS:
            raise ValueError(f"input must be one of {', '.join(ENCODINGS)}, got {self.input!r}")
        held_out = held_out_indices(self.held_out_directions, self.n_directions)
        if held_out and not ENCODINGS[self.input].generalises:
            raise ValueError(
                f"held_out_directions: a {self.input} input cannot encode a direction no "
                f"network was trained on; use input: "
                f"{', '.join(n for n, e in ENCODINGS.items() if e.generalises)} or "
                f"held_out_directions: {NONE}"
            )
        if len(held_out) == self.n_directions:
            raise ValueError(
                f"held_out_directions holds out all {self.n_directions} directions; at least "
                "one must train"
            )
        if not isinstance(self.held_out_directions, str):
            object.__setattr__(self, "held_out_directions", held_out)

    @property
    def encoding(self) -> Encoding:
        return ENCODINGS[self.input]

    @property
    def angles(self) -> np.ndarray:
        """Reach angle of every direction, rad, shape (C,)."""
        return reach_angles(self.n_directions)

    @property
    def held_out(self) -> np.ndarray:
        """Held-out direction indices, ascending (empty when none is held out)."""
        return np.array(held_out_indices(self.held_out_directions, self.n_directions), dtype=int)

    @property
    def training(self) -> np.ndarray:
        """Training direction indices, ascending."""
        return np.setdiff1d(np.arange(self.n_directions), self.held_out)

    @property
    def n_channels(self) -> int:
        """Input channels D of the encoding."""
        return self.encoding.channels(self.n_directions)

    @property
    def n_prep(self) -> int:
        """Preparatory steps."""
        return round(self.prep_ms / self.bin_ms)

    @property
    def n_rest(self) -> int:
        """Bins of the rest window."""
        return round(self.rest_ms / self.bin_ms)

    @property
    def n_window(self) -> int:
        """Bins of the window (movement, then rest)."""
        return self.n_times + self.n_rest

    @property
    def window_ms(self) -> np.ndarray:
        """Time of every bin of the window from movement onset, ms, shape (n_window,)."""
        return self.bin_ms * np.arange(self.n_window, dtype=np.float64)

    def trials(self, directions: np.ndarray) -> Trials:
        """The trials of ``directions`` (indices) as a network receives them."""
        directions = np.asarray(directions, dtype=int)
        if directions.ndim != 1 or np.any((directions < 0) | (directions >= self.n_directions)):
            raise ValueError(
                f"directions must be indices in 0..{self.n_directions - 1}, got {directions}"
            )
        return Trials(directions, self.encoding.encode(self.angles, directions), self.n_prep)

    def with_rest(self, targets: np.ndarray) -> np.ndarray:
        """Targets over the window: the movement's, then each channel's final value held over
        the rest window.

        Parameters
        ----------
        targets : ndarray, shape (C, n_times, M)

        Returns
        -------
        ndarray, shape (C, n_window, M)
        """
        targets = np.asarray(targets, dtype=np.float64)
        if targets.ndim != 3 or targets.shape[1] != self.n_times:
            raise ValueError(
                f"targets must have shape (C, {self.n_times}, M), got shape {targets.shape}"
            )
        if self.n_rest == 0:
            return targets
        rest = np.repeat(targets[:, -1:, :], self.n_rest, axis=1)
        return np.concatenate([targets, rest], axis=1)


def check_trainable(task: Task) -> None:
    """Refuse a task a study cannot validate: fewer than :data:`MIN_TRAINING_DIRECTIONS`
    training directions (cross-validation over them needs two folds of two), or a single
    held-out direction (its permutation null could only pair it with itself).

    Raises
    ------
    ValueError
        Naming ``held_out_directions`` and the fewest directions that must train.
    """
    n_training = task.training.size
    if n_training < MIN_TRAINING_DIRECTIONS:
        raise ValueError(
            f"held_out_directions leaves {n_training} of {task.n_directions} directions for "
            f"training; at least {MIN_TRAINING_DIRECTIONS} must train (cross-validation over "
            "the training directions needs two folds of two)"
        )
    if task.held_out.size == 1:
        raise ValueError(
            f"held_out_directions holds out one direction ({int(task.held_out[0])}); hold out "
            "at least 2, so that the held-out similarity's permutation null can pair a "
            "direction with another"
        )
