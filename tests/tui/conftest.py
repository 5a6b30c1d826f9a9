"""Fixtures for the dashboard tests."""

from __future__ import annotations

import pytest

from evtool.scenario.loader import LoadedScenario, load_scenario

from .helpers import LESSON


@pytest.fixture(scope="session")
def lesson() -> LoadedScenario:
    """The retries / dead-letter lesson."""
    return load_scenario(LESSON)
