"""CQRS projections: lag against the head, stale reads, a rebuild from zero, catching up."""

from __future__ import annotations

from .helpers import check, kinds, run

# Deposits arrive every 10 ms across 3 accounts; the projection needs 15 ms per event, so it falls
# behind during the load and catches up in the drain. Queries read the read model every 50 ms.
CQRS = """
evtool: "1"
id: cqrs-test
run: {seed: 4, duration: 2s, drain: {max: 30s}}
channels:
  commands: {kind: queue}
producers:
  deposits:
    to: commands
    message: Deposited
    arrival: {process: constant, rate: 100/s}
    key: {dist: round_robin, space: 3, format: "acct-{n}"}
    payload: {amount: 1}
patterns:
  account:
    type: event_sourced_aggregate
    commands: {from: commands}
    events: [Deposited]
    state: {balance: 0}
    apply: {Deposited: [{inc: balance, by: msg.payload.amount}]}
    snapshot: {every: 20}
    replay_cost: 10us
    processing: 1ms
  balances:
    type: projection
    source: account
    apply_time: 15ms
    checkpoint: {every: 10}
    queries: {process: constant, rate: 20/s}
expect:
  - {name: consistent, check: projection_consistent, pattern: balances}
"""


def test_projection_lags_then_catches_up() -> None:
    """Lag grows while events arrive faster than they are applied, and is 0 at the end."""
    engine, events, outcome = run(CQRS)
    updates = kinds(events, "projection_updated", "balances")
    assert [e.data["position"] for e in updates] == list(range(1, len(updates) + 1))
    assert max(e.data["lag"] for e in updates) > 10
    assert updates[-1].data["lag"] == 0
    account, balances = engine.patterns
    assert len(updates) == len(account.log)
    assert balances.read_model == account.aggregates
    assert balances.state["checkpoint"] == len(updates)
    assert check(outcome, "consistent")["status"] == "pass"
    assert outcome.drain == "complete"


def test_a_read_before_the_projection_catches_up_is_stale() -> None:
    """Queries while the projection lags see an older version than the write side has."""
    _, events, _ = run(CQRS)
    stale = kinds(events, "stale_read", "balances")
    assert stale
    assert all(e.data["read_version"] < e.data["current_version"] for e in stale)
    assert all(e.data["behind"] == e.data["current_version"] - e.data["read_version"] for e in stale)


def test_a_fast_projection_serves_fresh_reads() -> None:
    """With apply_time well under the arrival gap, no read is stale and the lag stays at 0."""
    engine, events, _ = run(CQRS, {"patterns.balances.apply_time": "100us"})
    assert not kinds(events, "stale_read", "balances")
    assert engine.patterns[1].state["fresh_reads"] > 0


def test_rebuild_drops_the_read_model_and_replays_from_zero() -> None:
    """At rebuild_at the position goes back to 0; the replay makes reads stale; it still catches up."""
    engine, events, outcome = run(CQRS, {"patterns.balances.apply_time": "1ms",
                                         "patterns.balances.rebuild_at": "1s"})
    rebuilt = kinds(events, "projection_rebuilt", "balances")
    assert len(rebuilt) == 1 and rebuilt[0].t == 1_000_000_000
    assert rebuilt[0].data["dropped_position"] > 0
    after = [e for e in kinds(events, "projection_updated", "balances") if e.t > rebuilt[0].t]
    assert after[0].data["position"] == 1
    assert [e for e in kinds(events, "stale_read", "balances") if e.t > rebuilt[0].t]
    account, balances = engine.patterns
    assert balances.read_model == account.aggregates
    assert check(outcome, "consistent")["status"] == "pass"
    # rebuild_time: from the rebuild to the first update that reached the head.
    caught = next(e for e in after if e.data["lag"] == 0)
    assert balances.state["rebuild_time"] == caught.t - rebuilt[0].t > 0


def test_rebuild_time_keeps_growing_while_the_rebuild_has_not_caught_up() -> None:
    """A rebuild cut off by the drain reports how long it has run so far, not 0."""
    engine, events, _ = run(CQRS, {"patterns.balances.rebuild_at": "1s", "run.drain.max": "500ms"})
    balances = engine.patterns[1]
    assert balances.state["lag"] > 0
    last = kinds(events, "projection_updated", "balances")[-1]
    assert balances.state["rebuild_time"] == last.t - 1_000_000_000


def test_a_projection_cut_off_by_the_drain_fails_the_consistency_check() -> None:
    """A drain too short to catch up: the projection is still behind and the check fails."""
    _, _, outcome = run(CQRS, {"run.drain.max": "200ms"})
    assert check(outcome, "consistent")["status"] == "fail"
