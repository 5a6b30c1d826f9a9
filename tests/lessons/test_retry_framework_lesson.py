"""The lesson `retry-broker-or-framework`: what each `say` and `ask` claims (deliveries, attempts, where the
poison payment ends) is what the core does, variation by variation, and `evtool explain` speaks each
framework's words (Spring: maxAttempts, binder DLQ; Camel: maximumRedeliveries, dead letter channel)."""

from __future__ import annotations

from typing import Any

import pytest
from typer import Typer
from typer.testing import CliRunner

from evtool.cli.explain import explain
from evtool.scenario.lessons import find_lesson
from evtool.scenario.loader import load_scenario
from evtool.sim.engine import Engine

LESSON = find_lesson("retry-broker-or-framework")
BROKER_RETRY = "consumers.ledger.retry={mode: redeliver, max_attempts: forever, on_exhausted: requeue}"


def _poison(sets: list[str]) -> tuple[int, int, list[tuple[str, Any, Any]]]:
    """(deliveries, attempts, fate) of PAY-POISON under `sets`."""
    events: list[Any] = []
    Engine(load_scenario(LESSON, sets), listeners=[events.extend]).run()
    p = [e for e in events if e.msg == "PAY-POISON"]
    deliveries = sum(1 for e in p if e.kind in ("delivered", "redelivered"))
    attempts = sum(1 for e in p if e.kind == "failed")
    fate = [(e.kind, (e.data or {}).get("reason"), (e.data or {}).get("target")) for e in p
            if e.kind in ("dead_lettered", "dropped", "max_deliveries_reached", "acked")]
    return deliveries, attempts, fate


@pytest.mark.parametrize("sets,expected", [
    ([], (1, 3, [("dead_lettered", "rejected", "payments.dlq")])),
    (["consumers.ledger.retry.preset=camel-dead-letter-channel"],
     (1, 1, [("dead_lettered", "rejected", "payments.dlq")])),
    (["consumers.ledger.retry.preset=camel-dead-letter-channel", "consumers.ledger.retry.max_attempts=3",
      "consumers.ledger.retry.backoff.type=exponential"], (1, 3, [("dead_lettered", "rejected", "payments.dlq")])),
    ([BROKER_RETRY], (5, 5, [("dead_lettered", "max_deliveries", "payments.dlq")])),
    (["broker.profile=rabbitmq-quorum", BROKER_RETRY], (6, 6, [("dead_lettered", "max_deliveries", "payments.dlq")])),
    (["broker.profile=rabbitmq-classic", "channels.payments.max_deliveries=unlimited",
      "consumers.ledger.retry={mode: redeliver, max_attempts: forever, on_exhausted: requeue, "
      "backoff: {type: constant, delay: 1s}}"], (48, 48, [])),
    (["broker.profile=sqs-standard", BROKER_RETRY], (5, 5, [("dead_lettered", "max_deliveries", "payments.dlq")])),
    (["broker.profile=nats-jetstream", BROKER_RETRY], (5, 5, [("max_deliveries_reached", None, None)])),
    (["broker.profile=kafka", BROKER_RETRY], (5, 5, [("dropped", "max_deliveries", None)])),
    (["broker.profile=redis-streams", BROKER_RETRY], (5, 5, [("dead_lettered", "max_deliveries", "payments.dlq")])),
], ids=["spring", "camel", "camel-3", "default", "rabbitmq-quorum", "rabbitmq-classic", "sqs-standard", "nats",
        "kafka", "redis"])
def test_each_variation_does_what_the_lesson_says(sets: list[str], expected: tuple[Any, ...]) -> None:
    """Spring: 1 delivery, 3 attempts, the binder DLQ. Camel: 1 and 1 (maximumRedeliveries 0). The broker's
    retry: 5 deliveries (6 on a quorum queue, which counts returns), then DLQ, kept (NATS) or archived
    (Kafka share groups); a classic queue has no limit: redelivered every second until the drain gives up."""
    assert _poison(sets) == expected


def test_explain_speaks_each_frameworks_words() -> None:
    app = Typer()
    app.command("explain")(explain)
    app.command("other")(lambda: None)
    runner = CliRunner()
    spring = runner.invoke(app, ["explain", "retry-broker-or-framework"], env={"COLUMNS": "200"})
    assert spring.exit_code == 0, spring.output
    assert "retry spring-cloud-stream: maxAttempts 3" in spring.output and "binder DLQ" in spring.output
    camel = runner.invoke(app, ["explain", "retry-broker-or-framework", "--set",
                                "consumers.ledger.retry.preset=camel-dead-letter-channel"], env={"COLUMNS": "200"})
    assert camel.exit_code == 0, camel.output
    assert "maximumRedeliveries 0" in camel.output and "dead letter channel" in camel.output
