"""The keys effectively_once and per_key_order judge by are recorded because the consumer declares them.

A check cannot ask a consumer to record anything: `business_key` and `ordering` are declared on the
consumer, recorded in every `handled` (as `bkey`, `okey` and `oseq`) whether or not a check reads
them, and a check that names a key the consumer does not record is a located scenario error.
"""

from __future__ import annotations

from typing import Any

import pytest

from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine

BASE = """
evtool: "1"
id: keys
run: {seed: 3, duration: 1s, drain: {max: 1m}}
channels:
  work: {kind: queue}
producers:
  load:
    to: work
    arrival: {process: constant, rate: 20/s}
    key: {dist: uniform, space: 3, format: "acct-{n}"}
    payload: {orderId: "{{ n % 5 }}", account: "{{ key }}", num: "{{ n }}"}
consumers:
  worker:
    from: work
    processing: 2ms
CONSUMER
expect:
EXPECT
"""


def scenario(consumer: str = "", expect: str = "  - {check: no_loss}") -> str:
    return BASE.replace("CONSUMER", consumer).replace("EXPECT", expect)


def run(text: str) -> tuple[Any, list[Any]]:
    engine = Engine(load_text(text, "keys.yaml"))
    events: list[Any] = []
    engine.listeners.append(events.extend)
    return engine.run(), events


def test_a_declared_business_key_is_recorded_with_or_without_a_check() -> None:
    """`handled` carries `bkey` because the consumer declares it; with no check, the same trace."""
    declared = "    business_key: msg.payload.orderId\n"
    bare, events = run(scenario(declared))
    handled = [ev for ev in events if ev.kind == "handled"]
    assert len(handled) >= 19
    assert all(ev.data["bkey"] == int(ev.msg.removeprefix("load-")) % 5 for ev in handled), handled[:3]
    watched, _ = run(scenario(declared, "  - {name: once, check: effectively_once, consumer: worker}"))
    assert watched.digest == bare.digest
    once = watched.checks[0]
    # about 20 messages over five order ids: each id's effects are applied about four times
    assert once["status"] == "fail", once
    assert once["expected"] == "worker applies its effects once per msg.payload.orderId"


def test_without_a_declaration_nothing_extra_is_recorded() -> None:
    _, events = run(scenario())
    assert all("bkey" not in (ev.data or {}) and "okey" not in (ev.data or {}) for ev in events)


def test_a_declared_ordering_is_what_per_key_order_judges() -> None:
    """The consumer records okey/oseq; per_key_order without key/seq judges by them."""
    declared = "    ordering: {key: msg.payload.account, seq: msg.payload.num}\n"
    out, events = run(scenario(declared, "  - {name: order, check: per_key_order, consumer: worker}"))
    handled = [ev for ev in events if ev.kind == "handled"]
    assert all(ev.data["okey"] == ev.key and isinstance(ev.data["oseq"], int) for ev in handled), handled[:3]
    order = out.checks[0]
    # one worker, one at a time: per account the global counter n grows, but not by one
    assert order["status"] == "fail" and "processed while" in order["observed"], order


@pytest.mark.parametrize("consumer,expect,where,hint", [
    ("", "  - {check: effectively_once, consumer: worker, by: msg.payload.orderId}", "expect[0].by",
     "declare `business_key: msg.payload.orderId` on consumer worker"),
    ("    business_key: msg.payload.account\n",
     "  - {check: effectively_once, consumer: worker, by: msg.payload.orderId}", "expect[0].by",
     "declare `business_key: msg.payload.orderId` on consumer worker"),
    ("", "  - {check: per_key_order, consumer: worker, key: msg.payload.account}", "expect[0].key",
     "declare `ordering: {key: msg.payload.account, seq: msg.seq}` on consumer worker"),
    ("    ordering: {key: msg.payload.account, seq: msg.payload.num}\n",
     "  - {check: per_key_order, consumer: worker, seq: msg.payload.num}", "expect[0].seq",
     "declare `ordering: {key: msg.key, seq: msg.payload.num}` on consumer worker"),
])
def test_a_check_naming_a_key_the_consumer_does_not_record_is_a_located_error(
        consumer: str, expect: str, where: str, hint: str) -> None:
    text = scenario(consumer, expect)
    with pytest.raises(ScenarioError) as info:
        load_text(text, "keys.yaml")
    (problem,) = info.value.errors
    assert problem.path == where
    assert problem.line == text.splitlines().index(expect) + 1
    assert problem.hint is not None and hint in problem.hint


@pytest.mark.parametrize("consumer,expect", [
    ("", "  - {check: effectively_once, consumer: worker, by: msg.id}"),
    ("    business_key: msg.payload.orderId\n",
     "  - {check: effectively_once, consumer: worker, by: \"msg.payload.orderId \"}"),
    ("", "  - {check: per_key_order, consumer: worker, key: msg.key, seq: msg.seq}"),
    ("    ordering: {seq: msg.payload.num}\n", "  - {check: per_key_order, consumer: worker, seq: msg.payload.num}"),
])
def test_a_check_naming_a_recorded_key_loads(consumer: str, expect: str) -> None:
    load_text(scenario(consumer, expect), "keys.yaml")
