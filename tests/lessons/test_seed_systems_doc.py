"""docs/lessons.md on the five systems the source document names: each is modelled, none "not modelled",
and the lessons that differ on a real broker say why."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "lessons.md"
SEED = ("RabbitMQ", "Apache Kafka", "Amazon SQS", "Spring Cloud Stream", "Apache Camel")


def test_every_seed_system_has_a_row_and_none_is_not_modelled() -> None:
    text = DOC.read_text(encoding="utf-8")
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| (RabbitMQ|Apache Kafka|Amazon SQS|Spring Cloud Stream|"
                                                       r"Apache Camel) \| (.+) \|$", text, re.M)}
    assert set(rows) == set(SEED)
    for name, row in rows.items():
        assert "not modelled" not in row.lower() and "not modeled" not in row.lower(), name
    assert "All five systems the source document names are modelled" in text
    # the frameworks are presets whose words the report uses
    assert "retry: {preset: spring-cloud-stream}" in rows["Spring Cloud Stream"]
    assert "retry: {preset: camel-dead-letter-channel}" in rows["Apache Camel"]


def test_the_lessons_that_differ_on_a_real_broker_say_why() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## On a real broker: what differs, and why", 1)[1].split("\n## ", 1)[0]
    for lesson in ("cqrs-projection", "event-sourcing-snapshots", "order-saga", "outbox-dual-write",
                   "request-reply-timeout", "dlq-redrive", "idempotent-consumer", "slow-consumer-backpressure",
                   "poison-across-brokers"):
        assert f"`{lesson}`" in section, lesson
