"""Fixtures for the host tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from evtool.scenario.loader import LoadedScenario, load_scenario

LESSON = Path(__file__).resolve().parents[3] / "scenarios" / "retries-dlq-poison.yaml"


@pytest.fixture(scope="session")
def lesson() -> LoadedScenario:
    """The retries / dead-letter lesson."""
    return load_scenario(LESSON)
