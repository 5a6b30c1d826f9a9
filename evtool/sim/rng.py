"""Seeded random streams, one per component and purpose.

Each stream's seed derives from the run seed and a stable name
("producer:checkout/arrival"), never from Python's salted `hash()`, so
adding a consumer does not change what a producer draws.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any


def stream(seed: int, name: str) -> random.Random:
    """An independent `random.Random` for `name` under `seed`."""
    digest = hashlib.sha256(f"{seed}\x00{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def run_seed(scenario: Any, override: int | None = None) -> int:
    """The seed a run uses: `override` (a `--seed`) when given, else the scenario's `run.seed`.

    The one place this rule is written; the engine, the dashboard host and every command use it.
    """
    return scenario.run.seed if override is None else override
