"""Event sourcing: upcasting, replay and snapshots, optimistic concurrency, invariants."""

from __future__ import annotations

from evtool.scenario import models as m
from evtool.sim.patterns.event_sourcing import (
    EventModel,
    StoredEvent,
    parse_event_types,
    upcast_payload,
    upcast_to,
)

from .helpers import kinds, run

SCHEMAS = {
    "Deposited": m.MessageSchema(version=1, fields={"amount": "number"}),
    "Withdrawn": m.MessageSchema(version=2, fields={"amount": "number", "reason": "string"},
                                 upcast={"1->2": m.UpcastRule(rename={"amt": "amount"}, set={"reason": "unknown"},
                                                              drop=["legacy"])}),
}
APPLY = {
    "Deposited": [m.Effect(inc="balance", by="msg.payload.amount")],
    "Withdrawn": [m.Effect(dec="balance", by="msg.payload.amount")],
}


def event(n: int, type_: str, version: int, payload: dict) -> StoredEvent:
    return StoredEvent(f"e{n}", "acct-1", type_, version, payload, n, n, 0)


def test_event_types_take_their_version_from_the_name_or_the_schema() -> None:
    """`Name@2` says the version; a bare name takes the schema's."""
    assert parse_event_types(["Deposited", "Withdrawn@2", "Closed"], SCHEMAS) == {
        "Deposited": 1, "Withdrawn": 2, "Closed": 1}


def test_upcast_rule_renames_drops_and_sets() -> None:
    """The declarative upcaster: rename, drop, then set defaults (never overwriting)."""
    rule = SCHEMAS["Withdrawn"].upcast["1->2"]
    assert upcast_payload({"amt": 5, "legacy": True}, rule) == {"amount": 5, "reason": "unknown"}
    assert upcast_to("Withdrawn", 1, {"amt": 5}, 2, SCHEMAS) == ({"amount": 5, "reason": "unknown"}, 1)
    assert upcast_to("Withdrawn", 2, {"amount": 5}, 2, SCHEMAS) == ({"amount": 5}, 0)


def test_an_upcast_v1_event_rebuilds_the_same_state_as_a_v2_one() -> None:
    """Replaying a history with a v1 Withdrawn gives the state a v2 history gives."""
    model = EventModel({"Deposited": 1, "Withdrawn": 2}, APPLY, SCHEMAS)
    old = [event(1, "Deposited", 1, {"amount": 50}), event(2, "Withdrawn", 1, {"amt": 20})]
    new = [event(1, "Deposited", 1, {"amount": 50}), event(2, "Withdrawn", 2, {"amount": 20, "reason": "atm"})]
    assert model.fold({"balance": 0}, old, {}) == model.fold({"balance": 0}, new, {}) == {"balance": 30}


ACCOUNT = """
evtool: "1"
id: es-test
run: {seed: 3, duration: 1s, drain: {max: 30s}}
schemas:
  Deposited: {version: 1, fields: {amount: number}}
  Withdrawn:
    version: 2
    fields: {amount: number, reason: string}
    upcast: {"1->2": {rename: {amt: amount}, set: {reason: unknown}}}
channels:
  commands: {kind: queue}
producers:
  deposits:
    to: commands
    message: Deposited
    arrival: {process: constant, rate: 25/s}
    key: {dist: fixed, value: acct-1}
    payload: {amount: 10}
patterns:
  account:
    type: event_sourced_aggregate
    commands: {from: commands}
    events: [Deposited@1, Withdrawn@2]
    state: {balance: 0}
    apply:
      Deposited: [{inc: balance, by: msg.payload.amount}]
      Withdrawn: [{dec: balance, by: msg.payload.amount}]
    invariants: ["state.balance >= 0"]
    replay_cost: 1ms
    processing: 1ms
"""


def test_replay_grows_with_history_and_costs_virtual_time() -> None:
    """Each load replays the whole stream; its cost is replay_cost per event."""
    engine, events, _ = run(ACCOUNT)
    loads = kinds(events, "aggregate_loaded", "account")
    assert [e.data["replayed"] for e in loads] == list(range(len(loads)))
    assert engine.patterns[0].state["max_replayed"] == len(loads) - 1
    assert all(e.data["cost"] == e.data["replayed"] * 1_000_000 for e in loads)
    assert not any(e.data["from_snapshot"] for e in loads)
    appended = kinds(events, "event_appended", "account")
    # The append happens after the replay cost plus the processing time.
    assert appended[-1].t - loads[-1].t == loads[-1].data["cost"] + 1_000_000
    assert engine.patterns[0].state["aggregates"]["acct-1"] == {"balance": 10 * len(appended)}


def test_snapshots_cut_the_replay() -> None:
    """With a snapshot every 5 events no load replays more than 4."""
    text = ACCOUNT.replace("    replay_cost: 1ms\n", "    replay_cost: 1ms\n    snapshot: {every: 5}\n")
    engine, events, _ = run(text)
    loads = kinds(events, "aggregate_loaded", "account")
    assert max(e.data["replayed"] for e in loads) == 4
    assert any(e.data["from_snapshot"] for e in loads)
    state = engine.patterns[0].state
    assert state["max_replayed"] == 4
    assert state["replay_time"] == sum(e.data["cost"] for e in loads) == state["replayed"] * 1_000_000
    snaps = kinds(events, "snapshot_taken", "account")
    assert [e.data["version"] for e in snaps] == [5, 10, 15, 20]
    assert engine.patterns[0].state["snapshots"] == 4


def test_concurrent_commands_conflict_and_retry_on_the_new_version() -> None:
    """Three commands load version 0 at once: one appends, two conflict, reload and append after it."""
    text = ACCOUNT.replace("arrival: {process: constant, rate: 25/s}", "arrival: {process: once}\n    count: 3")
    engine, events, _ = run(text)
    conflicts = kinds(events, "concurrency_conflict", "account")
    assert [(e.data["expected"], e.data["actual"]) for e in conflicts][:2] == [(0, 1), (0, 1)]
    appended = kinds(events, "event_appended", "account")
    assert [e.data["version"] for e in appended] == [1, 2, 3]
    assert engine.patterns[0].state["versions"] == {"acct-1": 3}


OVERDRAW = ACCOUNT.replace("""producers:
  deposits:""", """producers:
  withdrawals:
    to: commands
    message: Withdrawn
    version: 2
    arrival: {process: once, at: 100ms}
    count: 2
    key: {dist: fixed, value: acct-1}
    payload: {amount: 10, reason: atm}
  deposits:""").replace("arrival: {process: constant, rate: 25/s}", "arrival: {process: once}\n    count: 1")


def test_optimistic_concurrency_keeps_the_invariant() -> None:
    """Balance 10, two withdrawals of 10 at once: the second conflicts, reloads and is rejected."""
    engine, events, _ = run(OVERDRAW)
    rejected = kinds(events, "failed", "account")
    assert [e.data["error"] for e in rejected] == ["InvariantViolated"]
    assert engine.patterns[0].state["aggregates"]["acct-1"] == {"balance": 0}
    assert engine.patterns[0].state["violations"] == 0


def test_without_concurrency_control_a_lost_update_breaks_the_invariant() -> None:
    """`concurrency: none`: both withdrawals decide on balance 10 and both append."""
    engine, events, _ = run(OVERDRAW, {"patterns.account.concurrency": "none"})
    assert not kinds(events, "concurrency_conflict", "account")
    assert engine.patterns[0].state["aggregates"]["acct-1"] == {"balance": -10}
    # The second withdrawal left the stored state breaking `balance >= 0`: counted, for assertions.
    assert engine.patterns[0].state["violations"] == 1


UPCAST = ACCOUNT.replace("""producers:
  deposits:""", """producers:
  old-app:
    to: commands
    message: Withdrawn
    version: 1
    arrival: {process: once, at: 300ms}
    count: 1
    key: {dist: fixed, value: acct-1}
    payload: {amt: 4}
  deposits:""").replace("arrival: {process: constant, rate: 25/s}", "arrival: {process: constant, rate: 5/s}")


def test_old_producers_write_v1_events_that_are_upcast_on_read() -> None:
    """A v1 Withdrawn ({amt}) is stored as v1 and upcast to v2 whenever the aggregate is loaded."""
    engine, events, _ = run(UPCAST)
    appended = {e.data["type"]: e for e in kinds(events, "event_appended", "account")}
    assert appended["Withdrawn"].data["schema_version"] == 1
    upcasts = kinds(events, "upcast", "account")
    assert upcasts and (upcasts[0].data["from"], upcasts[0].data["to"], upcasts[0].data["type"]) == (
        1, 2, "Withdrawn")
    deposits = len([e for e in kinds(events, "event_appended", "account") if e.data["type"] == "Deposited"])
    assert engine.patterns[0].state["aggregates"]["acct-1"] == {"balance": 10 * deposits - 4}


def test_a_load_equals_a_full_replay_of_the_stream() -> None:
    """The kept fold is only a speed-up: a load returns what replaying the whole stream gives."""
    engine, events, _ = run(UPCAST)
    actor = engine.patterns[0]
    stream = actor.streams["acct-1"]
    state, version, replayed, snap, upcasts = actor.load("acct-1")
    assert state == actor.model.fold({"balance": 0}, stream, {}) == actor.aggregates["acct-1"]
    assert (version, replayed, snap) == (len(stream), len(stream), 0)
    assert upcasts == {("Withdrawn", 1): 1}
    state["balance"] = -999  # a caller's copy: the next load is not affected
    assert actor.load("acct-1")[0] == actor.aggregates["acct-1"]
    loads = kinds(events, "aggregate_loaded", "account")
    assert sum(e.data["replayed"] for e in loads) == actor.state["replayed"]
