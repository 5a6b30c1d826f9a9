"""Explore's broker choices (`evtool/core/broker_choices.py`): the choices a broker's documentation leaves
open, tried only where it does, repeated exactly by the schedule number, and free when explore is off.

What each profile allows (the sentences, with their URLs, are in `BROKER_CHOICES`):

* sqs-standard: "Standard queues ensure at-least-once message delivery, but due to the highly distributed
  architecture, more than one copy of a message might be delivered, and messages may occasionally arrive
  out of order." (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html)
  -> any polling consumer may get the next message; leases (and delays) ending together return in any
  order.
* sqs-fifo: "Messages within the same message group are always processed one at a time, in strict order"
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/using-messagegroupid-property.html)
  -> which consumer receives is free, the order within a group is not.
* nats-jetstream: "Consumers are pull-based, meaning the services consuming data from them have to ask the
  system for the next available message." (https://docs.nats.io/running-a-nats-service/nats_admin/
  jetstream_admin/consumers) -> consumer choice only.
* redis-streams: XREADGROUP serves whichever member asks (https://redis.io/commands/xreadgroup) -> consumer
  choice only.
* rabbitmq-classic / rabbitmq-quorum: "messages are distributed in round robin manner with respect to
  channel-level prefetch setting" (https://rubydoc.info/gems/bunny/0.7.8/Bunny/Consumer) -> nothing.
* kafka: queue channels are KIP-932 share groups: "Kafka will deliver each message in the subscribed topics to
  one consumer in the share group." (https://kafka.apache.org/40/javadoc/org/apache/kafka/clients/consumer/
  KafkaShareConsumer.html) -> consumer choice on queues; logs keep offset order ("A consumer observes
  messages in a single partition in the same order that they were committed to the broker").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evtool.core.broker import Broker
from evtool.core.broker_choices import (
    BROKER_CHOICES,
    CONSUMER,
    LEASE_ORDER,
    ChoosingBroker,
    allowed_choices,
    choosing_broker,
)
from evtool.core.channel_config import GroupedQueueConfig, QueueConfig
from evtool.core.message import Message
from evtool.core.profiles import PROFILES, get_profile
from evtool.explore.candidate import Candidate, Runner
from evtool.explore.search import Budget, Explorer
from evtool.sim.engine import Engine

FIXTURES = Path(__file__).parent / "fixtures"
S = 1_000_000_000


def _runner(name: str, **overrides: object) -> Runner:
    path = FIXTURES / name
    return Runner(path.read_text(encoding="utf-8"), str(path), overrides or None)


def test_every_profile_has_a_decision_with_its_source() -> None:
    for name in PROFILES:
        assert name in BROKER_CHOICES, f"profile {name} has no broker-choice decision"
        rule = BROKER_CHOICES[name]
        assert rule.choices <= {CONSUMER, LEASE_ORDER}
        if rule.choices:
            assert "https://" in rule.source and '"' in rule.source, f"{name}: quote the documentation"
    assert allowed_choices(get_profile("sqs-standard")) == {CONSUMER, LEASE_ORDER}
    for fixed in ("default", "rabbitmq-classic", "rabbitmq-quorum"):
        assert choosing_broker(get_profile(fixed), 7) is None, f"{fixed} must keep the plain broker"
    for ordered in ("sqs-fifo", "nats-jetstream", "redis-streams", "kafka"):
        assert LEASE_ORDER not in allowed_choices(get_profile(ordered))


# ------------------------------------------------------------------ which ready consumer gets it

def test_explore_finds_the_consumer_choice_that_breaks_the_design() -> None:
    runner = _runner("legacy-poller.yaml")
    plain = runner.run(Candidate(5))
    assert not [c for c in plain.checks if c["status"] == "fail"], "the round-robin run must pass"
    explorer = Explorer(runner, check=None, seed=1, budget=Budget(runs=30))
    found = explorer.search()
    assert found is not None, "explore did not find the run where the legacy poller gets the order"
    assert found.failed == ("nothing-mishandled",)
    assert not found.candidate.interventions
    assert dict(found.candidate.overrides).get("explore.schedule") is not None
    assert explorer.progress.choice_points > 0 and explorer.progress.choices_varied > 0
    assert explorer.progress.runs <= 30
    # the counterexample repeats exactly (the schedule number is in its overrides: replay carries it)
    assert runner.run(found.candidate).digest == found.outcome.digest
    assert runner.run(found.candidate).digest != plain.digest


@pytest.mark.parametrize("profile", ["nats-jetstream", "redis-streams", "kafka"])
def test_other_pull_brokers_may_hand_the_order_to_either_consumer(profile: str) -> None:
    runner = _runner("legacy-poller.yaml", **{"broker.profile": profile})
    found = Explorer(runner, check=None, seed=1, budget=Budget(runs=30)).search()
    assert found is not None and found.failed == ("nothing-mishandled",)


def _assignment(profile: str, schedule: int | None) -> list[tuple[str, str]]:
    p = get_profile(profile)
    events: list = []
    broker = Broker(p, events.append) if schedule is None else \
        ChoosingBroker(p, events.append, schedule, allowed_choices(p))
    broker.declare("q", QueueConfig())
    for name in ("a", "b"):
        broker.subscribe(0, "q", name, 0, prefetch=10)
    for i in range(1, 5):
        broker.publish(0, "q", Message(f"m{i}", channel="q"))
    return [(d.msg.id, broker.subscriber(d.sub).consumer) for d in broker.pump(0)]  # type: ignore[union-attr]


def test_each_message_may_go_to_any_ready_consumer_but_the_queue_order_stays() -> None:
    plain = _assignment("nats-jetstream", None)
    assert [who for _m, who in plain] == ["a", "b", "a", "b"]  # round-robin
    seen = set()
    for n in range(1, 40):
        got = _assignment("nats-jetstream", n)
        assert [m for m, _who in got] == ["m1", "m2", "m3", "m4"], "a ready message was handed out of order"
        seen.add(tuple(who for _m, who in got))
        assert got == _assignment("nats-jetstream", n)  # the same number, the same choices
    assert ("a", "a", "a", "a") in seen or ("b", "b", "b", "b") in seen or \
        any(w[0] == w[1] for w in seen), "only round-robin assignments were drawn"
    assert len(seen) > 4
    assert {tuple(who for _m, who in _assignment("rabbitmq-classic", n)) for n in range(1, 10)} == \
        {("a", "b", "a", "b")}, "RabbitMQ's round-robin was varied"


def test_round_robin_brokers_have_no_consumer_choice_so_explore_finds_nothing() -> None:
    runner = _runner("legacy-poller.yaml", **{"broker.profile": "rabbitmq-classic"})
    explorer = Explorer(runner, check=None, seed=1, budget=Budget(runs=30))
    assert explorer.search() is None
    assert explorer.progress.broker_choices == ()
    assert explorer.progress.choice_runs == 0 and explorer.progress.choice_points == 0


def test_the_choosing_broker_is_built_only_for_explore_schedules_on_profiles_with_choices() -> None:
    sqs = _runner("legacy-poller.yaml")
    assert type(Engine(sqs.loaded()).broker) is Broker
    assert type(Engine(sqs.loaded((("explore.schedule", 9),))).broker) is ChoosingBroker
    rabbit = _runner("legacy-poller.yaml", **{"broker.profile": "rabbitmq-classic"})
    assert type(Engine(rabbit.loaded((("explore.schedule", 9),))).broker) is Broker
    # the same schedule number makes the same choices
    cand = Candidate(5, (("explore.schedule", 9),))
    assert sqs.run(cand).digest == sqs.run(cand).digest


# ------------------------------------------------------------------ FIFO: no reordering, ever

def test_explore_never_reorders_a_fifo_message_group() -> None:
    runner = _runner("fifo-groups.yaml")
    explorer = Explorer(runner, check=None, seed=2, budget=Budget(runs=40))
    assert explorer.search() is None, "a FIFO group was delivered out of order: that choice is not allowed"
    p = explorer.progress
    assert p.broker_choices == (CONSUMER,)
    assert p.choice_runs > 0 and p.choices_varied > 0, "no consumer choice was tried: the test proves nothing"


def test_explore_never_reorders_a_partition_for_its_member() -> None:
    runner = _runner("partition-order.yaml")
    explorer = Explorer(runner, check=None, seed=2, budget=Budget(runs=30))
    assert explorer.search() is None, "a partition was delivered out of offset order: that choice is not allowed"
    p = explorer.progress
    assert p.broker_choices == (CONSUMER,) and p.choice_runs > 0  # runs with choices were tried ...
    assert p.choice_points == 0  # ... and none of them touched the log
    # the same design with unordered dispatch does fail: the check can see a reordering
    unordered = _runner("partition-order.yaml", **{"consumers.statements.dispatch": "unordered",
                                                   "consumers.statements.concurrency": 4})
    assert [c for c in unordered.run(Candidate(6)).checks if c["status"] == "fail"]


# ------------------------------------------------------------------ which of two redeliveries comes first

def _returned_order(profile: str, schedule: int | None, config: object) -> list[str]:
    p = get_profile(profile)
    events: list = []
    broker = Broker(p, events.append) if schedule is None else \
        ChoosingBroker(p, events.append, schedule, allowed_choices(p))
    broker.declare("q", config)  # type: ignore[arg-type]
    broker.subscribe(0, "q", "c", 0, prefetch=5)
    for i in ("m1", "m2", "m3"):
        broker.publish(0, "q", Message(i, channel="q", key="g"))
    assert len(broker.pump(0)) == 3
    t = broker.next_timer()
    assert t is not None
    broker.fire_timers(t)
    return [e.msg for e in events if e.kind == "lease_expired"]


def test_leases_ending_together_return_in_any_order_only_on_sqs_standard() -> None:
    plain = _returned_order("sqs-standard", None, QueueConfig())
    assert plain == ["m1", "m2", "m3"]
    orders = {tuple(_returned_order("sqs-standard", n, QueueConfig())) for n in range(1, 30)}
    assert len(orders) > 1, "the order of leases ending together was never varied"
    assert all(sorted(o) == ["m1", "m2", "m3"] for o in orders)
    assert _returned_order("sqs-standard", 4, QueueConfig()) == _returned_order("sqs-standard", 4, QueueConfig())
    for profile in ("nats-jetstream", "sqs-fifo"):
        cfg = GroupedQueueConfig() if profile == "sqs-fifo" else QueueConfig()
        base = _returned_order(profile, None, cfg)
        assert all(_returned_order(profile, n, cfg) == base for n in range(1, 30)), \
            f"{profile}: the order of redeliveries must not be varied"


def test_a_consumer_choice_counterexample_is_recorded_and_replays_with_the_same_digest(tmp_path: Path) -> None:
    import re

    from typer.testing import CliRunner

    from evtool.cli.app import app
    from evtool.store.runstore import SyncRunStore

    env = {"COLUMNS": "200", "NO_COLOR": "1", "EVTOOL_DB": str(tmp_path / "runs.db")}
    fixture = str(FIXTURES / "legacy-poller.yaml")
    res = CliRunner().invoke(app, ["explore", fixture, "--budget", "30 runs"], env=env)
    assert res.exit_code == 1, res.output
    assert "broker choices (consumer, lease_order)" in res.output
    run_id = re.search(r"recorded as run (\w+)", res.output).group(1)  # type: ignore[union-attr]
    digest = re.search(r"digest ([0-9a-f]{16})", res.output).group(1)  # type: ignore[union-attr]
    with SyncRunStore(tmp_path / "runs.db") as store:
        header, _result = store.get(store.resolve(run_id))
    assert "explore.schedule" in header.overrides  # the choices travel with the run
    again = CliRunner().invoke(app, ["run", fixture, "--replay-interventions", run_id, "-q"], env=env)
    assert again.exit_code == 1, again.output
    assert f"digest {digest}" in again.output
    # and the dashboard's replay host (`evtool replay RUN`) makes the same choices
    import math

    from evtool.scenario.loader import load_text
    from evtool.sim.host import EngineHost, Resume, SetSpeed

    with SyncRunStore(tmp_path / "runs.db") as store:
        header, result = store.get(store.resolve(run_id))
    loaded = load_text(header.scenario_text, header.scenario_path or "<recorded>", header.overrides or None)
    host = EngineHost(loaded, seed=header.seed, interventions=[], replay=True, threaded=False)
    host.start()
    host.submit(SetSpeed(math.inf))
    for _ in range(2000):
        snap = host.tick(0.25)
        if snap.paused:
            host.submit(Resume())
        if host.outcome is not None:
            break
    assert host.outcome is not None and host.outcome.digest == result.digest


def test_explore_finds_the_redelivery_that_overtakes_its_predecessor_on_sqs_standard_only() -> None:
    runner = _runner("redelivery-order.yaml")
    plain = runner.run(Candidate(4))
    assert not [c for c in plain.checks if c["status"] == "fail"], "the plain broker keeps delivery order"
    explorer = Explorer(runner, check=None, seed=1, budget=Budget(runs=30))
    found = explorer.search()
    assert found is not None and found.failed == ("steps-in-order",)
    assert not found.candidate.interventions and "explore.schedule" in dict(found.candidate.overrides)
    assert runner.run(found.candidate).digest == found.outcome.digest
    for profile, kind in (("nats-jetstream", "queue"), ("sqs-fifo", "grouped_queue")):
        other = _runner("redelivery-order.yaml", **{"broker.profile": profile, "channels.steps.kind": kind})
        assert Explorer(other, check=None, seed=1, budget=Budget(runs=30)).search() is None, \
            f"{profile}: a redelivery overtook its predecessor, which the profile does not allow"


def _delayed_order(profile: str, schedule: int | None) -> list[str]:
    p = get_profile(profile)
    events: list = []
    broker = Broker(p, events.append) if schedule is None else \
        ChoosingBroker(p, events.append, schedule, allowed_choices(p))
    broker.declare("q", QueueConfig())
    broker.subscribe(0, "q", "c", 0, prefetch=5)
    for i in ("m1", "m2", "m3"):
        broker.publish(0, "q", Message(i, channel="q"))
    for d in broker.pump(0):
        assert broker.nack(0, d.tag, requeue=True, delay_ns=2 * S)  # SQS: ChangeMessageVisibility 2 s
    t = broker.next_timer()
    assert t == 2 * S
    broker.fire_timers(t)
    return [e.msg for e in events if e.kind == "enqueued" and (e.data or {}).get("reason") == "delay_elapsed"]


def test_delays_ending_together_end_in_any_order_only_on_sqs_standard() -> None:
    assert _delayed_order("sqs-standard", None) == ["m1", "m2", "m3"]
    orders = {tuple(_delayed_order("sqs-standard", n)) for n in range(1, 30)}
    assert len(orders) > 1 and all(sorted(o) == ["m1", "m2", "m3"] for o in orders)
    base = _delayed_order("nats-jetstream", None)
    assert all(_delayed_order("nats-jetstream", n) == base for n in range(1, 30))
