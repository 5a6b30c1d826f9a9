"""`evtool explore` on the command line: exit codes, the recorded counterexample, and its replay with
`evtool run --replay-interventions` (same digest)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evtool.cli.app import app
from evtool.sim.host import interventions_from_events
from evtool.store.runstore import SyncRunStore

FIXTURES = Path(__file__).parent / "fixtures"
BUGGY = str(FIXTURES / "charge-twice.yaml")
CORRECT = str(FIXTURES / "charge-once.yaml")


def cli(db: Path, *args: str) -> Any:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1", "EVTOOL_DB": str(db)})


def test_found_is_exit_1_recorded_and_replays_with_the_same_digest(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    res = cli(db, "explore", BUGGY, "--check", "charged-once", "--budget", "30 runs")
    assert res.exit_code == 1, res.output
    assert "found a failing run" in res.output and "charged-once" in res.output
    assert "pause consumer:billing#" in res.output
    run_id = re.search(r"recorded as run (\w+)", res.output).group(1)  # type: ignore[union-attr]
    digest = re.search(r"digest ([0-9a-f]{16})", res.output).group(1)  # type: ignore[union-attr]
    with SyncRunStore(db) as store:
        header, result = store.get(store.resolve(run_id))
        ivs = interventions_from_events(list(store.events(store.resolve(run_id), kinds=["user_intervention"])))
    assert result.digest.startswith(digest)
    assert result.outcome == "failed"
    assert header.overrides == {"producers.checkout.count": 1}
    assert [spec["action"] for _t, _k, spec in ivs] == ["pause"]
    # show works on it like on any run
    shown = cli(db, "show", run_id)
    assert shown.exit_code == 0, shown.output
    assert "charged-once" in shown.output
    # and `run --replay-interventions` repeats it exactly
    again = cli(db, "run", BUGGY, "--replay-interventions", run_id, "-q")
    assert again.exit_code == 1, again.output
    assert f"digest {digest}" in again.output
    assert f"--replay-interventions {header.id}" in again.output  # the re-run line names the run


def test_the_replay_of_a_recorded_run_in_the_host_has_the_same_digest(tmp_path: Path) -> None:
    """What `evtool replay` does (the dashboard's engine host, re-simulating from the recorded events)."""
    from evtool.scenario.loader import load_text
    from evtool.sim.engine import Engine

    db = tmp_path / "runs.db"
    res = cli(db, "explore", BUGGY, "--budget", "30 runs")
    assert res.exit_code == 1, res.output
    with SyncRunStore(db) as store:
        run_id = store.resolve("last")
        header, result = store.get(run_id)
        ivs = interventions_from_events(list(store.events(run_id, kinds=["user_intervention"])))
    loaded = load_text(header.scenario_text, header.scenario_path or "<recorded>", header.overrides or None)
    eng = Engine(loaded, seed=header.seed)
    eng.schedule_interventions(ivs)
    assert eng.run().digest == result.digest


def test_the_dashboard_replay_host_reaches_the_same_digest(tmp_path: Path) -> None:
    """`evtool replay RUN` hosts the engine for the dashboard (EngineHost, replay mode); driven here
    without a UI, tick by tick, it ends with the recorded digest."""
    import math

    from evtool.scenario.loader import load_text
    from evtool.sim.host import EngineHost, Resume, SetSpeed

    db = tmp_path / "runs.db"
    assert cli(db, "explore", BUGGY, "--budget", "30 runs").exit_code == 1
    with SyncRunStore(db) as store:
        run_id = store.resolve("last")
        header, result = store.get(run_id)
        ivs = interventions_from_events(list(store.events(run_id, kinds=["user_intervention"])))
    loaded = load_text(header.scenario_text, header.scenario_path or "<recorded>", header.overrides or None)
    host = EngineHost(loaded, seed=header.seed, interventions=ivs, replay=True, threaded=False)
    host.start()
    host.submit(SetSpeed(math.inf))
    for _ in range(2000):
        snap = host.tick(0.25)
        if snap.paused:
            host.submit(Resume())
        if host.outcome is not None:
            break
    assert host.outcome is not None
    assert host.outcome.digest == result.digest


def test_none_found_is_exit_0_and_never_called_a_proof(tmp_path: Path) -> None:
    res = cli(tmp_path / "runs.db", "explore", CORRECT, "--budget", "20 runs")
    assert res.exit_code == 0, res.output
    assert "no failing run found within the budget" in res.output
    assert "not a proof" in res.output
    assert "searched 20 runs" in res.output


@pytest.mark.parametrize(("args", "message"), [
    (["--check", "charged-onse"], "did you mean"),
    (["--budget", "soon"], "--budget"),
    (["--budget", "0 runs"], "--budget"),
    (["--set", "consumers.billing.instances=0"], "instances"),
])
def test_invalid_input_is_exit_2_with_a_located_message(tmp_path: Path, args: list[str], message: str) -> None:
    res = cli(tmp_path / "runs.db", "explore", BUGGY, *args)
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output


def test_a_bad_explore_block_is_a_located_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(BUGGY).read_text(encoding="utf-8").replace("faults: [pause, crash]",
                                                                   "faults: [pause, crsh]"), encoding="utf-8")
    res = cli(tmp_path / "runs.db", "explore", str(bad))
    assert res.exit_code == 2
    assert re.search(r"bad\.yaml:\d+:\d+: explore\.faults\[1\]", res.output), res.output
    assert "did you mean `crash`" in res.output


def test_replay_interventions_of_an_unknown_run_is_exit_2(tmp_path: Path) -> None:
    res = cli(tmp_path / "runs.db", "run", BUGGY, "--replay-interventions", "abcdef", "-q")
    assert res.exit_code == 2, res.output
    assert "--replay-interventions" in res.output


def test_interrupted_is_exit_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evtool.explore import search

    def interrupted(self: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(search.Explorer, "search", interrupted)
    res = cli(tmp_path / "runs.db", "explore", BUGGY, "--budget", "5 runs")
    assert res.exit_code == 130, res.output
    assert "interrupted" in res.output
