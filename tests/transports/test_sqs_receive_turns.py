"""Without an endpoint: how the SQS transport calls ReceiveMessage (a fake client records the calls)."""

from __future__ import annotations

import asyncio
from typing import Any

from evtool.transports import sqs
from evtool.transports.base import SubSpec
from evtool.transports.sqs import SqsTransport


class _Sink:
    def problem(self, text: str) -> None:
        raise AssertionError(text)


class _Client:
    def __init__(self) -> None:
        self.open = 0
        self.most = {"fifo": 0, "std": 0}
        self.calls: list[tuple[str, int]] = []

    async def receive_message(self, QueueUrl: str, WaitTimeSeconds: int, **_: Any) -> dict[str, Any]:  # noqa: N803
        kind = "fifo" if QueueUrl.endswith(".fifo") else "std"
        self.calls.append((kind, WaitTimeSeconds))
        self.open += 1
        self.most[kind] = max(self.most[kind], self.open)
        await asyncio.sleep(0.01)
        self.open -= 1
        return {}


def _run(urls: list[str], holding: bool = True) -> _Client:
    async def go() -> _Client:
        t = SqsTransport("http://127.0.0.1:5000")
        t.client, t.sink = _Client(), _Sink()
        for i, url in enumerate(urls):
            t.urls[(f"c{i}", None)] = url
            await t.subscribe(SubSpec(i, f"c{i}", None, "w", i, 10))
        if holding:     # before the loops run: the first instance holds a received message
            t.readers[0].in_flight = 1
        await asyncio.sleep(0.15)
        await t.stop_consumers()
        return t.client

    return asyncio.run(go())


def test_fifo_readers_of_one_queue_take_turns_and_short_poll() -> None:
    """Three instances on one FIFO queue never have two ReceiveMessage calls open at once (moto's receive is not
    atomic: sqs.RECEIVE_ONE_AT_A_TIME), and while one of them holds a message each call short-polls
    (WaitTimeSeconds 0, sqs.POLL_S); an empty answer is followed by another receive within POLL_S."""
    c = _run(["http://q/a.fifo"] * 3)
    fifo = [w for k, w in c.calls if k == "fifo"]
    assert c.most["fifo"] == 1
    assert set(fifo) == {0} and len(fifo) >= 3


def test_fifo_readers_holding_nothing_long_poll() -> None:
    """Holding nothing of the queue, no group can be blocked by this client: a FIFO receive long-polls as on a
    standard queue (still one at a time)."""
    c = _run(["http://q/a.fifo"] * 3, holding=False)
    assert {w for k, w in c.calls} == {sqs.WAIT_S} and c.most["fifo"] == 1


def test_without_turns_fifo_receives_overlap() -> None:
    """The same three instances with turn-taking off: their receives overlap (what the lock prevents)."""
    sqs.RECEIVE_ONE_AT_A_TIME = False
    try:
        c = _run(["http://q/a.fifo"] * 3)
    finally:
        sqs.RECEIVE_ONE_AT_A_TIME = True
    assert c.most["fifo"] == 3


def test_standard_queue_readers_long_poll_in_parallel() -> None:
    """Standard queues: long polling (WaitTimeSeconds 1), instances in parallel (no turns)."""
    c = _run(["http://q/s"] * 3, holding=False)
    assert c.most["std"] == 3 and {w for k, w in c.calls} == {sqs.WAIT_S}
