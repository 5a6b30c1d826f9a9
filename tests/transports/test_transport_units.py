"""Transport pieces that need no broker: URLs, capabilities, topology, wire format, unreachable brokers."""

from __future__ import annotations

import pytest

from evtool.core.message import DeathRecord, Message
from evtool.scenario.loader import load_text
from evtool.transports.base import (
    ENV_VARS,
    TransportError,
    TransportUnavailable,
    decode_message,
    encode_message,
    probe,
    redact_url,
    resolve_url,
)
from evtool.transports.capabilities import capabilities
from evtool.transports.runner import comparison_rows, run_on_transport
from evtool.transports.topology import build_topology

from .scenarios import FANOUT, POISON, text


def test_url_comes_from_argument_then_environment_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VARS["redis"], raising=False)
    assert resolve_url("redis") == "redis://127.0.0.1:6379/0"
    monkeypatch.setenv(ENV_VARS["redis"], "redis://cache:6380/1")
    assert resolve_url("redis") == "redis://cache:6380/1"
    assert resolve_url("redis", "redis://other:1/0") == "redis://other:1/0"
    with pytest.raises(TransportError, match="valid: rabbitmq, nats, redis, kafka, sqs"):
        resolve_url("mqtt")
    monkeypatch.delenv(ENV_VARS["kafka"], raising=False)
    monkeypatch.setenv(ENV_VARS["sqs"], "http://sqs.eu-west-1.amazonaws.com")
    assert resolve_url("kafka") == "kafka://127.0.0.1:9092"
    assert resolve_url("sqs") == "http://sqs.eu-west-1.amazonaws.com"


def test_credentials_are_redacted() -> None:
    assert redact_url("amqp://guest:s3cret@mq:5672/vh") == "amqp://guest:***@mq:5672/vh"
    assert "s3cret" not in redact_url("redis://:s3cret@cache:6379/0")
    assert redact_url("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"


def test_unreachable_broker_says_how_to_start_one_without_the_password() -> None:
    why = probe("rabbitmq", "amqp://u:s3cret@127.0.0.1:1/")
    assert why is not None and "docker run" in why and "s3cret" not in why
    loaded = load_text(text(POISON, "rabbitmq", ATTEMPTS="3"))
    with pytest.raises(TransportUnavailable) as err:
        run_on_transport(loaded, "rabbitmq", url="amqp://u:s3cret@127.0.0.1:1/")
    assert "s3cret" not in str(err.value) and "127.0.0.1:1" in str(err.value)


def test_capabilities_say_what_is_missing_and_what_evtool_does() -> None:
    nats = capabilities(load_text(text(POISON, "nats", ATTEMPTS="2")), "nats")
    assert any("stays in the stream" in w and "max_deliveries_reached" in w and "orders.dlq" in w for w in nats)
    emulated = capabilities(load_text(text(POISON, "nats", ATTEMPTS="2").replace(
        "profile: nats-jetstream", "profile: nats-jetstream, settings: {at_limit: dead_letter}")), "nats")
    assert any("no dead-letter queue" in w and "emulates" in w and "orders.dlq" in w for w in emulated)
    redis = capabilities(load_text(text(POISON, "redis", ATTEMPTS="2")), "redis")
    # no ack_timeout on the channel: no claimer, a crashed consumer's entries stay pending (the profile's rule)
    assert any("never redelivers by itself" in w and "stay pending" in w for w in redis)
    assert not any("orders.dlq: Redis never" in w for w in redis)      # nobody consumes the DLQ
    rabbit = capabilities(load_text(text(POISON, "rabbitmq", ATTEMPTS="3")), "rabbitmq")
    assert rabbit == []
    fan = capabilities(load_text(text(FANOUT, "redis")), "redis")
    assert any("no exchanges" in w for w in fan)
    other = capabilities(load_text(text(POISON, "rabbitmq", ATTEMPTS="3").replace("rabbitmq-quorum", "default")),
                         "rabbitmq")
    assert any("behaves as 'rabbitmq-quorum'" in w for w in other)


def test_topology_plans_groups_limits_and_bindings() -> None:
    topo = build_topology(load_text(text(FANOUT, "rabbitmq")).model, "evt-test")
    assert topo.channels["audit"].groups == ["a", "b"]
    assert topo.channels["events"].bindings == [("audit", "order.#"), ("billing", "order.k1")]
    assert topo.channels["audit"].subscriptions() == ["a", "b"]
    assert topo.channels["billing"].subscriptions() == [None]
    poison = build_topology(load_text(text(POISON, "rabbitmq", ATTEMPTS="3")).model, "evt-test")
    assert poison.channels["orders"].max_deliveries == 2
    assert poison.dead_letter_targets() == {"orders.dlq"}


def test_wire_format_round_trips_messages_with_deaths() -> None:
    msg = Message("m1", "orders", "k1", {"h": "v"}, {"amount": 3}, "OrderPlaced", 2, 123, 4, "c0", "corr", "poison",
                  "shop", "replies", deaths=(DeathRecord("orders", "rejected", 1, 5, 6, "k1"),))
    back = decode_message(encode_message(msg))
    for f in ("id", "channel", "key", "headers", "payload", "type", "version", "published_at", "seq",
              "causation_id", "correlation_id", "tag", "producer", "reply_to"):
        assert getattr(back, f) == getattr(msg, f), f
    assert back.deaths[0].as_dict() == msg.deaths[0].as_dict()


def test_comparison_rows_put_targets_side_by_side() -> None:
    from evtool.sim.engine import Engine

    loaded = load_text(text(POISON, "rabbitmq", ATTEMPTS="3"))
    a = Engine(loaded).run()
    rows = comparison_rows({"local": a, "again": Engine(loaded).run()})
    assert rows[0] == ["", "local", "again"]
    names = [r[0] for r in rows]
    assert "check poison" in names and "dead_lettered" in names
    assert all(r[1] == r[2] for r in rows[1:])


def test_a_start_at_or_after_the_duration_is_a_located_warning() -> None:
    loaded = load_text("""evtool: "1"
id: late-start
run: {seed: 1, duration: 1s}
channels: {jobs: {kind: queue}}
producers: {p: {to: jobs, count: 1, arrival: {process: constant, rate: 1/s}}}
consumers:
  w: {from: jobs, start: 1s}
  v: {from: jobs, start: 900ms}
""")
    found = [w for w in loaded.warnings if w.path == "consumers.w.start"]
    assert len(found) == 1 and found[0].line == 7 and "run.duration" in found[0].message, loaded.warnings
    assert not [w for w in loaded.warnings if w.path == "consumers.v.start"]


LATE = """evtool: "1"
id: late-groups
run: {seed: 1, duration: 2s}
broker: {profile: PROFILE}
channels: {events: {kind: topic}, ledger: {kind: log}}
producers: {p: {to: events, count: 1, arrival: {process: constant, rate: 1/s}}}
consumers:
  a: {from: events}
  b: {from: events, start: 1s}
  c: {from: events, start: 1s, start_from: earliest}
  d: {from: ledger, start: 1s}
  e: {from: ledger, start: 1s, start_from: latest}
"""


def test_a_late_group_starting_from_latest_is_created_at_its_subscribe() -> None:
    nats = build_topology(load_text(LATE.replace("PROFILE", "nats-jetstream")).model, "evt-x")
    assert nats.channels["events"].late == {"b"}           # c replays: declared when the run starts
    assert nats.channels["ledger"].late == {"e"}           # d: log_start earliest on nats-jetstream
    redis = build_topology(load_text(LATE.replace("PROFILE", "redis-streams")).model, "evt-x")
    assert redis.channels["ledger"].late == {"d", "e"}     # log_start latest on redis-streams


def test_earliest_on_a_topic_that_keeps_no_history_is_a_located_error() -> None:
    from evtool.scenario.errors import ScenarioError

    with pytest.raises(ScenarioError) as err:
        load_text(LATE.replace("PROFILE", "rabbitmq-quorum"))
    [p] = [p for p in err.value.problems if p.path == "consumers.c.start_from"]
    assert p.line == 10 and "keeps no history" in p.message and p.hint and "latest" in p.hint


CAPPED_TOPIC = """
evtool: "1"
id: capped-topic
run: {seed: 1, duration: 1s}
broker: {profile: redis-streams}
channels:
  jobs: {kind: queue, capacity: 2}
  news: {kind: topic, capacity: 2}
producers:
  p: {to: jobs, arrival: {process: constant, rate: 1/s}}
consumers:
  c: {from: jobs}
  a: {from: news}
  b: {from: news}
"""


class _TrimSink:
    """Records what `RedisTransport._trim_state` reports."""

    def __init__(self) -> None:
        self.said: list[tuple[str, str | None, str]] = []

    def dead(self, channel: str, group: str | None, msg: Message, reason: str, target: str | None, count: int = 1,
             observed: str | None = None) -> None:
        self.said.append(("dropped", group, msg.id))

    def handed_out(self, channel: str, group: str | None, msg: Message) -> None:
        self.said.append(("handed_out", group, msg.id))


def _trimmer() -> tuple[object, _TrimSink]:
    from evtool.transports.redis_streams import RedisTransport

    t = RedisTransport("redis://127.0.0.1:1/0")
    t.topology = build_topology(load_text(CAPPED_TOPIC).model, "evt-u")
    sink = _TrimSink()
    t.sink = sink  # type: ignore[assignment]
    t.groups = {("jobs", None), ("news", "a"), ("news", "b")}
    return t, sink


def _note(channel: str, mid: str) -> tuple[str, Message]:
    return channel, Message(id=mid, channel=channel, key=None, payload={}, published_at=0)


def test_redis_trim_states_answered_out_of_order_are_judged_by_the_newest() -> None:
    """Two pipelines in flight at once (a busy client): Redis ran M1's XADD, then M2's, which trimmed M1
    unread (capacity 1 here, as MAXLEN 1 would), but the client hears M2's batch first. M1 arrives in a
    stale state (the stream's first entry was M1 then, the group's cursor below both): it is still recorded
    dropped, judged by the newest first entry seen, and kept in id order (the old transport never did)."""
    t, sink = _trimmer()
    key = t.key("jobs")  # type: ignore[attr-defined]
    t._trim_state(key, [(b"10-1", _note("jobs", "M2"))], b"10-1", {b"q": b"0-0"})  # type: ignore[attr-defined]
    assert sink.said == []
    t._trim_state(key, [(b"10-0", _note("jobs", "M1"))], b"10-0", {b"q": b"0-0"})  # type: ignore[attr-defined]
    assert sink.said == [("dropped", None, "M1")]
    assert list(t.capped[key][b"q"]) == [b"10-1"]  # type: ignore[attr-defined]


def test_redis_reports_each_entry_a_group_has_read_once_per_group() -> None:
    """A topic with groups a and b: an entry group a's last-delivered-id has passed is handed out in a (once,
    however many later states show it), and in b only when b's cursor passes it; once both have read it, it
    is forgotten. An entry trimmed above b's cursor is b's loss only (the old transport reported no
    handed-out entry at all)."""
    t, sink = _trimmer()
    key = t.key("news")  # type: ignore[attr-defined]
    cur = {b"g:a": b"2-0", b"g:b": b"0-0"}
    t._trim_state(key, [(b"1-0", _note("news", "N1")), (b"2-0", _note("news", "N2"))], b"1-0", cur)  # type: ignore[attr-defined]
    assert sink.said == [("handed_out", "a", "N1"), ("handed_out", "a", "N2")]
    sink.said.clear()
    t._trim_state(key, [(b"3-0", _note("news", "N3"))], b"2-0", {b"g:a": b"2-0", b"g:b": b"0-0"})  # type: ignore[attr-defined]
    assert sink.said == [("dropped", "b", "N1")]
    sink.said.clear()
    t._trim_state(key, [(b"4-0", _note("news", "N4"))], b"3-0", {b"g:a": b"3-0", b"g:b": b"3-0"})  # type: ignore[attr-defined]
    # b read N2 before N4's add trimmed it (it was there until then): handed out, not lost
    assert sink.said == [("handed_out", "a", "N3"), ("handed_out", "b", "N2"), ("handed_out", "b", "N3")]
    assert {g: list(unread) for g, unread in t.capped[key].items()} == {b"g:a": [b"4-0"], b"g:b": [b"4-0"]}  # type: ignore[attr-defined]


def test_the_topology_declares_what_patterns_read() -> None:
    """A pattern's subscriptions and private queues are part of the plan the adapter declares before the run:
    request-reply inboxes (one per requester instance), an orchestrated saga's own reply queue, and the
    groups under which a saga reads its topic trigger and a responder its request channel. Without patterns
    (Kafka, SQS: `PATTERN_TRANSPORTS`) the plan has none of them."""
    from evtool.scenario.lessons import lesson_dir
    from evtool.scenario.loader import load_scenario
    from evtool.transports.base import PATTERN_TRANSPORTS

    rr = load_scenario(lesson_dir() / "request-reply-timeout.yaml").model
    topo = build_topology(rr, "evt-x")
    assert topo.patterns
    for inbox in ("price-quote.web#0.inbox", "price-quote.web#1.inbox"):
        assert topo.channels[inbox].kind == "queue"
    assert "pricing" in topo.channels["pricing.requests"].groups
    saga = load_scenario(lesson_dir() / "order-saga.yaml").model
    topo = build_topology(saga, "evt-x")
    assert topo.channels["orders"].groups == ["order-saga"]    # the saga's own group on the trigger topic
    off = build_topology(saga, "evt-x", patterns=False)
    assert not off.patterns and off.channels["orders"].groups == []
    no_reply = saga.model_copy(update={"patterns": {"s": saga.patterns["order-saga"].model_copy(
        update={"reply_channel": None})}})
    assert build_topology(no_reply, "evt-x").channels["s.replies"].kind == "queue"
    assert PATTERN_TRANSPORTS == ("rabbitmq", "nats", "redis")
    for broker in PATTERN_TRANSPORTS:
        assert not any("patterns" in w for w in capabilities(saga, broker))
    assert any("left out of a run on kafka" in w for w in capabilities(saga, "kafka"))
