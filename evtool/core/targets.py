"""Where a scenario can run: the local core, or one of the real brokers (the one list of their names)."""

from __future__ import annotations

REAL_BROKERS = ("rabbitmq", "nats", "redis", "kafka", "sqs")
"""The real brokers evtool can run a scenario on (`--transport`, `--compare`)."""

LOCAL = "local"
"""The deterministic core with virtual time."""

TARGETS = (LOCAL, *REAL_BROKERS)
"""Every run target, the local core first."""


def targets_text() -> str:
    """The targets as a sentence for help texts: "local, rabbitmq, ... or sqs"."""
    return f"{', '.join(TARGETS[:-1])} or {TARGETS[-1]}"
