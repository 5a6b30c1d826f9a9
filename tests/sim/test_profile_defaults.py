"""The defaults a profile documents (docs/profiles.md) are the defaults a run uses.

One table-driven test per profile field that a run depends on: each case runs a scenario under one
profile and measures the field's effect from the trace, then compares it with the profile's value.
Each case fails when the run uses another value (a consumer-side default that overrides the profile,
a forgotten field, a changed profile value that the engine ignores).

Sources of the in-flight (prefetch) defaults, checked on the brokers here where one runs:

* RabbitMQ: "A value of 0 is treated as infinite, allowing any number of unacknowledged messages."
  (https://www.rabbitmq.com/docs/consumer-prefetch); a consumer that never calls basic.qos has prefetch 0.
  RabbitMQ 3.10.8 here: one consumer without basic.qos held 300 of 300 messages unacked.
* Redis: XREADGROUP "COUNT count: The maximum number of entries to return per stream" is optional
  (https://redis.io/docs/latest/commands/xreadgroup/); Redis 7.0.15 here returned 300 of 300 without it.
* NATS JetStream: "The default MaxAckPending is 1000 for consumers with an explicit ack policy";
  NATS 2.9.10 here: a consumer made without max_ack_pending reports 1000 (and ack_wait 30 s).
* SQS ReceiveMessage MaxNumberOfMessages: "Valid values: 1 to 10. Default: 1." (SQS API reference).
* Kafka max.poll.records 500 (ConsumerConfig); session.timeout.ms 45 s since Kafka 3.0: "we propose to
  increase the consumer's session timeout from 10s to 45s" (KIP-735, adopted).
"""

from __future__ import annotations

import pytest

from evtool.core.events import TraceEvent
from evtool.core.profiles import PROFILES, SECOND, Profile
from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine

NAMES = sorted(PROFILES)
QUEUE_PROFILES = NAMES  # every profile accepts queue channels (kafka: KIP-932 share groups)


def run(text: str) -> list[TraceEvent]:
    events: list[TraceEvent] = []
    Engine(load_text(text, "t.yaml"), listeners=[events.extend]).run()
    return events


def of(events: list[TraceEvent], kind: str) -> list[TraceEvent]:
    return [e for e in events if e.kind == kind]


# ----------------------------------------------------------------------------------------- prefetch

PREFETCH = """
evtool: "1"
id: prefetch
broker: {{profile: {profile}}}
run: {{seed: 1, duration: 1s, drain: {{max: 1s}}}}
channels:
  work: {{kind: queue}}
producers:
  load: {{to: work, arrival: {{process: once}}, count: 2500}}
consumers:
  worker: {{from: work, processing: 1h{extra}}}
"""


def expected_in_flight(p: Profile, asked: int | None, sent: int = 2500) -> int:
    """What the broker hands one instance at once: the prefetch (0 = unlimited), within the cap."""
    pf = p.prefetch if asked is None else asked
    if p.prefetch_cap is not None and (pf == 0 or pf > p.prefetch_cap):
        pf = p.prefetch_cap
    return sent if pf == 0 else min(pf, sent)


@pytest.mark.parametrize("profile", QUEUE_PROFILES)
def test_a_consumer_without_prefetch_gets_the_profiles(profile: str) -> None:
    """`prefetch` and `prefetch_cap`: RabbitMQ and Redis unlimited (quorum queues capped at 2000), NATS 1000,
    SQS 1 (ReceiveMessage without MaxNumberOfMessages), Kafka 500 (max.poll.records), default 10."""
    events = run(PREFETCH.format(profile=profile, extra=""))
    at_start = [e for e in of(events, "delivered") if e.t == 0]
    assert len(at_start) == expected_in_flight(PROFILES[profile], None)


@pytest.mark.parametrize("profile", QUEUE_PROFILES)
def test_prefetch_unlimited_is_expressible(profile: str) -> None:
    """`prefetch: unlimited` asks for no limit (RabbitMQ basic.qos 0); a profile's cap still applies."""
    events = run(PREFETCH.format(profile=profile, extra=", prefetch: unlimited"))
    at_start = [e for e in of(events, "delivered") if e.t == 0]
    assert len(at_start) == expected_in_flight(PROFILES[profile], 0)


@pytest.mark.parametrize("profile", QUEUE_PROFILES)
def test_a_profile_setting_changes_the_default_prefetch(profile: str) -> None:
    """`broker.settings.prefetch` is the default of every consumer without its own."""
    text = PREFETCH.format(profile=profile, extra="").replace(
        f"broker: {{profile: {profile}}}", f"broker: {{profile: {profile}, settings: {{prefetch: 7}}}}")
    at_start = [e for e in of(run(text), "delivered") if e.t == 0]
    assert len(at_start) == 7


def test_unlimited_is_a_prefetch_setting_too() -> None:
    """`broker.settings.prefetch: unlimited` makes every consumer's default unlimited."""
    text = PREFETCH.format(profile="nats-jetstream", extra="").replace(
        "broker: {profile: nats-jetstream}", "broker: {profile: nats-jetstream, settings: {prefetch: unlimited}}")
    assert len([e for e in of(run(text), "delivered") if e.t == 0]) == 2500


def test_a_bad_prefetch_setting_is_a_located_error() -> None:
    text = PREFETCH.format(profile="default", extra="").replace(
        "broker: {profile: default}", "broker: {profile: default, settings: {prefetch: lots}}")
    with pytest.raises(ScenarioError) as exc:
        run(text)
    assert "t.yaml:" in str(exc.value) and "prefetch" in str(exc.value)


def test_concurrency_above_the_default_prefetch_receives_per_slot() -> None:
    """SQS returns one message per ReceiveMessage, but each of 4 handler slots receives for itself."""
    text = PREFETCH.format(profile="sqs-standard", extra=", concurrency: 4")
    assert len([e for e in of(run(text), "delivered") if e.t == 0]) == 4


# ------------------------------------------------------------------------------ lease (ack timeout)

LEASE = """
evtool: "1"
id: lease
broker: {{profile: {profile}}}
run: {{seed: 1, duration: 1s, drain: {{max: 3h}}}}
channels:
  work: {{kind: queue}}
producers:
  load: {{to: work, arrival: {{process: once}}, count: 1}}
consumers:
  worker: {{from: work, processing: 2h, prefetch: 1}}
"""


@pytest.mark.parametrize("profile", QUEUE_PROFILES)
def test_the_lease_is_the_profiles(profile: str) -> None:
    """`ack_timeout_ns` and `ack_timeout_action`: RabbitMQ closes the channel after 30 min; SQS, NATS and
    Kafka share groups return the one message after 30 s; Redis has no lease."""
    p = PROFILES[profile]
    events = run(LEASE.format(profile=profile))
    expired = of(events, "lease_expired")
    lease = p.ack_timeout_ns if p.ack_timeout_action != "none" else None
    assert (expired[0].t if expired else None) == lease
    assert bool(of(events, "channel_closed")) == (p.ack_timeout_action == "close_channel")


# ------------------------------------------------------------------ delivery limit and what follows

LIMIT = """
evtool: "1"
id: limit
broker: {{profile: {profile}{settings}}}
run: {{seed: 1, duration: 1s, drain: {{max: 5s}}}}
channels:
  work: {{kind: queue, dead_letter: dlq}}
  dlq: {{kind: queue, role: dead_letter}}
producers:
  load: {{to: work, arrival: {{process: once}}, count: 1}}
consumers:
  worker:
    from: work
    fail_if: [{{probability: 1.0, error: Boom}}]
    retry: {{max_attempts: forever, mode: redeliver, on_exhausted: drop}}
"""

FATE = {"dead_letter": "dead_lettered", "drop": "dropped", "keep_with_advisory": "max_deliveries_reached"}


def _deliveries(events: list[TraceEvent]) -> int:
    return len([e for e in events if e.kind in ("delivered", "redelivered") and e.channel == "work"])


@pytest.mark.parametrize("profile", QUEUE_PROFILES)
def test_the_default_delivery_limit_is_the_profiles(profile: str) -> None:
    """`max_deliveries`: only Kafka share groups limit by default (5, then the record is archived)."""
    p = PROFILES[profile]
    events = run(LIMIT.format(profile=profile, settings=""))
    if p.max_deliveries is None:
        assert _deliveries(events) > 50      # 10 ms per attempt for 5 s: nothing stops the loop
        assert not of(events, FATE[p.at_limit])
    else:
        assert _deliveries(events) == p.max_deliveries + (0 if p.counts_first_delivery else 1)
        assert len(of(events, FATE[p.at_limit])) == 1


@pytest.mark.parametrize("profile", [n for n in QUEUE_PROFILES if PROFILES[n].counter_increments_on])
def test_a_delivery_limit_counts_and_ends_as_the_profile_says(profile: str) -> None:
    """`counter_increments_on` and `at_limit` with a limit of 3: a counter that counts the first delivery
    allows 3 deliveries, a return counter (RabbitMQ quorum) 4; then dead-letter, drop or keep."""
    p = PROFILES[profile]
    events = run(LIMIT.format(profile=profile, settings=", settings: {max_deliveries: 3}"))
    assert _deliveries(events) == (3 if p.counts_first_delivery else 4)
    fates = {kind: len(of(events, kind)) for kind in FATE.values()}
    assert fates == {kind: int(kind == FATE[p.at_limit]) for kind in FATE.values()}


# ----------------------------------------------------------------------------- where a nack returns

REQUEUE = """
evtool: "1"
id: requeue
broker: {{profile: {profile}}}
run: {{seed: 1, duration: 1s, drain: {{max: 1s}}}}
channels:
  work: {{kind: queue}}
producers:
  load: {{to: work, arrival: {{process: once}}, count: 3}}
consumers:
  worker:
    from: work
    prefetch: 1
    fail_if: [{{when: "attempt < 2", error: Boom}}]
    retry: {{max_attempts: 3, mode: redeliver, on_exhausted: drop}}
"""


@pytest.mark.parametrize("profile", QUEUE_PROFILES)
def test_a_nacked_message_returns_where_the_profile_says(profile: str) -> None:
    """`requeue_position` (head_if_limited: the tail when the queue has no delivery limit, RabbitMQ 3.10)."""
    p = PROFILES[profile]
    events = run(REQUEUE.format(profile=profile))
    position = of(events, "returned")[0].data["position"]
    expected = p.requeue_position
    if expected == "head_if_limited":
        expected = "head" if p.max_deliveries else "tail"
    assert position == expected


# ------------------------------------------------------------------- a crashed consumer's messages

CRASH = """
evtool: "1"
id: crash
broker: {{profile: {profile}}}
run: {{seed: 1, duration: 1s, drain: {{max: 2h}}}}
channels:
  work: {{kind: queue}}
producers:
  load: {{to: work, arrival: {{process: once}}, count: 1}}
consumers:
  worker: {{from: work, processing: 10h, prefetch: 1}}
faults:
  - {{at: 1s, action: crash, target: "consumer:worker"}}
"""


@pytest.mark.parametrize("profile", QUEUE_PROFILES)
def test_a_crashed_consumers_message_returns_as_the_profile_says(profile: str) -> None:
    """`crash_return`: immediate (AMQP connection close), lease (SQS, NATS: when the lease ends), never
    (Redis: the entry stays pending until claimed)."""
    p = PROFILES[profile]
    returned = of(run(CRASH.format(profile=profile)), "returned")
    expected = {"immediate": SECOND, "lease": p.ack_timeout_ns, "never": None}[p.crash_return]
    assert (returned[0].t if returned else None) == expected


# ---------------------------------------------------------------------------------- deduplication

DEDUP = """
evtool: "1"
id: dedup
broker: {{profile: {profile}}}
run: {{seed: 1, duration: 20m, drain: {{max: 1s}}}}
channels:
  work: {{kind: queue}}
producers:
  load:
    to: work
    arrival: {{process: once}}
    count: 1
{dedup}    inject:
      - {{at: 1s, id: X}}
      - {{at: {second}, id: X}}
      - {{at: {third}, id: X}}
consumers:
  worker: {{from: work}}
"""


@pytest.mark.parametrize("profile", NAMES)
def test_the_producer_dedup_id_is_the_profiles(profile: str) -> None:
    """`producer_dedup_id`: only sqs-fifo producers send a dedup id unless the scenario says so."""
    p = PROFILES[profile]
    events = run(DEDUP.format(profile=profile, dedup="", second="2s", third="3s"))
    dedups = p.producer_dedup_id == "message_id" and p.dedup_window_ns is not None
    assert len(of(events, "duplicate_dropped")) == (2 if dedups else 0)


@pytest.mark.parametrize("profile", NAMES)
def test_the_dedup_window_is_the_profiles(profile: str) -> None:
    """`dedup_window_ns`: a repeat just inside the window is dropped, one just after it is not (the window
    runs from the accepted publish). NATS 2 min, SQS FIFO 5 min, none elsewhere."""
    p = PROFILES[profile]
    w = p.dedup_window_ns or 60 * SECOND
    second, third = SECOND + w - SECOND // 10, SECOND + w + SECOND // 10
    events = run(DEDUP.format(profile=profile, dedup="    dedup_id: message_id\n",
                              second=f"{second // 1_000_000}ms", third=f"{third // 1_000_000}ms"))
    dropped = [e.t for e in of(events, "duplicate_dropped")]
    assert dropped == ([second] if p.dedup_window_ns is not None else [])


# ------------------------------------------------------------------------------------- log groups

LOG = """
evtool: "1"
id: log
broker: {{profile: {profile}{settings}}}
run: {{seed: 1, duration: 2m, drain: {{max: 1s}}}}
channels:
  events: {{kind: log, partitions: 4}}
producers:
  load: {{to: events, arrival: {{process: once}}, count: 8, key: {{dist: round_robin, space: 8}}}}
consumers:
  reader: {{from: events, instances: 2, start: 1s}}
faults:
  - {{at: 2s, action: crash, target: "consumer:reader#0"}}
"""


@pytest.mark.parametrize("profile", NAMES)
def test_a_crashed_member_is_evicted_after_the_profiles_session_timeout(profile: str) -> None:
    """`session_timeout_ns`: 45 s (Kafka 3.0+ session.timeout.ms) unless the scenario sets one; a consumer
    used to force 10 s whatever the profile said."""
    events = run(LOG.format(profile=profile, settings=""))
    evicted = [e for e in of(events, "rebalanced") if e.data["reason"] == "session_timeout"]
    assert [e.t - 2 * SECOND for e in evicted] == [PROFILES[profile].session_timeout_ns]


@pytest.mark.parametrize("profile", NAMES)
def test_a_session_timeout_setting_applies(profile: str) -> None:
    events = run(LOG.format(profile=profile, settings=", settings: {session_timeout: 7s}"))
    evicted = [e for e in of(events, "rebalanced") if e.data["reason"] == "session_timeout"]
    assert [e.t - 2 * SECOND for e in evicted] == [7 * SECOND]


@pytest.mark.parametrize("profile", NAMES)
def test_a_new_group_starts_where_the_profile_says(profile: str) -> None:
    """`log_start`: a group made after the records were written reads them (earliest) or not (latest)."""
    events = run(LOG.format(profile=profile, settings=""))
    read = {e.msg for e in of(events, "delivered") if e.channel == "events"}
    assert len(read) == (8 if PROFILES[profile].log_start == "earliest" else 0)


RANGE = {"reader#0": [0, 1], "reader#1": [2, 3]}
ROUND_ROBIN = {"reader#0": [0, 2], "reader#1": [1, 3]}


@pytest.mark.parametrize("profile", NAMES)
@pytest.mark.parametrize("setting", [None, "round_robin"])
def test_partitions_are_assigned_with_the_profiles_strategy(profile: str, setting: str | None) -> None:
    """`assignment`: the profile's strategy (range everywhere) or a `broker.settings` override."""
    settings = f", settings: {{assignment: {setting}}}" if setting else ""
    events = run(LOG.format(profile=profile, settings=settings))
    joined = [e for e in of(events, "rebalanced") if e.data["reason"] == "join"][-1]
    strategy = setting or PROFILES[profile].assignment
    assert joined.data["strategy"] == strategy
    assert joined.data["assignment"] == (ROUND_ROBIN if strategy == "round_robin" else RANGE)


# --------------------------------------------------------------------------------- counter name

def test_a_profile_without_a_counter_refuses_a_delivery_limit_by_name() -> None:
    """`counter_name`: RabbitMQ classic queues have only the `redelivered` flag, so no delivery limit."""
    text = LIMIT.format(profile="rabbitmq-classic", settings="").replace(
        "work: {kind: queue, dead_letter: dlq}", "work: {kind: queue, dead_letter: dlq, max_deliveries: 3}")
    with pytest.raises(ScenarioError) as exc:
        run(text)
    message = str(exc.value)
    assert "t.yaml:" in message and f"({PROFILES['rabbitmq-classic'].counter_name})" in message
