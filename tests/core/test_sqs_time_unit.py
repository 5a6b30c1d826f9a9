"""SQS counts visibility timeouts and delays in whole seconds (profile field ``time_unit_ns``).

https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html
(VisibilityTimeout): "The new value for the message's visibility timeout (in seconds). Values range: 0 to
43200. Maximum: 12 hours." The parameter is an integer, as SendMessage's DelaySeconds and a queue's
VisibilityTimeout are, so a retry delay of 500 ms is a visibility of 1 s on a real endpoint (the SQS
transport rounds up: evtool/transports/sqs.py `_secs`). Found comparing `poison-across-brokers` on moto:
its 500 ms retry delay held the FIFO group for a whole second there and 500 ms in the core.
"""

from __future__ import annotations

import pytest

from evtool.core.channel_config import QueueConfig
from evtool.core.profiles import PROFILES, whole_units

from .conftest import Rig, S

MS = S // 1000


def test_only_the_sqs_profiles_count_in_seconds() -> None:
    assert {n for n, p in PROFILES.items() if p.time_unit_ns} == {"sqs-standard", "sqs-fifo"}
    assert PROFILES["sqs-standard"].time_unit_ns == S
    assert "(in seconds)" in PROFILES["sqs-standard"].source("time_unit_ns")


@pytest.mark.parametrize(("ns", "unit", "out"), [(0, S, 0), (1, S, S), (500 * MS, S, S), (S, S, S),
                                                  (S + 1, S, 2 * S), (500 * MS, 0, 500 * MS)])
def test_whole_units_rounds_up(ns: int, unit: int, out: int) -> None:
    assert whole_units(ns, unit) == out


@pytest.mark.parametrize(("profile", "returns_at"), [("sqs-standard", 1 * S), ("default", 500 * MS)])
def test_a_nack_delay_is_whole_seconds_under_sqs(profile: str, returns_at: int) -> None:
    rig = Rig(profile)
    b = rig.broker
    b.declare("q", QueueConfig(ack_timeout_ns=30 * S))
    b.subscribe(0, "q", "c", 0, prefetch=1)
    rig.publish(0, "q", "m1")
    (d1,) = b.pump(0)
    assert b.nack(0, d1.tag, requeue=True, delay_ns=500 * MS)
    b.fire_timers(returns_at - 1)
    assert not b.pump(returns_at - 1), "returned before the visibility ended"
    b.fire_timers(returns_at)
    assert [d.msg.id for d in b.pump(returns_at)] == ["m1"]


def test_a_lease_is_whole_seconds_under_sqs() -> None:
    rig = Rig("sqs-standard")
    b = rig.broker
    b.declare("q", QueueConfig(ack_timeout_ns=1500 * MS))
    b.subscribe(0, "q", "c", 0, prefetch=1)
    rig.publish(0, "q", "m1")
    b.pump(0)
    b.fire_timers(1999 * MS)
    assert not rig.kinds("lease_expired")
    b.fire_timers(2 * S)
    (lease,) = rig.kinds("lease_expired")
    assert lease.t == 2 * S
