"""`evtool tui` and `evtool replay`: option handling, recording, and the lazy Textual import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from evtool.cli.tui import replay, tui
from evtool.scenario.loader import LoadedScenario
from evtool.sim.host import InjectFault

from .helpers import LESSON, manual_host, tick_until

cli = typer.Typer()
cli.command("tui")(tui)
cli.command("replay")(replay)


def test_the_command_module_does_not_import_textual() -> None:
    code = "import sys, evtool.cli.tui, evtool.tui; assert 'textual' not in sys.modules, 'textual imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tui_opens_the_dashboard_and_records_the_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []

    def fake_dashboard(loaded: LoadedScenario, seed: int | None = None, speed: float = 1.0, *,
                       listeners: Any = (), paused: bool = False, **_: Any) -> Any:
        calls.append({"id": loaded.model.id, "seed": seed, "speed": speed, "overrides": loaded.overrides})
        host = manual_host(loaded, seed=seed, listeners=listeners)
        host.tick(5.0)
        return host.close()

    monkeypatch.setattr("evtool.tui.run_dashboard", fake_dashboard)
    db = tmp_path / "runs.db"
    result = CliRunner().invoke(cli, ["tui", str(LESSON), "--seed", "3", "--speed", "2",
                                      "--set", "run.duration=30s", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert calls == [{"id": "retries-dlq-poison", "seed": 3, "speed": 2.0, "overrides": {"run.duration": "30s"}}]
    from evtool.store import SyncRunStore

    with SyncRunStore(db) as store:
        rows = store.list_runs()
    assert len(rows) == 1 and rows[0].seed == 3 and rows[0].outcome == "interrupted" and rows[0].events > 0


def test_the_quiz_score_is_stored_with_the_run_and_listed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The dashboard's quiz (here: one question answered right) is stored with the run; `evtool runs` shows it."""
    from evtool.sim.host import Resume
    from evtool.tui.quiz import Quiz

    def fake_dashboard(loaded: LoadedScenario, seed: int | None = None, speed: float = 1.0, *,
                       listeners: Any = (), on_run_end: Any = None, **_: Any) -> Any:
        host = manual_host(loaded, seed=seed, listeners=listeners)
        quiz = Quiz(lesson=loaded.model.id)
        snap = host.snapshot()
        while not (snap.lesson and snap.lesson.step and snap.lesson.step.ask):
            if snap.paused:
                host.submit(Resume())
            snap = host.tick(1.0)
        step = snap.lesson.step
        quiz.choose(step.index, step.ask, step.ask.choices.index(step.ask.answer))
        outcome = host.close()
        on_run_end(listeners, outcome, quiz)
        return outcome

    monkeypatch.setattr("evtool.tui.run_dashboard", fake_dashboard)
    db = tmp_path / "runs.db"
    result = CliRunner().invoke(cli, ["tui", str(LESSON), "--db", str(db)])
    assert result.exit_code == 0, result.output
    from evtool.store.quiz import lesson_scores

    best, last = lesson_scores(db)["retries-dlq-poison"]
    assert (best.right, best.asked) == (last.right, last.asked) == (1, 1)
    from evtool.cli.app import app as evtool_cli

    for columns in ("80", "140"):
        listing = CliRunner().invoke(evtool_cli, ["runs", "--db", str(db)], env={"COLUMNS": columns})
        assert listing.exit_code == 0, listing.output
        assert "quiz" in listing.output and "1/1" in listing.output


def test_tui_refuses_a_bad_scenario(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('evtool: "1"\nid: x\nchannels: {}\n')
    result = CliRunner().invoke(cli, ["tui", str(bad), "--no-record"])
    assert result.exit_code == 2


def test_replay_reads_the_run_and_its_interventions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                    lesson: LoadedScenario) -> None:
    from evtool.cli.session import run_header as _header
    from evtool.cli.session import run_result as _result
    from evtool.store import Recorder

    db = tmp_path / "runs.db"
    rec = Recorder(db)
    rec.start(_header(lesson, 7, "local", "full"))
    host = manual_host(lesson, listeners=[rec.record], speed=10.0)
    tick_until(host, lambda s: s.now_ns >= 4_000_000_000)
    host.submit(InjectFault("crash", "consumer:billing#2", {"restart_after": "2s"}))
    host.tick(1.0)
    outcome = host.close()
    assert outcome is not None
    rec.finish(_result(outcome, 0))
    seen: dict[str, Any] = {}

    def fake_replay(loaded: LoadedScenario, *, seed: int, interventions: Any, title: Any = None,
                    speed: float = 1.0, end_ns: Any = None) -> Any:
        seen.update(id=loaded.model.id, seed=seed, interventions=list(interventions), end_ns=end_ns)
        return None

    monkeypatch.setattr("evtool.tui.run_replay", fake_replay)
    result = CliRunner().invoke(cli, ["replay", "last", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert seen["id"] == "retries-dlq-poison" and seen["seed"] == 7
    assert seen["end_ns"] == outcome.virtual_ns
    [(t, kind, data)] = seen["interventions"]
    assert kind == "fault" and data["action"] == "crash" and data["target"] == "consumer:billing#2"
    assert 4_000_000_000 <= t <= 5_000_000_001  # the host moves to a fresh instant (+1ns) first


def test_replay_of_an_unknown_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["replay", "nope", "--db", str(tmp_path / "runs.db")])
    assert result.exit_code == 2


def test_tui_opens_a_bundled_lesson_by_its_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's tour types `evtool tui retries-dlq-poison`: a lesson id, not a path."""
    seen: list[str] = []

    def fake_dashboard(loaded: LoadedScenario, seed: int | None = None, speed: float = 1.0, *,
                       listeners: Any = (), paused: bool = False, **_: Any) -> Any:
        seen.append(loaded.model.id)
        return None

    monkeypatch.setattr("evtool.tui.run_dashboard", fake_dashboard)
    result = CliRunner().invoke(cli, ["tui", "retries-dlq-poison", "--no-record"])
    assert result.exit_code == 0, result.output
    assert seen == ["retries-dlq-poison"]


def test_tui_with_an_unknown_lesson_id_suggests_one() -> None:
    result = CliRunner().invoke(cli, ["tui", "retries-dlq-poisn", "--no-record"])
    assert result.exit_code == 2
    assert "retries-dlq-poison" in result.output


def test_run_with_tui_follows_sagas_and_flow_from_the_first_event(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    """`evtool run LESSON --tui`: the saga and flow trackers are on the engine before it starts, so the
    saga panel and the graph see the run from its first event (attached late, they missed its start)."""
    from evtool.cli.app import app as evtool_app
    from evtool.tui.app import EvtoolApp
    from evtool.tui.flow import find_flow
    from evtool.tui.sagas import find_tracker

    seen: list[tuple[int, int, bool]] = []

    def tick_until_versions(sagas: Any, flow: Any) -> None:
        import time

        for _ in range(400):
            if sagas.version and flow.version:
                return
            time.sleep(0.01)

    def fake_run(self: EvtoolApp, *args: Any, **kwargs: Any) -> None:
        host = self.host
        assert host is not None
        listeners = host.engine.listeners
        sagas, flow = find_tracker(listeners), find_flow(listeners)
        assert sagas is not None and flow is not None, listeners
        seen.append((sagas.version, flow.version, getattr(host, "_started", False)))
        host.start()  # threaded: runs until close
        tick_until_versions(sagas, flow)
        seen.append((sagas.version, flow.version, True))

    monkeypatch.setattr(EvtoolApp, "run", fake_run)
    lesson = Path(LESSON).parent / "order-saga.yaml"
    result = CliRunner().invoke(evtool_app, ["run", str(lesson), "--tui", "--db", str(tmp_path / "r.db")])
    assert result.exit_code in (0, 1, 130), result.output
    # Before the engine started, the trackers were there and had seen nothing; then they saw the run.
    assert seen[0] == (0, 0, False)
    assert seen[1][0] > 0 and seen[1][1] > 0
