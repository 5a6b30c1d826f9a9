"""The semantics atlas: every scenario's documented outcome, on the core and on the real brokers.

Each scenario in ``scenarios/`` encodes one documented broker behaviour per message (see `atlas.py` for
the header every file carries). A scenario runs on the core under its profile and, where evtool has a
transport for that broker (RabbitMQ, NATS JetStream, Redis Streams), on the real broker in real time.
The documented outcome is "every check passes"; nothing here is weakened to fit what evtool does.

Where evtool disagrees with the documentation today, the case is listed ONCE in `KNOWN_DISAGREEMENTS`
and runs as a strict xfail: when the fix lands, the XPASS fails and the entry must be removed.

Real brokers run in real time: a first delivery arrives 50-80 ms after its publish here, so assertions
about order use `during:` windows with about 200 ms of margin (and drains of 4 s keep a run short).
"""

from __future__ import annotations

from typing import Any

import pytest

from .atlas import ENTRIES, HEADER_KEYS, SCENARIOS, Entry, run_target

KNOWN_DISAGREEMENTS: dict[str, dict[str, str]] = {
    # ---- language fields decided by the lead but not there yet (the scenario does not load)
    "ttl-message-lower-wins": {
        "core": "inject has no `ttl:` (decision: ttl on producers and injected messages); Message.ttl_ns exists",
        "rabbitmq": "inject has no `ttl:` yet, so the scenario does not load",
    },
    "ttl-queue-lower-wins": {
        "core": "inject has no `ttl:` (decision: ttl on producers and injected messages); Message.ttl_ns exists",
        "rabbitmq": "inject has no `ttl:` yet, so the scenario does not load",
    },
    "ttl-expires-only-at-head": {
        "core": "inject has no `ttl:` (decision: ttl on producers and injected messages); Message.ttl_ns exists",
        "rabbitmq": "inject has no `ttl:` yet, so the scenario does not load",
    },
    "nats-dedup-with-msg-id": {
        "core": "producers have no `dedup_id` field yet (decision 1)",
        "nats": "producers have no `dedup_id` field yet (decision 1)",
    },
    "nats-dedup-outside-window": {
        "core": "producers have no `dedup_id` field yet (decision 1)",
        "nats": "producers have no `dedup_id` field yet (decision 1)",
    },
    "nats-republish-copy-not-deduplicated": {
        "core": "producers have no `dedup_id` field yet (decision 1)",
        "nats": "producers have no `dedup_id` field yet (decision 1)",
    },
    "quorum-prefetch-unlimited-explicit": {
        "core": "`prefetch: unlimited` is not accepted yet (decision: prefetch: unlimited)",
        "rabbitmq": "`prefetch: unlimited` is not accepted yet, so the scenario does not load",
    },
    "sqs-fifo-content-based-dedup": {
        "core": "no `content_based_dedup` on channels nor `dedup_id` on producers yet (decision 1)",
    },
    # ---- deduplication keyed on the message id
    "nats-no-dedup-without-msg-id": {
        "core": "Broker._duplicate drops any repeated message id when the channel has a window (nats-jetstream "
                "profile: 2 min by default); JetStream dedups only on Nats-Msg-Id (decision 1: msg.dedup_id)",
        "nats": "the NATS adapter always sends Nats-Msg-Id = message id, so JetStream drops the second publish",
    },
    "redis-no-dedup": {
        "redis": "Redis stores both entries, but the transport runtime counts deliveries per message id: the "
                 "second entry's delivery is recorded as `redelivered` attempt 2 instead of a new `delivered`",
    },
    # ---- late / stale acks after a lease expiry
    "nats-late-ack-first-delivery-accepted": {
        "core": "Broker.ack ignores a tag whose lease expired (the tag left _inflight); NATS acks by stream "
                "sequence, so the first delivery's late ack settles the message; the core loops until the drain ends",
    },
    "redis-late-xack-by-id-from-any-consumer": {
        "core": "Broker.ack ignores the old tag after the claim; XACK names the entry id, not the consumer, so "
                "the first reader's late XACK settles it; the core loops until the drain ends",
    },
    "rabbitmq-consumer-timeout-late-ack-refused": {
        "core": "after channel_closed (consumer_timeout) the consumer instance never opens a new channel "
                "(sim/consumer.py), so M1 is returned but never redelivered, and the drain still says complete",
    },
    # ---- failures without retry
    "sqs-failure-without-retry-visibility-timeout": {
        "core": "ConsumerActor._fail without a retry policy calls broker.reject: SQS has no reject, the message "
                "should stay invisible until the visibility timeout (profile needs 'no reject' semantics)",
    },
    "redis-failure-without-retry-stays-pending": {
        "core": "ConsumerActor._fail without a retry policy calls broker.reject (dropped at once); Redis has no "
                "reject: the entry stays in the PEL until claimed",
        "redis": "the same engine path rejects, and the Redis adapter turns the reject into XACK + drop",
    },
    # ---- capacity
    "classic-drop-head-dead-letters-maxlen": {
        "core": "Broker._enqueue drops the head for overflow drop_head even with a dead_letter target; RabbitMQ "
                "dead-letters it (x-death reason maxlen); evtool only dead-letters with overflow: dead_letter",
    },
    "classic-maxlen-counts-ready-only": {
        "rabbitmq": "the broker's basic.nack for M4 surfaces as a DeliveryError problem, not publish_rejected, "
                    "and the drain then times out (evtool/transports/amqp.py publish confirm handling)",
    },
    "quorum-reject-publish-one-over": {
        "core": "Broker._enqueue refuses at ready == capacity; RabbitMQ 3.10.8 quorum queues accept one more "
                "(reject-publish starts once the limit is exceeded)",
        "rabbitmq": "the broker's basic.nack for M4 surfaces as a DeliveryError problem, not publish_rejected, "
                    "and the drain then times out (evtool/transports/amqp.py publish confirm handling)",
    },
    "nats-maxmsgs-counts-unacked": {
        "core": "QueueState capacity counts ready messages only (RabbitMQ's rule); a JetStream WorkQueue stream "
                "counts every stored message, unacked ones included (profile field needed)",
    },
    "nats-discard-old-silent": {
        "nats": "the NATS adapter does not observe DiscardOld removals: M1 is never accounted for and the "
                "drain times out",
    },
    # ---- TTL
    "nats-maxage-silent": {
        "core": "Broker._expire dead-letters when the queue has a dead_letter target; JetStream's MaxAge removes "
                "silently (no DLQ, no advisory)",
        "nats": "the NATS adapter does not observe MaxAge removals (no `expired`) and the drain times out",
    },
    # ---- prefetch
    "classic-prefetch-default-unlimited": {
        "core": "sim/consumer.py _subscribe: `profile.prefetch or concurrency` turns the profile's 0 (unlimited) "
                "into the consumer's concurrency (1)",
        "rabbitmq": "the same engine computation sets basic.qos to 1",
    },
    # ---- late subscribers
    "nats-late-subscriber-earliest": {
        "core": "Broker.subscribe applies start_from to logs only; a topic subscription created late starts "
                "empty whatever start_from says (decision 2)",
    },
    "redis-late-group-earliest": {
        "core": "Broker.subscribe applies start_from to logs only; a topic subscription created late starts "
                "empty whatever start_from says (decision 2)",
    },
    "rabbitmq-late-subscriber-misses-earlier": {
        "rabbitmq": "the transport declares every group's queue when the run starts (transports/topology.py), "
                    "so a consumer with `start:` finds messages published before it subscribed",
    },
    "nats-late-subscriber-latest": {
        "nats": "the transport creates every durable consumer (DeliverPolicy all) when the run starts, so a "
                "consumer with `start:` receives earlier messages",
    },
    "redis-late-group-latest": {
        "redis": "the transport creates every group when the run starts, so a consumer with `start:` receives "
                 "earlier entries",
    },
    # ---- requeue positions
    "redis-nack-rereads-own-pending-first": {
        "redis": "the adapter's nack frees the prefetch credit and XCLAIMs later, so its reader takes M2 (>) "
                 "before M1 is re-read: M2 is delivered first and two are in flight with prefetch 1",
    },
    # ---- Kafka
    "kafka-session-timeout-45s": {
        "core": "models.Consumer.session_timeout defaults to 10s and always overrides the profile's "
                "session_timeout_ns (45 s); the partition moves after 10 s",
    },
}
"""scenario id -> {target: why evtool (core or transport) disagrees with the documented outcome}."""

NOT_RUN_ON_REAL_BROKER: dict[str, dict[str, str]] = {
    "rabbitmq-consumer-timeout-late-ack-refused": {
        "rabbitmq": "consumer_timeout is a server-wide setting on RabbitMQ 3.10 (per-queue x-consumer-timeout "
                    "arrives later) and is checked about once a minute: it cannot expire in a few seconds here",
    },
}
"""scenario id -> {transport: why the real-broker run is impossible in a few seconds here (a skip, not a
disagreement: the behaviour cannot be observed, so nothing is claimed)}."""


def _params() -> list[Any]:
    out = []
    for e in ENTRIES:
        for target in e.targets:
            marks: list[Any] = []
            if target != "core":
                marks.append(pytest.mark.broker)
                why = NOT_RUN_ON_REAL_BROKER.get(e.id, {}).get(target)
                if why:
                    marks.append(pytest.mark.skip(reason=why))
            reason = KNOWN_DISAGREEMENTS.get(e.id, {}).get(target)
            if reason:
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            out.append(pytest.param(e, target, id=f"{e.id}-{target}", marks=marks))
    return out


@pytest.mark.parametrize("e,target", _params())
def test_documented_outcome(e: Entry, target: str, request: pytest.FixtureRequest) -> None:
    """Every check of the scenario passes on this target: the documented outcome, message by message."""
    url = None if target == "core" else request.getfixturevalue(f"{target}_url")
    verdict = run_target(e, target, url)
    assert verdict.ok, f"{e.id} on {target} departs from the documented outcome ({e.header['outcome']}):\n" \
                       f"{verdict.describe()}"


def test_the_atlas_is_big_enough() -> None:
    """The issue asks for at least 40 scenarios."""
    assert len(SCENARIOS) >= 40


@pytest.mark.parametrize("e", ENTRIES, ids=[e.id for e in ENTRIES])
def test_every_scenario_names_its_source_and_asserts_per_message(e: Entry) -> None:
    """A header with section, URL, quote and outcome; per-message selectors; injected messages with ids."""
    missing = [k for k in HEADER_KEYS if not e.header.get(k)]
    assert not missing, f"{e.path.name}: the atlas header lacks {missing}"
    assert str(e.header["url"]).startswith("https://"), e.header["url"]
    assert e.path.stem == e.id, "the file is named after the scenario id"
    text = e.path.read_text(encoding="utf-8")
    assert "profile:" in text, "an atlas scenario names its broker profile"
    assert "msg=" in text, "an atlas scenario asserts per message (a selector with msg=...)"
    assert "id:" in text.split("inject:", 1)[-1], "injected messages carry explicit ids"


def test_the_registries_name_real_cases() -> None:
    """A registry entry for a renamed scenario or a target it does not run on is an error, not a no-op."""
    by_id = {e.id: e for e in ENTRIES}
    for registry in (KNOWN_DISAGREEMENTS, NOT_RUN_ON_REAL_BROKER):
        for sid, targets in registry.items():
            assert sid in by_id, f"unknown scenario {sid}"
            for target in targets:
                assert target in by_id[sid].targets, f"{sid} does not run on {target}"


def test_the_readme_table_lists_every_scenario_and_disagreement() -> None:
    """README.md is written by table.py; a scenario or registry entry added without a refresh fails here."""
    readme = (SCENARIOS[0].parent.parent / "README.md").read_text(encoding="utf-8")
    missing = [e.id for e in ENTRIES if f"| `{e.id}` (" not in readme]
    assert not missing, f"refresh tests/semantics/README.md with table.py; missing rows: {missing}"
    for sid, targets in KNOWN_DISAGREEMENTS.items():
        for target in targets:
            assert f"| `{sid}` | {target} |" in readme, f"README lacks the disagreement {sid} / {target}"
