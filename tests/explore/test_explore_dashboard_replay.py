"""The counterexample `evtool explore` records for each of the three lessons opens in the dashboard replay
(`evtool replay RUN`): the app with the time scrubber, driven by Textual's pilot. Scrubbed to the end it
shows the failed expectation; scrubbed to each intervention's instant, the event log shows the injected
fault; and the replay ends with the recorded digest."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evtool.cli.app import app as cli_app
from evtool.store.runstore import SyncRunStore

pytestmark = pytest.mark.asyncio

NO_LOCK = ('consumers.payment.handles.ChargeCard.fail_if=[{when: "msg.payload.amount > 271", '
           'error: CardDeclined, retryable: false}]')
LESSONS = [
    pytest.param(("idempotent-consumer", "charged-once", ["--set", "consumers.billing.idempotency=off"], 1),
                 id="idempotency"),
    pytest.param(("order-saga", "charges-match-completed-sagas", ["--set", NO_LOCK], 5), id="saga",
                 marks=pytest.mark.slow),
    pytest.param(("ordering-sequence-numbers", "per-account-order", [], 1), id="ordering", marks=pytest.mark.slow),
]


def explore_and_record(db: Path, lesson: str, check: str, sets: list[str], seed: int) -> str:
    res = CliRunner().invoke(cli_app, ["explore", lesson, "--check", check, *sets, "--seed", str(seed),
                                       "--budget", "40 runs"],
                             env={"COLUMNS": "120", "NO_COLOR": "1", "EVTOOL_DB": str(db)})
    assert res.exit_code == 1, res.output
    return re.search(r"recorded as run (\w+)", res.output).group(1)  # type: ignore[union-attr]


def replay_arguments(db: Path, run_id: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What `evtool replay RUN` hands the dashboard (the CLI's own loading of the recorded run)."""
    import evtool.tui

    seen: dict[str, Any] = {}

    def fake_run_replay(loaded: Any, **kwargs: Any) -> None:
        seen.update(kwargs, loaded=loaded)

    monkeypatch.setattr(evtool.tui, "run_replay", fake_run_replay)
    res = CliRunner().invoke(cli_app, ["replay", run_id, "--db", str(db)], env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output
    assert seen["interventions"], "the recorded run carries its interventions"
    return seen


@pytest.fixture(params=LESSONS)
def recorded(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A lesson's counterexample explored and recorded, and what `evtool replay` hands the dashboard
    (outside the test's event loop: the CLI and the run store run their own)."""
    lesson, check, sets, seed = request.param
    db = tmp_path / "runs.db"
    run_id = explore_and_record(db, lesson, check, sets, seed)
    with SyncRunStore(db) as store:
        _header, result = store.get(store.resolve(run_id))
    return {**replay_arguments(db, run_id, monkeypatch), "check": check, "digest": result.digest}


async def test_the_counterexample_replays_in_the_dashboard(recorded: dict[str, Any]) -> None:
    from tui.helpers import make_app, sync, text_of

    from evtool.tui.widgets.check_table import CheckTable
    from evtool.tui.widgets.event_log import EventFilter, EventLog

    args, check = recorded, recorded["check"]
    app, host = make_app(args["loaded"], seed=args["seed"], interventions=args["interventions"], replay=True,
                         end_ns=args["end_ns"])
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        assert app.dashboard.query_one("#scrubber").display  # the replay's time line
        # scrub to the end, 5 % of the run at a time
        for _ in range(60):
            await pilot.press("greater_than_sign")
            snap = await sync(app, pilot)
            if snap.outcome is not None:
                break
        assert snap.outcome == "failed"
        failed = [c for c in snap.checks if c.status == "fail"]
        assert check in [c.name for c in failed]
        await pilot.press("5")  # the Checks tab
        await pilot.pause()
        table = app.dashboard.query_one(CheckTable)
        row = [cell.plain for cell in table.get_row(check)]  # the row the dashboard shows for the check
        assert row[0] == check and row[1].endswith("fail"), row
        assert host.outcome is not None and host.outcome.digest == recorded["digest"]  # the same run, exactly
        # scrub back to each intervention's instant: the event log shows the injected fault
        for t, _kind, spec in args["interventions"]:
            app.dashboard.action_seek_to(t + 1)
            snap = await sync(app, pilot)
            assert snap.now_ns >= t
            log = app.dashboard.query_one(EventLog)
            log.set_filter(EventFilter.parse("kind:user_intervention"))
            await pilot.pause()
            assert re.search(rf"{t / 1e9:.3f}s user_interventio", text_of(log)), text_of(log)
            log.set_filter(EventFilter.parse("kind:fault_started"))  # the fault it injected, with its target
            await pilot.pause()
            assert f"{spec['action']} {spec['target']}" in text_of(log), text_of(log)
