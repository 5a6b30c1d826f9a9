"""Checks a real broker cannot judge as the core does are named before the run and marked "not applicable
on BROKER" by --compare when their verdict differs (evtool/transports/check_notes.py). No broker needed."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from evtool.cli.compare import Column, mark_not_applicable
from evtool.scenario.lessons import lesson_dir
from evtool.scenario.loader import load_scenario
from evtool.transports.check_notes import not_applicable
from evtool.transports.runner import differing_not_applicable


def _na(lesson: str, broker: str) -> dict[str, str]:
    return not_applicable(load_scenario(lesson_dir() / f"{lesson}.yaml"), broker)


def test_rabbitmq_has_no_per_queue_consumer_timeout() -> None:
    """idempotent-consumer makes leases run out with ack_timeout 1s. RabbitMQ 3.10 has no per-queue
    consumer timeout (x-consumer-timeout came later; consumer_timeout is node-wide, 30 min by default:
    https://www.rabbitmq.com/docs/consumers#acknowledgement-timeout), so leases-expired is not applicable
    there; NATS (AckWait) and Redis (evtool's claimer) take leases back."""
    na = _na("idempotent-consumer", "rabbitmq")
    assert list(na) == ["leases-expired"] and "x-consumer-timeout" in na["leases-expired"]
    assert _na("idempotent-consumer", "nats") == {} and _na("idempotent-consumer", "redis") == {}


def test_redis_cannot_refuse_a_publish() -> None:
    """A bounded queue with overflow reject_publish: on Redis the checks that read its refusals or its losses
    are not applicable (XADD MAXLEN trims and tells nobody); RabbitMQ and NATS refuse. Its depth is judged:
    the unread entries stay within MAXLEN on Redis and in the depth the run reports
    (tests/transports/test_redis_read_in_flight.py)."""
    na = _na("slow-consumer-backpressure", "redis")
    assert set(na) == {"nothing-lost", "producer-told"}
    assert all("cannot refuse a publish" in why and "over the capacity" not in why for why in na.values())
    assert _na("slow-consumer-backpressure", "rabbitmq") == {} == _na("slow-consumer-backpressure", "nats")
    # checks of other channels are not touched: the log's depth is judged on Redis as on the core
    assert "log-lagged" not in _na("slow-consumer-backpressure", "redis")


def test_pattern_checks_are_judged_on_rabbitmq_nats_and_redis() -> None:
    """Patterns run on RabbitMQ, NATS and Redis (tests/transports/test_pattern_runs.py): their checks are
    judged there as on the core. On Kafka and SQS they are left out of the run, so pattern checks, assertions
    on what a pattern records (its events, state or alerts) and checks of a consumer that reads only what a
    pattern sends (order-saga's payment service gets the saga's commands) are not applicable; other checks are
    still judged (order-saga's stock-conserved reads the inventory consumer's state)."""
    for broker in ("rabbitmq", "nats", "redis"):
        for lesson in ("order-saga", "cqrs-projection", "request-reply-timeout", "outbox-dual-write",
                       "event-sourcing-snapshots"):
            assert _na(lesson, broker) == {}, (lesson, broker)
    na = _na("order-saga", "kafka")
    assert {"sagas-terminate", "compensation-correct", "none-stuck", "outage-compensated"} <= set(na)
    assert "stock-conserved" not in na
    assert "charged-once" in na   # effectively_once on payment, which reads only the saga's commands
    assert "left out of a run on kafka" in na["sagas-terminate"]
    assert set(_na("cqrs-projection", "sqs")) == {"caught-up", "lag-within-budget", "reads-mostly-fresh",
                                                  "rebuild-under-30s", "rebuild-happened"}


def _outcome(statuses: dict[str, str], na: dict[str, str] | None = None) -> Any:
    return SimpleNamespace(checks=[{"name": n, "status": s} for n, s in statuses.items()], summary={},
                           outcome="failed", extra={"not_applicable": na or {}})


def test_only_a_differing_verdict_is_marked() -> None:
    core = _outcome({"a": "pass", "b": "pass", "c": "fail"})
    real = _outcome({"a": "fail", "b": "pass", "c": "fail"}, {"a": "why a", "b": "why b"})
    assert differing_not_applicable(core.checks, real.checks, real.extra["not_applicable"]) == {"a": "why a"}
    cols = [Column("local", "local", "rabbitmq-quorum", core), Column("rabbitmq", "rabbitmq", "rabbitmq-quorum", real),
            Column("nats", "nats", "nats-jetstream", real)]
    mark_not_applicable(cols)
    assert cols[1].not_applicable == {"a": "why a"}
    assert cols[2].not_applicable == {}   # no local column under nats-jetstream to differ from


def test_a_partitioned_log_has_no_partitions_on_these_brokers() -> None:
    """partitioned-ordering's log (6 partitions, a group of 2 instances) runs as one queue or stream per
    group on RabbitMQ, NATS and Redis: ownership, rebalances and per-key order across the instances are not
    the broker's (the capability note says partitions are not modelled). Its losses and lag are still judged;
    its redeliveries after a crash are not: the core replays every record since the group's last commit (every
    2 s), RabbitMQ and NATS return only what the crashed member held unacked (it acks each record once
    handled: 1 against the core's 795 in a run at 23:40 UTC, 0 on NATS, whose AckWait outlasted the drain),
    and Redis leaves them pending (no rebalance, no claimer); on Kafka nothing is marked. RabbitMQ's
    "Consumer Acknowledgements and Publisher Confirms" guide lists "Automatic requeueing on connection loss or
    channel closure": of unacknowledged deliveries only, so an acked record is never seen again."""
    for broker in ("rabbitmq", "nats", "redis"):
        na = _na("partitioned-ordering", broker)
        assert {"one-owner", "per-key-order", "three-rebalances"} <= set(na), broker
        assert all("no partitions or consumer-group rebalances" in na[n] for n in ("one-owner", "three-rebalances"))
    # RabbitMQ requeues only a crashed member's unacked messages, NATS redelivers them after AckWait; Redis
    # leaves them pending
    assert "has no offsets" in _na("partitioned-ordering", "rabbitmq")["crash-redelivers"]
    assert "every 2 s" in _na("partitioned-ordering", "rabbitmq")["crash-redelivers"]
    assert "AckWait" in _na("partitioned-ordering", "nats")["crash-redelivers"]
    assert "stay pending" in _na("partitioned-ordering", "redis")["crash-redelivers"]
    assert _na("partitioned-ordering", "kafka") == {}


def test_a_log_group_committing_each_record_keeps_its_redeliveries_judged() -> None:
    """With `commit: {mode: per_message}` the core replays only what a crashed member had not committed, what it
    held unacked on the broker too: the redeliveries are judged on RabbitMQ and NATS."""
    from evtool.scenario.loader import load_text

    text = (lesson_dir() / "partitioned-ordering.yaml").read_text(encoding="utf-8")
    text = text.replace("commit: {mode: periodic, interval: 2s}", "commit: {mode: per_message}")
    assert "mode: per_message" in text
    loaded = load_text(text, "partitioned-ordering.yaml")
    for broker in ("rabbitmq", "nats"):
        assert "crash-redelivers" not in not_applicable(loaded, broker)
