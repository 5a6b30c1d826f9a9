"""The engine host without a UI: lesson pauses, commands, bounded buffers, determinism, replay."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from evtool.scenario.loader import LoadedScenario, load_text
from evtool.sim.engine import Engine
from evtool.sim.host import (
    LIFECYCLE_EVENTS,
    RECENT_EVENTS,
    EngineHost,
    Faster,
    InjectFault,
    Pause,
    Redrive,
    Resume,
    Seek,
    SetSpeed,
    Slower,
    Step,
    TogglePause,
    interventions_from_events,
)
from evtool.sim.snapshot import ChannelView, Snapshot

from .helpers import manual_host, tick_until, to_lesson_step

S = 1_000_000_000


def counters(snap: Snapshot) -> list[ChannelView]:
    """The channels without their rates (rates depend on when snapshots were taken)."""
    return [replace(c, rate_in=0.0, rate_out=0.0) for c in snap.channels]


def headless_digest(loaded: LoadedScenario) -> str:
    return Engine(loaded).run().digest


def run_to_end(host: EngineHost) -> Snapshot:
    host.submit(SetSpeed(math.inf))

    def over(s: Snapshot) -> bool:
        if s.paused and s.outcome is None:
            host.submit(Resume())
        return s.outcome is not None

    return tick_until(host, over)


def test_the_first_lesson_step_fires_at_time_zero(lesson: LoadedScenario) -> None:
    host = manual_host(lesson)
    snap = host.snapshot()
    assert snap.lesson is not None and snap.lesson.current == 0
    assert not snap.paused


def test_a_pause_step_stops_right_after_its_triggering_event(lesson: LoadedScenario) -> None:
    host = manual_host(lesson, speed=5.0)
    snap = tick_until(host, lambda s: s.paused)
    last = snap.recent[-1][1]
    assert (last.kind, last.msg, last.attempt) == ("delivered", "POISON-1", 1)
    assert snap.paused_by == "lesson step 2"
    assert snap.lesson is not None and snap.lesson.current == 1
    # Paused means paused: ticking on does not move virtual time.
    assert host.tick(5.0).now_ns == snap.now_ns


def test_the_dashboard_does_not_change_the_trace(lesson: LoadedScenario) -> None:
    """Pacing, lesson pauses and snapshots leave the digest as a headless run has it."""
    for speed in (1.0, 20.0, math.inf):
        host = manual_host(lesson, speed=speed)
        end = run_to_end(host)
        assert host.outcome is not None
        assert host.outcome.digest == headless_digest(lesson), speed
        assert end.outcome == "passed"
        assert end.lesson is not None and [i for i, _ in end.lesson.fired][-1] == 4  # the `at: end` step


def test_pause_resume_toggle_and_speed_steps(lesson: LoadedScenario) -> None:
    host = manual_host(lesson)
    host.submit(Pause())
    assert host.tick(1.0).paused
    host.submit(TogglePause())
    snap = host.tick(1.0)
    assert not snap.paused and snap.now_ns == 1 * S
    host.submit(Faster())
    assert host.tick(0.0).speed == 2.0
    host.submit(Slower())
    host.submit(Slower())
    assert host.tick(0.0).speed == 0.5
    host.submit(SetSpeed(math.inf))
    assert math.isinf(host.tick(0.0).speed)


def test_step_processes_one_kernel_event_and_pauses(lesson: LoadedScenario) -> None:
    host = manual_host(lesson)
    before = host.engine.kernel.processed
    host.submit(Step(1))
    snap = host.tick(0.0)
    assert snap.paused
    assert host.engine.kernel.processed == before + 1


def test_buffers_stay_bounded(lesson: LoadedScenario) -> None:
    host = manual_host(lesson)
    snap = run_to_end(host)
    assert len(snap.recent) == RECENT_EVENTS
    assert snap.last_seq > 10 * RECENT_EVENTS
    life = host.lifecycle("POISON-1")
    assert life is not None and len(life.events) <= LIFECYCLE_EVENTS
    assert all(len(lane.cells) <= 120 for lane in snap.lanes)


def test_lifecycle_retries_and_dead_letters(lesson: LoadedScenario) -> None:
    host = manual_host(lesson)
    snap = to_lesson_step(host, 3)  # POISON-1 dead-lettered
    life = host.lifecycle("POISON-1")
    assert life is not None
    assert life.state == "dead" and life.attempts == 4 and life.tag == "poison"
    assert [e.kind for e in life.events].count("failed") == 4
    assert [d.msg for d in snap.dead_letters] == ["POISON-1"]
    dl = snap.dead_letters[0]
    assert (dl.channel, dl.source, dl.reason, dl.error, dl.attempts) == ("orders.dlq", "orders", "rejected",
                                                                        "ParseError", 4)
    assert all(r.due_ns >= snap.now_ns - 1 for r in snap.retries if r.msg != "POISON-1")


def test_a_hand_fault_is_recorded_at_its_virtual_time(lesson: LoadedScenario) -> None:
    host = manual_host(lesson)
    host.tick(2.0)
    host.submit(InjectFault("crash", "consumer:billing#0", {"restart_after": "5s"}))
    snap = host.tick(0.0)
    inst = snap.consumers[0].instances[0]
    assert inst.state == "crashed"
    kinds = [e.kind for _, e in snap.recent]
    assert "user_intervention" in kinds and "instance_crashed" in kinds
    assert host.engine.interventions[0][1] == "fault"
    assert any("injected crash" in n for n in snap.notes)


def test_redrive_sends_a_dead_letter_back(lesson: LoadedScenario) -> None:
    host = manual_host(lesson)
    to_lesson_step(host, 3)
    host.submit(Redrive("orders.dlq", "POISON-1"))
    snap = host.tick(0.0)
    assert snap.dead_letters == ()
    assert any(e.kind == "redriven" and e.msg == "POISON-1" for _, e in snap.recent)
    assert any("redrove 1" in n for n in snap.notes)


def test_seek_back_rebuilds_and_lands_on_the_same_state(lesson: LoadedScenario) -> None:
    host = manual_host(lesson, replay=True)
    host.submit(Seek(30 * S))
    at30 = host.tick(0.0)
    assert at30.paused and at30.now_ns == 30 * S
    host.submit(Seek(60 * S))
    host.tick(0.0)
    host.submit(Seek(30 * S))
    again = host.tick(0.0)
    assert again.now_ns == 30 * S
    assert counters(again) == counters(at30)
    assert again.digest == at30.digest


def test_a_replay_refuses_interventions(lesson: LoadedScenario) -> None:
    host = manual_host(lesson, replay=True)
    host.submit(InjectFault("crash", "consumer:billing#0"))
    snap = host.tick(0.0)
    assert host.engine.interventions == []
    assert any("read-only" in n for n in snap.notes)


def live_run_with_interventions(loaded: LoadedScenario, listeners: list[object] | None = None) -> EngineHost:
    host = manual_host(loaded, speed=10.0, listeners=listeners or [])
    tick_until(host, lambda s: s.now_ns >= 5 * S)
    host.submit(InjectFault("crash", "consumer:billing#1", {"restart_after": "3s"}))
    host.submit(InjectFault("slow", "consumer:billing", {"latency_factor": 3, "for": "10s"}))
    host.submit(InjectFault("poison", "channel:orders"))
    host.tick(0.0)
    to_lesson_step(host, 3)
    host.submit(Redrive("orders.dlq"))
    host.tick(0.0)
    run_to_end(host)
    return host


def test_a_replay_of_the_interventions_ends_in_the_same_state(lesson: LoadedScenario) -> None:
    """Same scenario, seed and recorded interventions: same digest, same final panels."""
    trace: list[object] = []
    live = live_run_with_interventions(lesson, [trace.extend])
    assert live.outcome is not None
    assert live.outcome.digest != headless_digest(lesson)  # the interventions did change the run
    recorded = interventions_from_events(trace)  # type: ignore[arg-type]
    assert [k for _, k, _ in recorded] == ["fault", "fault", "fault", "redrive"]
    replay = manual_host(lesson, interventions=recorded, replay=True)
    end = run_to_end(replay)
    assert replay.outcome is not None
    assert replay.outcome.digest == live.outcome.digest
    assert counters(end) == counters(live.snapshot())
    assert end.dead_letters == live.snapshot().dead_letters


def test_a_replay_from_the_run_store_matches_the_live_run(lesson: LoadedScenario, tmp_path: Path) -> None:
    """The path `evtool replay` takes: header and user_intervention events from SQLite."""
    from evtool.cli.session import run_header as _header
    from evtool.cli.session import run_result as _result
    from evtool.store import Recorder, SyncRunStore

    db = tmp_path / "runs.db"
    rec = Recorder(db)
    rec.start(_header(lesson, lesson.model.run.seed, "local", "full"))
    live = live_run_with_interventions(lesson, [rec.record])
    assert live.outcome is not None
    rec.finish(_result(live.outcome, 0))
    with SyncRunStore(db) as store:
        run_id = store.resolve("last")
        header, result = store.get(run_id)
        events = list(store.events(run_id, kinds=["user_intervention"]))
    assert result is not None and result.digest == live.outcome.digest
    loaded = load_text(header.scenario_text, header.scenario_path, header.overrides or None)
    replay = manual_host(loaded, seed=header.seed, interventions=interventions_from_events(events), replay=True)
    run_to_end(replay)
    assert replay.outcome is not None and replay.outcome.digest == result.digest


def test_threaded_host_runs_and_quits(lesson: LoadedScenario) -> None:
    host = EngineHost(lesson, speed=math.inf)
    host.start()
    try:
        assert host.running
        host.submit(Pause())
    finally:
        outcome = host.close()
    assert not host.running
    assert outcome is not None
