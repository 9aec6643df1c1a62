"""Fixtures shared by several test modules."""

import pytest

from hintforce.seeding import generator
from hintforce.soc import SOCParams, build_soc


@pytest.fixture
def default_soc_rng():
    """A fresh generator of the default-size SOC's seed."""
    return generator(0, "soc")


@pytest.fixture(scope="session")
def default_soc():
    """The stability-optimised circuit at the study's default size, built once per session
    (the slowest fixture) from ``default_soc_rng``'s seed."""
    return build_soc(SOCParams(), generator(0, "soc"))
