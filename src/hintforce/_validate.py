"""Boundary checks of the parameter classes: one message style for every module."""

from __future__ import annotations

import math

import numpy as np


def is_number(value: object) -> bool:
    """A real number (int or float, numpy included), not a bool."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def check_integer(name: str, value: object, low: int = 1) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an integer >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def check_number(
    name: str,
    value: object,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = True,
    high_open: bool = True,
) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a finite number in the interval
    from ``low`` to ``high`` (open or closed at each end)."""
    ok = is_number(value) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (
            value < high if high_open else value <= high
        )
    if not ok:
        interval = (
            f"{'(' if low_open else '['}{low:g}, "
            f"{'inf' if high == math.inf else f'{high:g}'}{')' if high_open else ']'}"
        )
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
