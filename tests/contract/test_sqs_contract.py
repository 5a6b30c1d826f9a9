"""What the SQS endpoint here (moto's server) does, checked with plain aiobotocore against AWS's documentation.

The SQS adapter (evtool/transports/sqs.py) and the ``sqs-standard`` / ``sqs-fifo`` profiles rest on these
facts. moto is an emulator: where it departs from AWS's documentation, the test says so and asserts what moto
does (docs/transports.md, "Kafka and Amazon SQS", lists the differences).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

pytestmark = pytest.mark.broker


def _run(url: str, body: Callable[[Any, str], Awaitable[None]]) -> None:
    """Run `body(client, prefix)` with an SQS client; delete every queue with the prefix afterwards."""
    from aiobotocore.session import get_session

    async def go() -> None:
        prefix = f"evt-contract-{uuid.uuid4().hex[:8]}"
        async with get_session().create_client("sqs", endpoint_url=url, region_name="us-east-1",
                                               aws_access_key_id="evtool", aws_secret_access_key="evtool") as c:
            try:
                await body(c, prefix)
            finally:
                listed = await c.list_queues(QueueNamePrefix=prefix)
                for q in listed.get("QueueUrls", []):
                    await c.delete_queue(QueueUrl=q)

    asyncio.run(go())


async def _receive(c: Any, url: str, n: int = 10, wait: int = 0, **kw: Any) -> list[dict[str, Any]]:
    resp = await c.receive_message(QueueUrl=url, MaxNumberOfMessages=n, WaitTimeSeconds=wait,
                                   MessageSystemAttributeNames=["All"], **kw)
    return list(resp.get("Messages", []))


def test_redrive_moves_a_message_on_the_receive_that_would_exceed_max_receive_count(sqs_url: str) -> None:
    """"maxReceiveCount – The number of times a message is delivered to the source queue before being moved
    to the dead-letter queue. When the ReceiveCount for a message exceeds the maxReceiveCount for a queue,
    Amazon SQS moves the message to the dead-letter queue"
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html;
    CDK: "The dead-letter queue to which Amazon SQS moves messages after the value of maxReceiveCount is
    exceeded"). With maxReceiveCount 2 the message is received twice (ApproximateReceiveCount 1, 2); the
    third receive finds it gone, in the DLQ. moto moves it during that receive and counts the move as a
    receive: the copy in the DLQ says ApproximateReceiveCount 3."""

    async def body(c: Any, prefix: str) -> None:
        dlq = (await c.create_queue(QueueName=f"{prefix}-dlq"))["QueueUrl"]
        arn = (await c.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"]))["Attributes"]["QueueArn"]
        q = (await c.create_queue(QueueName=f"{prefix}-q", Attributes={"RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": arn, "maxReceiveCount": "2"})}))["QueueUrl"]
        await c.send_message(QueueUrl=q, MessageBody="poison")
        counts = []
        for _ in range(3):
            for msg in await _receive(c, q):
                counts.append(msg["Attributes"]["ApproximateReceiveCount"])
                await c.change_message_visibility(QueueUrl=q, ReceiptHandle=msg["ReceiptHandle"],
                                                  VisibilityTimeout=0)
        assert counts == ["1", "2"]
        moved = await _receive(c, dlq)
        assert [m["Body"] for m in moved] == ["poison"]
        assert moved[0]["Attributes"]["ApproximateReceiveCount"] == "3"   # moto counts the move

    _run(sqs_url, body)


def test_visibility_timeout_hides_and_change_message_visibility_returns(sqs_url: str) -> None:
    """"Changes the visibility timeout of a specified message in a queue to a new value. The default
    visibility timeout for a message is 30 seconds. The minimum is 0 seconds" (API_ChangeMessageVisibility,
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html).
    A received message stays hidden for the queue's VisibilityTimeout; ChangeMessageVisibility(0) makes it
    receivable at once, ChangeMessageVisibility(1) after about a second (the nack with a delay)."""

    async def body(c: Any, prefix: str) -> None:
        q = (await c.create_queue(QueueName=f"{prefix}-q", Attributes={"VisibilityTimeout": "30"}))["QueueUrl"]
        await c.send_message(QueueUrl=q, MessageBody="m")
        first = await _receive(c, q)
        assert len(first) == 1 and await _receive(c, q) == []           # hidden by the visibility timeout
        await c.change_message_visibility(QueueUrl=q, ReceiptHandle=first[0]["ReceiptHandle"],
                                          VisibilityTimeout=0)
        again = await _receive(c, q)
        assert [m["Attributes"]["ApproximateReceiveCount"] for m in again] == ["2"]
        await c.change_message_visibility(QueueUrl=q, ReceiptHandle=again[0]["ReceiptHandle"],
                                          VisibilityTimeout=1)
        assert await _receive(c, q) == []
        t0 = time.monotonic()
        third = await _receive(c, q, wait=3)
        assert len(third) == 1 and 0.5 <= time.monotonic() - t0 <= 3

    _run(sqs_url, body)


def test_fifo_deduplication_ids_and_content_based_deduplication(sqs_url: str) -> None:
    """"If a message with a particular MessageDeduplicationId is sent successfully, any messages sent with the
    same MessageDeduplicationId are accepted successfully but aren't delivered during the 5-minute
    deduplication interval ... If you don't provide a MessageDeduplicationId and the queue doesn't have
    ContentBasedDeduplication set, the action fails with an error" (SendMessage, MessageDeduplicationId,
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html)."""

    async def body(c: Any, prefix: str) -> None:
        explicit = (await c.create_queue(QueueName=f"{prefix}-e.fifo", Attributes={
            "FifoQueue": "true", "ContentBasedDeduplication": "false"}))["QueueUrl"]
        for i, dedup in enumerate(["d1", "d1", "d2"]):
            await c.send_message(QueueUrl=explicit, MessageBody=f"m{i}", MessageGroupId="g",
                                 MessageDeduplicationId=dedup)
        with pytest.raises(Exception, match="(?i)dedup|ContentBasedDeduplication"):
            await c.send_message(QueueUrl=explicit, MessageBody="no-id", MessageGroupId="g")
        bodies = []
        for _ in range(3):
            for msg in await _receive(c, explicit):
                bodies.append(msg["Body"])
                await c.delete_message(QueueUrl=explicit, ReceiptHandle=msg["ReceiptHandle"])
        assert bodies == ["m0", "m2"]
        content = (await c.create_queue(QueueName=f"{prefix}-c.fifo", Attributes={
            "FifoQueue": "true", "ContentBasedDeduplication": "true"}))["QueueUrl"]
        for text in ["same", "same", "other"]:
            await c.send_message(QueueUrl=content, MessageBody=text, MessageGroupId="g")
        got = [m["Body"] for m in await _receive(c, content)]
        assert got == ["same", "other"]

    _run(sqs_url, body)


def test_fifo_group_waits_behind_its_message_in_flight(sqs_url: str) -> None:
    """"Messages within the same message group are always processed one at a time, in strict order, ensuring
    that no two messages from the same group are processed simultaneously" (FIFO key terms,
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-key-terms.html). While
    g1's first message is in flight, a receive returns only other groups' messages."""

    async def body(c: Any, prefix: str) -> None:
        q = (await c.create_queue(QueueName=f"{prefix}-q.fifo", Attributes={
            "FifoQueue": "true", "ContentBasedDeduplication": "true"}))["QueueUrl"]
        for group, text in [("g1", "a1"), ("g1", "a2"), ("g2", "b1")]:
            await c.send_message(QueueUrl=q, MessageBody=text, MessageGroupId=group)
        first = await _receive(c, q, n=1)
        assert [m["Body"] for m in first] == ["a1"]
        rest = [m["Body"] for m in await _receive(c, q)]
        assert rest == ["b1"]          # a2 waits while a1 is in flight

    _run(sqs_url, body)


def test_receive_takes_at_most_ten_messages(sqs_url: str) -> None:
    """"MaxNumberOfMessages: The maximum number of messages to return ... Valid values: 1 to 10. Default: 1"
    (API_ReceiveMessage, https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/
    API_ReceiveMessage.html). A receive of 10 returns at most 10; 11 is refused."""

    async def body(c: Any, prefix: str) -> None:
        q = (await c.create_queue(QueueName=f"{prefix}-q"))["QueueUrl"]
        entries = [{"Id": str(i), "MessageBody": str(i)} for i in range(10)]
        await c.send_message_batch(QueueUrl=q, Entries=entries)
        await c.send_message_batch(QueueUrl=q, Entries=[{**e, "Id": f"x{e['Id']}"} for e in entries[:5]])
        got = await _receive(c, q, n=10)
        assert 1 <= len(got) <= 10
        with pytest.raises(Exception, match="(?i)MaxNumberOfMessages|InvalidParameterValue|between"):
            await _receive(c, q, n=11)

    _run(sqs_url, body)
