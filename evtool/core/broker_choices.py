"""Broker choice points for `evtool explore`: the choices a broker may make that its documentation leaves
open, tried by a broker that draws them from the run's schedule number (`explore.schedule`).

Two choices, and only where the profile's documentation allows them (`BROKER_CHOICES`, quoted below):

* ``consumer``: which ready consumer (one with credit) receives each message of a queue. Pull-based
  brokers hand a message to whichever consumer asks first, so any ready consumer may get it. (On a grouped
  queue only who is served first at each dispatch is drawn: the group's own receive rules stay.) Push-based
  RabbitMQ documents round-robin dispatch, so it has no such freedom and is never varied.
* ``lease_order``: the order in which leases (visibility timeouts) ending at the same instant return their
  messages to the queue, and so which of two redeliveries comes first; likewise messages whose delay
  (a delayed publish, a nack with a delay: ChangeMessageVisibility) ends at the same instant. Only where the broker promises no
  order at all (SQS standard: best-effort ordering); a FIFO queue, a message group, a queue that returns
  messages to the head or to their original place, and a log partition keep their order.

Logs (Kafka partitions, Redis and JetStream streams read as logs) are never touched (only queue channels, a
topic's subscription queues and Kafka's queue channels, which stand for share groups, are): a partition is
delivered to its one member in offset order. Nothing here runs unless explore asks: the engine builds a
`ChoosingBroker` only for a run whose scenario has `explore.schedule` and whose profile allows a choice
(`choosing_broker`); every other run uses the plain `Broker`, whose hot paths are unchanged.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from heapq import heappop
from typing import Any

from evtool.core.broker import Broker
from evtool.core.delivery import Delivery
from evtool.core.profiles import Profile
from evtool.core.queues import READY, Entry, QueueState

CONSUMER = "consumer"
LEASE_ORDER = "lease_order"


@dataclass(frozen=True)
class ChoiceRule:
    """The broker choices a profile allows, with the documentation sentence that allows or forbids them."""

    choices: frozenset[str]
    source: str
    """The quoted sentence and its URL."""


BROKER_CHOICES: dict[str, ChoiceRule] = {
    "default": ChoiceRule(frozenset(), "evtool's own broker dispatches round-robin among consumers with credit "
                                       "by design (docs/profiles.md): nothing to vary"),
    "rabbitmq-classic": ChoiceRule(frozenset(), "\"In the case of multiple consumers per queue, messages are "
                                   "distributed in round robin manner with respect to channel-level prefetch "
                                   "setting\" (https://rubydoc.info/gems/bunny/0.7.8/Bunny/Consumer); a lease "
                                   "expiry closes the channel and requeued messages keep their place"),
    "rabbitmq-quorum": ChoiceRule(frozenset(), "round-robin dispatch as rabbitmq-classic "
                                  "(https://rubydoc.info/gems/bunny/0.7.8/Bunny/Consumer)"),
    "sqs-standard": ChoiceRule(frozenset({CONSUMER, LEASE_ORDER}),
                               "\"Standard queues ensure at-least-once message delivery, but due to the highly "
                               "distributed architecture, more than one copy of a message might be delivered, "
                               "and messages may occasionally arrive out of order.\" (https://docs.aws.amazon.com/"
                               "AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html); consumers "
                               "receive by polling (ReceiveMessage), so any one of them may get the next message"),
    "sqs-fifo": ChoiceRule(frozenset({CONSUMER}),
                           "\"Messages within the same message group are always processed one at a time, in strict "
                           "order, ensuring that no two messages from the same group are processed "
                           "simultaneously.\" (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/"
                           "SQSDeveloperGuide/using-messagegroupid-property.html): which consumer receives is "
                           "free, the order within a group is not"),
    "nats-jetstream": ChoiceRule(frozenset({CONSUMER}),
                                 "\"Consumers are pull-based, meaning the services consuming data from them have "
                                 "to ask the system for the next available message. This means you can easily "
                                 "scale your services up by adding more workers and the messages will get spread "
                                 "across the workers based on their availability.\" (https://docs.nats.io/"
                                 "running-a-nats-service/nats_admin/jetstream_admin/consumers); the order of "
                                 "redeliveries is not documented, so it is not varied"),
    "redis-streams": ChoiceRule(frozenset({CONSUMER}),
                                "\"If, for instance, the stream gets the new entries A, B, and C and there are two "
                                "consumers reading via a consumer group, one client will get for instance, the "
                                "messages A and C, and the other the message B, and so forth.\" "
                                "(https://redis.io/commands/xreadgroup): XREADGROUP serves whichever consumer "
                                "asks; Redis has no lease, so no lease order"),
    "kafka": ChoiceRule(frozenset({CONSUMER}),
                        "queue channels stand for KIP-932 share groups: \"Kafka will deliver each message in the "
                        "subscribed topics to one consumer in the share group. Unlike consumer groups, share groups "
                        "balance the partitions between all members of the share group permitting multiple "
                        "consumers to consume from the same partitions.\" (https://kafka.apache.org/40/javadoc/"
                        "org/apache/kafka/clients/consumer/KafkaShareConsumer.html); released records are "
                        "re-acquired first (head), so no lease order; logs keep offset order: \"A consumer "
                        "observes messages in a single partition in the same order that they were committed to "
                        "the broker\" (https://docs.redhat.com/fr/documentation/red_hat_streams_for_apache_kafka/"
                        "2.7/html/kafka_configuration_tuning/con-consumer-config-properties-str)"),
}
"""Per profile: the broker choices explore may vary, and why."""


def allowed_choices(profile: Profile) -> frozenset[str]:
    """The broker choices `profile` allows (none for a profile this table does not know)."""
    rule = BROKER_CHOICES.get(profile.name)
    return rule.choices if rule is not None else frozenset()


class ChoosingBroker(Broker):
    """A `Broker` that makes the allowed choices (`BROKER_CHOICES`) by draws from a schedule number.

    The draws come from one `random.Random` seeded from the number, in the order the run reaches the
    choice points, so a run with the same number repeats exactly. `choice_points` counts the choice points met
    (two or more options), `choices_varied` those where the draw differs from the plain broker's choice."""

    def __init__(self, profile: Profile, sink: Any, schedule: int, choices: frozenset[str]) -> None:
        super().__init__(profile, sink)
        self._choice_rng = random.Random(f"broker-choices/{schedule}")
        self._pick_consumer = CONSUMER in choices
        self._lease_order = LEASE_ORDER in choices
        self.choice_points = 0
        self.choices_varied = 0

    def _pump_queue(self, now: int, qs: QueueState, out: list[Delivery]) -> None:
        subs = qs.dispatch_subs
        n = len(subs)
        if not (self._pick_consumer and n > 1 and qs.ready_n):
            super()._pump_queue(now, qs, out)
            return
        if qs.grouped:
            # a message group's receive keeps its own rules (SQS FIFO takes several of one group in one
            # receive): only who is served first is drawn
            ready = self._ready(subs)
            if len(ready) > 1:
                qs.rr = self._draw(ready, qs.rr if qs.rr < n else 0, n)
            super()._pump_queue(now, qs, out)
            return
        # one message at a time, each to a drawn ready consumer: the plain pump serves the one drawn,
        # with room for exactly one more message
        rr = qs.rr if qs.rr < n else 0
        try:
            while qs.ready_n:
                ready = self._ready(subs)
                if not ready:
                    break
                pick = self._draw(ready, rr, n) if len(ready) > 1 else ready[0]
                sub = subs[pick]
                pf = sub.prefetch
                before = len(out)
                sub.prefetch = sub.in_flight + 1
                qs.dispatch_subs = [sub]
                qs.rr = 0
                try:
                    super()._pump_queue(now, qs, out)
                finally:
                    sub.prefetch = pf
                    qs.dispatch_subs = subs
                if len(out) == before:
                    break              # what was ready expired or reached its limit on the way
                rr = pick + 1 if pick + 1 < n else 0
        finally:
            qs.rr = rr

    @staticmethod
    def _ready(subs: list[Any]) -> list[int]:
        """The indexes of the subscribers with credit."""
        return [i for i, s in enumerate(subs) if not s.prefetch or s.in_flight < s.prefetch]

    def _draw(self, ready: list[int], start: int, n: int) -> int:
        """A drawn ready subscriber; counts the choice point, and whether round-robin from `start` would
        have served another."""
        plain = min(ready, key=lambda i: (i - start) % n)
        pick = self._choice_rng.choice(ready)
        self.choice_points += 1
        self.choices_varied += pick != plain
        return pick

    def _fire_queue(self, now: int, qs: QueueState) -> None:
        if self._lease_order and not qs.grouped and qs.requeue_position == "tail" \
                and qs.lease_action == "return_message":
            # as the plain broker: expired leases first, then delays that end (each group due together
            # in a drawn order); the plain `_fire_queue` then finds none of them and does the rest
            for _dl, tag, e in self._due_leases(now, qs):
                if e.tag == tag and e.deadline == _dl:
                    self._lease_expired(now, e)
            delayed = qs.delayed
            if len(delayed) > 1 and delayed[0][0] <= now:
                due = []
                while delayed and delayed[0][0] <= now:
                    due.append(heappop(delayed))
                for _due, _seq, e, _returned in self._drawn(due):
                    qs.delayed_n -= 1
                    e.state = READY
                    qs.push(e)
                    self._dirty[qs] = None
                    self._emit_entry(now, "enqueued", e, {"reason": "delay_elapsed"})
        super()._fire_queue(now, qs)

    def _due_leases(self, now: int, qs: QueueState) -> list[tuple[int, int, Entry]]:
        """Take the live leases due by `now` out of `qs`, ordered by deadline, each group ending at the
        same instant in a drawn order (the plain broker orders them by delivery tag)."""
        return self._drawn(self._take_due_leases(now, qs))

    def _drawn(self, items: list[Any]) -> list[Any]:
        """`items` (sorted, their first field a time) with each run of equal times in a drawn order."""
        out: list[Any] = []
        i = 0
        while i < len(items):
            j = i
            while j < len(items) and items[j][0] == items[i][0]:
                j += 1
            group = items[i:j]
            if len(group) > 1:
                self.choice_points += 1
                drawn = group[:]
                self._choice_rng.shuffle(drawn)
                self.choices_varied += drawn != group
                group = drawn
            out += group
            i = j
        return out


def choosing_broker(profile: Profile, schedule: int) -> Callable[[Profile, Any, Any], Broker] | None:
    """The broker factory for a run with schedule number `schedule` (None when the profile allows no
    choice: the plain broker is used, and the run is the same as without explore's broker choices)."""
    choices = allowed_choices(profile)
    if not choices:
        return None

    def make(p: Profile, sink: Any, _dispatch: Any) -> Broker:
        return ChoosingBroker(p, sink, schedule, choices)

    return make
