"""The event log names what a person (or `evtool explore`) did: a `user_intervention` row says which fault, on
what, and for how long, not just "fault" (the `fault_started` row that follows may be far below at speed)."""

from __future__ import annotations

from evtool.core.events import TraceEvent
from evtool.tui.format import event_detail


def _intervention(data: dict) -> TraceEvent:
    return TraceEvent(1_000_000, "user_intervention", None, None, "user", None, None, 0, None, data)


def test_an_injected_fault_is_named_with_its_target_and_length() -> None:
    ev = _intervention({"action": "fault", "fault": {"action": "pause", "target": "consumer:billing#0", "for": "1s"}})
    assert event_detail(ev) == "fault pause consumer:billing#0 for 1s"


def test_a_crash_says_when_it_restarts_and_a_redrive_stays_short() -> None:
    crash = _intervention({"action": "fault", "fault": {"action": "crash", "target": "consumer:inventory",
                                                        "restart_after": "2s"}})
    assert event_detail(crash) == "fault crash consumer:inventory restart after 2s"
    assert event_detail(_intervention({"action": "redrive"})) == "redrive"
