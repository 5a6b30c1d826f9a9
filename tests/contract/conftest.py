"""Real-broker fixtures for the contract tests (shared with tests/transports)."""

from broker_fixtures import *  # noqa: F401,F403
