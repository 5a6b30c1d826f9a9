"""SQS FIFO: one ReceiveMessage returns several messages of the same message group.

AWS, "Why doesn't my Amazon SQS FIFO queue return all messages or messages in other message groups?"
(https://repost.aws/knowledge-center/sqs-fifo-messages-not-returned):

    "When you specify a MaxNumberOfMessages parameter in the ReceiveMessage API call, SQS returns as many
    messages with the same message group ID as possible. The ReceiveMessage API call can also return
    messages from other available message groups."
    "You must delete the messages in the current message group ID before you can receive more messages
    within the same message group ID."
    "Inflight messages block delivery of available messages within the same message group."

evtool: `Profile.group_receive = batch` under sqs-fifo, a subscriber's free prefetch standing for
MaxNumberOfMessages. moto's server does the same (tests/transports/test_fifo_receive_moto.py, and the atlas
scenario sqs-fifo-receive-batch-same-group on the sqs transport). No other profile batches a group: the other
brokers have no message groups (a grouped_queue is evtool's own there), so they keep `one`.
"""

from __future__ import annotations

from evtool.core.channel_config import GroupedQueueConfig
from evtool.core.message import Message
from evtool.core.profiles import PROFILES

from .conftest import Rig, S

DOC_URL = "https://repost.aws/knowledge-center/sqs-fifo-messages-not-returned"
QUOTE = ("When you specify a MaxNumberOfMessages parameter in the ReceiveMessage API call, SQS returns as many "
         "messages with the same message group ID as possible.")


def _ids(ds: list) -> list[str]:
    return [d.msg.id for d in ds]


def _fifo(prefetch: int, **overrides: object) -> Rig:
    rig = Rig("sqs-fifo", **overrides)
    rig.broker.declare("q", GroupedQueueConfig())
    rig.broker.subscribe(0, "q", "c", 0, prefetch=prefetch)
    return rig


def test_only_sqs_fifo_receives_a_group_in_batches() -> None:
    assert {n for n, p in PROFILES.items() if p.group_receive == "batch"} == {"sqs-fifo"}
    assert QUOTE in PROFILES["sqs-fifo"].source("group_receive")
    assert DOC_URL in PROFILES["sqs-fifo"].source("group_receive")


def test_one_receive_takes_as_many_of_a_group_as_it_can_then_other_groups() -> None:
    """prefetch 10 on A0 A1 A2 B3 B4 (the moto probe's queue): all five in one receive, each group in order."""
    rig = _fifo(10)
    for i, g in enumerate("AAABB"):
        rig.broker.publish(0, "q", Message(f"{g}{i}", key=g))
    assert _ids(rig.broker.pump(0)) == ["A0", "A1", "A2", "B3", "B4"]


def test_the_receive_is_capped_by_max_number_of_messages() -> None:
    """prefetch 2 on A0 A1 A2 B3: the first receive is A0, A1 (same group first)."""
    rig = _fifo(2)
    for i, g in enumerate("AAAB"):
        rig.broker.publish(0, "q", Message(f"{g}{i}", key=g))
    assert _ids(rig.broker.pump(0)) == ["A0", "A1"]


def test_the_group_waits_until_none_of_its_batch_is_in_flight() -> None:
    """Deleting one of two in-flight messages of group A does not release it (moto: the next receive returned
    only B3); deleting the second does."""
    rig = _fifo(2)
    b = rig.broker
    for i, g in enumerate("AAAB"):
        b.publish(0, "q", Message(f"{g}{i}", key=g))
    a0, a1 = b.pump(0)
    b.ack(1, a0.tag)
    assert _ids(b.pump(1)) == ["B3"]
    b.ack(2, a1.tag)
    assert _ids(b.pump(2)) == ["A2"]


def test_a_failed_message_returns_to_the_head_but_its_batch_mates_go_on() -> None:
    """A0 made visible again in 1 s (ChangeMessageVisibility) while A1 is still in flight: the group stays
    blocked; A1 is deleted first, so A0 is received again after A1 was handled (order holds per receive)."""
    rig = _fifo(2)
    b = rig.broker
    for i in range(3):
        b.publish(0, "q", Message(f"A{i}", key="A"))
    a0, a1 = b.pump(0)
    b.nack(1, a0.tag, delay_ns=1 * S)
    b.fire_timers(2 * S)
    assert b.pump(2 * S) == []             # A1 still in flight: the group is blocked
    b.ack(3 * S, a1.tag)
    assert _ids(b.pump(3 * S)) == ["A0", "A2"]


def test_group_receive_one_keeps_one_message_per_group() -> None:
    """The same queue with group_receive one (every other profile's value): one message of A per receive."""
    rig = _fifo(10, group_receive="one")
    for i, g in enumerate("AAABB"):
        rig.broker.publish(0, "q", Message(f"{g}{i}", key=g))
    assert _ids(rig.broker.pump(0)) == ["A0", "B3"]


def test_batch_mates_returned_in_any_order_come_back_in_the_groups_order() -> None:
    """A0, A1, A2 received together and made visible again A2 first, then A0, then A1: SQS keeps a group's FIFO
    order, so the next receive returns A0, A1, A2 (the hypothesis machine in test_broker_stateful found this)."""
    rig = _fifo(10)
    b = rig.broker
    for i in range(3):
        b.publish(0, "q", Message(f"A{i}", key="A"))
    a0, a1, a2 = b.pump(0)
    for d in (a2, a0, a1):
        b.nack(1, d.tag)
    assert _ids(b.pump(1)) == ["A0", "A1", "A2"]
