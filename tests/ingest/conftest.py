"""Fixtures of the fake market-data services."""

from tests.fakes.fixtures import *  # noqa: F403
