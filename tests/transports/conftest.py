"""Real-broker fixtures for the transport tests (shared with tests/contract)."""

from broker_fixtures import *  # noqa: F401,F403
