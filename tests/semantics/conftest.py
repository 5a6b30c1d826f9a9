"""Real-broker fixtures for the atlas (shared with tests/transports)."""

from broker_fixtures import *  # noqa: F401,F403
