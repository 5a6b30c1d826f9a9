"""The command line's run session: one seed rule, one recorder, and no import circle between run modes."""

from __future__ import annotations

from pathlib import Path

import grimp

from evtool.cli.session import RunSession, exit_code
from evtool.scenario.lessons import find_lesson
from evtool.scenario.loader import load_scenario
from evtool.sim.engine import Engine
from evtool.store import SyncRunStore


def test_the_cli_modules_import_each_other_in_one_direction_only() -> None:
    """run → runner → (compare, session); nothing imports back up (the circle issue 12 names)."""
    graph = grimp.build_graph("evtool", include_external_packages=False)
    cli = {m for m in graph.modules if m.startswith("evtool.cli.")}
    for a in cli:
        for b in cli:
            if a < b and graph.find_shortest_chain(importer=a, imported=b) and \
                    graph.find_shortest_chain(importer=b, imported=a):
                raise AssertionError(f"{a} and {b} import each other")


def test_the_seed_is_the_override_else_the_scenarios_own(tmp_path: Path) -> None:
    loaded = load_scenario(find_lesson("retries-dlq-poison"))
    assert RunSession(loaded, no_record=True).seed == loaded.model.run.seed
    assert RunSession(loaded, seed=99, no_record=True).seed == 99
    assert RunSession(loaded, seed=0, no_record=True).seed == 0  # 0 is a seed, not "none given"


def test_a_session_records_the_run_it_listens_to(tmp_path: Path) -> None:
    loaded = load_scenario(find_lesson("retries-dlq-poison"))
    db = tmp_path / "runs.db"
    session = RunSession(loaded, seed=5, db=db).start()
    assert len(session.listeners) == 1
    outcome = Engine(loaded, seed=session.seed, listeners=session.listeners).run()
    run_id = session.finish(outcome)
    with SyncRunStore(db) as store:
        header, result = store.get(run_id)
        assert header.seed == 5 and result is not None and result.digest == outcome.digest
        assert result.events == outcome.events
    assert exit_code(outcome) == (0 if outcome.outcome == "passed" else 1)


def test_a_summary_session_records_no_events(tmp_path: Path) -> None:
    loaded = load_scenario(find_lesson("retries-dlq-poison"))
    session = RunSession(loaded, db=tmp_path / "runs.db", record="summary").start()
    assert session.recorder is not None and session.listeners == []
    session.abort("interrupted")
    with SyncRunStore(tmp_path / "runs.db") as store:
        assert store.list_runs()[0].outcome == "interrupted"
