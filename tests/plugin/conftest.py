"""Real-broker fixtures (tests/broker_fixtures.py) for the plugin's --evtool-transport test."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from broker_fixtures import *  # noqa: E402,F401,F403
