"""On the real pull-based brokers, whichever consumer asks first receives the next message: the freedom
explore's `consumer` choice takes on these profiles (`evtool/core/broker_choices.py`).

* Redis: "If, for instance, the stream gets the new entries A, B, and C and there are two consumers reading
  via a consumer group, one client will get for instance, the messages A and C, and the other the message B,
  and so forth." (https://redis.io/commands/xreadgroup)
* NATS JetStream: "Consumers are pull-based, meaning the services consuming data from them have to ask the
  system for the next available message. This means you can easily scale your services up by adding more
  workers and the messages will get spread across the workers based on their availability."
  (https://docs.nats.io/running-a-nats-service/nats_admin/jetstream_admin/consumers)
* SQS (moto): consumers receive by polling ReceiveMessage; "Standard queues ensure at-least-once message
  delivery, but due to the highly distributed architecture, more than one copy of a message might be
  delivered, and messages may occasionally arrive out of order."
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html). Moto
  returns a standard queue's messages in order, so only the consumer choice is checked here; the order of
  redeliveries rests on the documentation.

Each test lets each of two consumers ask first, in turn, and checks that the one that asked first got the
oldest message: so either consumer can be the one that gets it.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from broker_fixtures import nats_url, redis_url, sqs_url  # noqa: F401  (skip, or fail under CI=true, when down)

pytestmark = pytest.mark.broker


def test_redis_either_group_member_may_get_the_next_entry(redis_url: str) -> None:  # noqa: F811
    redis = pytest.importorskip("redis")
    r = redis.Redis.from_url(redis_url, socket_timeout=3)
    key = f"evtool-test-choice-{uuid.uuid4().hex[:8]}"
    try:
        first = r.xadd(key, {"n": "1"})
        r.xadd(key, {"n": "2"})
        for who_asks_first in ("a", "b"):
            group = f"g-{who_asks_first}"
            r.xgroup_create(key, group, id="0")
            for name in ("a", "b"):   # both members exist before anyone reads
                r.xgroup_createconsumer(key, group, name)
            got = r.xreadgroup(group, who_asks_first, {key: ">"}, count=1)
            assert got[0][1][0][0] == first, f"{who_asks_first} asked first but did not get the first entry"
            other = "b" if who_asks_first == "a" else "a"
            assert r.xreadgroup(group, other, {key: ">"}, count=1)[0][1][0][0] != first
    finally:
        r.delete(key)
        r.close()


def test_nats_either_pull_client_may_get_the_next_message(nats_url: str) -> None:  # noqa: F811
    nats = pytest.importorskip("nats")

    async def main() -> None:
        nc = await nats.connect(nats_url, connect_timeout=3)
        js = nc.jetstream()
        stream = f"EVTCHOICE{uuid.uuid4().hex[:8].upper()}"
        subject = f"evtool.choice.{stream.lower()}"
        await js.add_stream(name=stream, subjects=[subject])
        try:
            await js.publish(subject, b"1")
            await js.publish(subject, b"2")
            for who_asks_first in (0, 1):
                durable = f"work{who_asks_first}"
                clients = [await js.pull_subscribe(subject, durable=durable, stream=stream) for _ in range(2)]
                msgs = await clients[who_asks_first].fetch(1, timeout=3)
                assert msgs[0].data == b"1", f"client {who_asks_first} asked first but did not get message 1"
                await msgs[0].ack()
                rest = await clients[1 - who_asks_first].fetch(1, timeout=3)
                assert rest[0].data == b"2"
                await rest[0].ack()
                for c in clients:
                    await c.unsubscribe()
        finally:
            await js.delete_stream(stream)
            await nc.close()

    asyncio.run(main())


def test_sqs_either_poller_may_receive_the_next_message(sqs_url: str) -> None:  # noqa: F811
    boto3 = pytest.importorskip("boto3")
    # the local emulator (moto) accepts any key, as evtool's SQS transport does
    clients = [boto3.client("sqs", endpoint_url=sqs_url, region_name="us-east-1",
                            aws_access_key_id="evtool", aws_secret_access_key="evtool") for _ in range(2)]
    url = clients[0].create_queue(QueueName=f"evtool-choice-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    try:
        for who_asks_first in (1, 0):
            for body in ("1", "2"):
                clients[0].send_message(QueueUrl=url, MessageBody=body)
            got = clients[who_asks_first].receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
            assert got[0]["Body"] == "1", f"poller {who_asks_first} asked first but did not get message 1"
            rest = clients[1 - who_asks_first].receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
            assert rest[0]["Body"] == "2"
            for m in (got[0], rest[0]):
                clients[0].delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    finally:
        clients[0].delete_queue(QueueUrl=url)
