"""`inspect` (lifecycle, key order, event lists), `diff`, `runs` and `show` from stored runs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.console import Console, RenderableType

from evtool.core.events import TraceEvent
from evtool.report.diff import diff_runs, diff_stored, render_diff, run_side
from evtool.report.inspect import inspect_run, key_order, message_lifecycle
from evtool.report.runs import render_runs, render_show
from evtool.store.model import RunResult

if TYPE_CHECKING:  # the fixture's type, from this folder's conftest
    from conftest import Recorded


def text_of(renderable: RenderableType) -> str:
    """Render to plain text, wide enough not to wrap."""
    console = Console(width=250, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_inspect_a_dead_lettered_message_lists_every_attempt(recorded: Recorded) -> None:
    out = text_of(inspect_run(recorded.store, recorded.a.id, message="m-74"))
    assert "m-74  dead-lettered  4 deliveries, 4 failures" in out
    assert "waiting in orders.dlq" in out
    # the attempts table: one row per delivery, what happened, what came next
    assert out.count("failed: ParseError") == 4
    for n, after in ((1, "retry in 20ms"), (2, "retry in 40ms"), (3, "retry in 80ms"),
                     (4, "dead-lettered to orders.dlq")):
        assert re.search(rf"^\s*{n}\s+[\d.]+s\s+billing#\d\s+failed: ParseError\s+{after}\s*$", out, re.M), after
    # and the events, in the engine's conventions
    assert "delivery 1 to billing#" in out and "delivery 4 to billing#" in out
    assert out.count(" redelivered ") == 3
    assert "redelivery in 20ms (attempt 2)" in out
    assert "dead-lettered from orders to orders.dlq: rejected, after 4 deliveries" in out
    assert "arrived on orders.dlq as a dead letter" in out


def test_lifecycle_shows_redrive_and_what_a_message_caused(recorded: Recorded) -> None:
    lc = message_lifecycle(recorded.events_a, "m-37")
    assert [e.kind for e in lc.events].count("redriven") == 1
    assert lc.outcome == "acked" and lc.now_in is None
    out = text_of(inspect_run(recorded.store, recorded.a.id, message="m-37"))
    assert "redriven from orders.dlq back to orders" in out and "back on orders (redriven)" in out
    cause = next(e.data["causation_id"] for e in recorded.events_a if e.kind == "emitted" and e.data)
    out = text_of(inspect_run(recorded.store, recorded.a.id, message=cause))
    effects = [e.msg for e in recorded.events_a
               if e.kind == "emitted" and e.data and e.data["causation_id"] == cause]
    assert f"caused: {', '.join(effects)}" in out  # type: ignore[arg-type]
    assert "does not appear" in text_of(inspect_run(recorded.store, recorded.a.id, message="nope"))


def test_key_order_marks_inversions() -> None:
    def ev(t: int, kind: str, msg: str, actor: str = "billing") -> TraceEvent:
        return TraceEvent(t, kind, msg, "orders", actor, 1, "k", 1, None, {"seq": int(msg[1:])})

    events = [ev(1, "published", "m1", "checkout"), ev(2, "published", "m2", "checkout"),
              ev(3, "published", "m3", "checkout"), ev(4, "handled", "m2"), ev(5, "handled", "m1"),
              ev(6, "handled", "m3"), ev(7, "handled", "m1", "audit"), ev(8, "handled", "m2", "audit")]
    ko = key_order(events, "k")
    assert [(p.msg, p.consumer, p.rank, p.inverted) for p in ko.processed] == [
        ("m2", "billing", 2, False), ("m1", "billing", 1, True), ("m3", "billing", 3, False),
        ("m1", "audit", 1, False), ("m2", "audit", 2, False)]
    assert ko.inversions == 1


def test_inspect_key_on_a_stored_run_finds_the_redrive_inversion(recorded: Recorded) -> None:
    out = text_of(inspect_run(recorded.store, recorded.a.id, key="c-4"))
    assert "key c-4: published" in out
    assert "⚠ inversion" in out  # m-37 is handled only after its redrive, after later messages of c-4


def test_inspect_kind_lists_events_with_a_limit(recorded: Recorded) -> None:
    dead = [e for e in recorded.events_a if e.kind == "dead_lettered"]
    out = text_of(inspect_run(recorded.store, recorded.a.id, kinds=["dead_lettered"], limit=3))
    assert out.count("dead-lettered from orders to orders.dlq: rejected") == 3
    assert f"... and {len(dead) - 3} more" in out
    assert "no matching events" in text_of(inspect_run(recorded.store, recorded.b.id, kinds=["dead_lettered"]))


def test_diff_compares_checks_counts_latency_and_dead_letters(recorded: Recorded) -> None:
    d = diff_stored(recorded.store, recorded.a.id, recorded.b.id)
    dead_a = sum(e.kind == "dead_lettered" for e in recorded.events_a)
    assert next(r for r in d.dead_letters if r.name == "total") .a == dead_a
    assert next(r for r in d.dead_letters if r.name == "total").b == 0
    assert next(r for r in d.counts if r.name == "dead_lettered").changed
    assert {r.name for r in d.checks} == {c["name"] for c in recorded.result_a.checks}
    assert any(r.name == "all p99" for r in d.latency) and any(r.name == "ledger p99" for r in d.latency)
    assert next(r for r in d.totals if r.name == "dead-lettered").changed
    assert next(r for r in d.dead_letters if r.name == "orders → orders.dlq").a == dead_a
    out = text_of(render_diff(d))
    assert "Dead letters" in out and "reason rejected" in out and "-100%" in out
    assert "billing state.charged" in out
    same = text_of(render_diff(diff_stored(recorded.store, recorded.a.id, recorded.a.id), only_changed=True))
    assert "do not differ" in same


def test_diff_with_an_unfinished_run() -> None:
    from synthetic_runs import synthetic_header

    h = synthetic_header()
    d = diff_runs(run_side(h, None), run_side(h, RunResult(outcome="passed", checks=[{"name": "x", "status": "pass"}])))
    assert next(r for r in d.facts if r.name == "outcome") .a == "incomplete"
    assert [(r.name, r.a, r.b) for r in d.checks] == [("x", None, "pass")]
    assert "changed" in text_of(render_diff(d))


def test_runs_and_show(recorded: Recorded) -> None:
    out = text_of(render_runs(recorded.store.list_runs()))
    assert recorded.a.id in out and recorded.b.id in out and "retries-and-dlq" in out
    header, result = recorded.store.get(recorded.a.id)
    shown = text_of(render_show(header, result))
    assert recorded.a.id in shown and "checks" in shown
    for check in recorded.result_a.checks:
        assert check["name"] in shown
    assert "still open" in text_of(render_show(header, None))


def test_events_table_keeps_message_ids_whole_at_80_columns() -> None:
    """Issue: `inspect --kind` at 80 columns cut message ids to `checkout-…`; the key and attempt columns give
    way first so the detail keeps room."""
    import io

    from rich.console import Console

    from evtool.core.events import TraceEvent
    from evtool.report.inspect import render_events

    evs = [TraceEvent(23_131_000_000 + i, "dead_lettered", f"checkout-20241203-{i:05d}", "orders.priority",
                      "billing-service", 1, f"customer-{i:04d}", 4, None,
                      {"reason": "rejected", "target": "orders.dlq", "count": 4}) for i in range(3)]
    for width in (80, 120):
        buf = io.StringIO()
        Console(file=buf, width=width).print(render_events(evs))
        out = buf.getvalue()
        assert all(f"checkout-20241203-{i:05d}" in out for i in range(3)), out
        assert "dead_lettered" in out and max(len(line) for line in out.splitlines()) <= width


def test_diff_delta_names_a_changed_seed_and_never_prints_minus_zero_percent() -> None:
    """A seed names a run: it differs or not (no +2 (+29%)), and shows as typed (`--seed 123456`, not 123,456);
    a change under 1% keeps one decimal, one under 0.05% shows none, instead of "(-0%)"."""
    from evtool.report.diff import Row, _delta, _section

    assert _delta(Row("seed", 7, 9, quantity=False)).plain == "changed"
    assert _delta(Row("virtual time (s)", 120.136, 120.01)).plain == "-0.126 (-0.1%)"
    assert _delta(Row("events", 100_000, 100_001)).plain == "+1"
    assert _delta(Row("messages", 2_330, 2_471)).plain == "+141 (+6%)"
    out = text_of(_section("Run", [Row("seed", 7, 123_456, quantity=False), Row("events", 1_000, 2_000)], "a", "b"))
    assert re.search(r"seed\s+7\s+123456\s+changed", out) and re.search(r"events\s+1,000\s+2,000\s+\+1,000", out)
