"""The run-store commands on real engine runs: runs, show, inspect, export, diff; recording under SIGKILL and Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evtool.cli.app import app
from evtool.core.events import TraceEvent
from evtool.scenario.loader import load_scenario
from evtool.sim.engine import Engine
from evtool.store.model import RunHeader, RunResult, new_run_id, utc_now_iso
from evtool.store.recorder import Recorder
from evtool.store.runstore import SyncRunStore

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "retries-dlq-poison.yaml"
BROKEN = ["--set", "consumers.billing.idempotency=off", "--set", "faults[0].enabled=true"]


def cli(*args: str) -> Any:
    """Invoke the CLI in-process (stdout and stderr are both in `.output`), wide enough not to wrap."""
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "220", "NO_COLOR": "1"})


@dataclass
class Runs:
    """Two recorded runs of the retries lesson (as shipped, and with idempotency off) and a summary-only run."""

    db: Path
    good: str
    broken: str
    summary: str


def _last_id(db: Path) -> str:
    with SyncRunStore(db) as store:
        return store.resolve("last")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """Record the runs once for the module."""
    db = tmp_path_factory.mktemp("cli-runs") / "runs.db"
    r = cli("run", str(SCENARIO), "--db", str(db), "-q")
    assert r.exit_code == 0, r.output
    good = _last_id(db)
    r = cli("run", str(SCENARIO), "--db", str(db), "-q", *BROKEN)
    assert r.exit_code == 1, r.output
    broken = _last_id(db)
    r = cli("run", str(SCENARIO), "--db", str(db), "-q", "--record", "summary")
    assert r.exit_code == 0, r.output
    yield Runs(db, good, broken, _last_id(db))


def test_runs_lists_every_recorded_run(runs: Runs) -> None:
    r = cli("runs", "--db", str(runs.db))
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    row = {run_id: next(line for line in lines if line.startswith(f" {run_id}") or line.startswith(run_id))
           for run_id in (runs.good, runs.broken, runs.summary)}
    assert re.search(r"retries-dlq-poison\s+7\s+passed\s+6/6\s+2,3\d\d\s+2m00s", row[runs.good]), row[runs.good]
    assert "consumers.billing.idempotency=off" in row[runs.broken] and "failed" in row[runs.broken]
    assert "faults[0].enabled=true" in r.output
    assert "passed (no trace)" in row[runs.summary]
    failed = cli("runs", "--db", str(runs.db), "--outcome", "failed")
    assert runs.broken in failed.output and runs.good not in failed.output
    assert runs.good in cli("runs", "--db", str(runs.db), "--scenario", "retries-dlq-poison").output
    assert "no recorded runs match" in cli("runs", "--db", str(runs.db), "--scenario", "nope").output
    bad = cli("runs", "--db", str(runs.db), "--outcome", "meh")
    assert bad.exit_code == 2 and "is not an outcome" in bad.output


def test_run_references_id_prefix_last_unknown(runs: Runs) -> None:
    for ref in (runs.good, runs.good[:6], runs.good.upper()):
        r = cli("show", ref, "--db", str(runs.db))
        assert r.exit_code == 0, r.output
        assert f"run {runs.good}" in r.output
    last = cli("show", "last", "--db", str(runs.db))
    assert f"run {runs.summary}" in last.output and "nothing-lost" in last.output
    unknown = cli("show", "ffffffffffff", "--db", str(runs.db))
    assert unknown.exit_code == 2 and "no run id starts with 'ffffffffffff'" in unknown.output
    assert "evtool runs" in unknown.output
    for command in ("show", "replay"):  # replay said what was wrong, but not where to find a run id
        unknown = cli(command, "ffffffffffff", "--db", str(runs.db))
        assert unknown.exit_code == 2 and "`evtool runs` lists the recorded runs" in unknown.output, command
    junk = cli("inspect", "last~", "--db", str(runs.db), "--kind", "dead_lettered")
    assert junk.exit_code == 2 and "is not a run id" in junk.output
    missing = cli("runs", "--db", str(runs.db.parent / "none.db"))
    assert missing.exit_code == 2 and "no run store at" in missing.output


def test_an_ambiguous_prefix_lists_the_candidates(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    for run_id in ("abc000000001", "abc000000002"):
        rec = Recorder(db)
        rec.start(RunHeader(id=run_id, scenario_id="s", scenario_path="s.yaml", scenario_text="", scenario_hash="",
                            seed=1, record_mode="summary", started_at=utc_now_iso()))
        rec.finish(RunResult(outcome="passed", ended_at=utc_now_iso()))
    r = cli("show", "abc", "--db", str(db))
    assert r.exit_code == 2
    assert "'abc' matches 2 runs" in r.output and "abc000000001" in r.output and "abc000000002" in r.output
    assert cli("show", "abc000000002", "--db", str(db)).exit_code == 0


def test_show_a_run_without_a_result(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    run_id = new_run_id()
    rec = Recorder(db, flush_interval=3600)
    rec.start(RunHeader(id=run_id, scenario_id="s", scenario_path="s.yaml", scenario_text="", scenario_hash="",
                        seed=1, started_at=utc_now_iso()))
    rec.record([TraceEvent(i * 1_000_000, "published", f"m{i}", "q") for i in range(5)])
    assert rec.sync(timeout=30)
    r = cli("show", run_id, "--db", str(db))
    assert r.exit_code == 0, r.output
    assert "incomplete (running)" in r.output and "still recording" in r.output
    assert "5 events, 5 messages published, up to 4ms of virtual time" in r.output
    rec.finish(RunResult(outcome="passed", ended_at=utc_now_iso(), events=5))


def test_inspect_a_dead_lettered_message_lists_every_attempt(runs: Runs) -> None:
    r = cli("inspect", runs.good, "-m", "POISON-1", "--db", str(runs.db))
    assert r.exit_code == 0, r.output
    out = r.output
    assert re.search(r"message POISON-1\s+dead-lettered\s+4 deliveries, 4 failures", out), out
    assert "waiting in orders.dlq" in out
    attempts = re.findall(r"^\s*(\d)\s+[\d.]+s\s+billing#\d\s+failed: ParseError\s+(.+?)\s*$", out, re.M)
    assert [n for n, _ in attempts] == ["1", "2", "3", "4"]
    assert all(after.startswith("retry in ") for _, after in attempts[:3])
    assert attempts[3][1] == "dead-lettered to orders.dlq"
    assert out.count("delivery 1 to billing#") == 1 and out.count(" redelivered ") == 3
    assert "dead-lettered from orders to orders.dlq: rejected, after 4 deliveries" in out
    assert "?" not in out


def test_inspect_a_duplicated_message(runs: Runs) -> None:
    with SyncRunStore(runs.db) as store:
        seen: set[str] = set()
        dup = next(e.msg for e in store.events(runs.broken, kinds=["published"])
                   if e.msg in seen or seen.add(e.msg or ""))  # type: ignore[func-returns-value]
    out = cli("inspect", runs.broken, "-m", str(dup), "--db", str(runs.db)).output
    assert "published 2 times" in out and "published again: a duplicate copy" in out


def test_inspect_key_kind_and_errors(runs: Runs) -> None:
    db = str(runs.db)
    key = cli("inspect", runs.good, "--key", "cust-0355", "--db", db)
    assert key.exit_code == 0 and "key cust-0355: published" in key.output and "POISON-1" in key.output
    dead = cli("inspect", runs.good, "--kind", "dead_lettered", "--db", db)
    assert dead.exit_code == 0
    assert [m for m in ("POISON-1", "POISON-2", "POISON-3") if m in dead.output] == ["POISON-1", "POISON-2", "POISON-3"]
    assert dead.output.count("dead-lettered from orders to orders.dlq: rejected") == 3
    limited = cli("inspect", runs.good, "--kind", "redelivered", "-n", "2", "--db", db)
    assert "more (use --limit)" in limited.output
    assert "kept no trace" in cli("inspect", runs.summary, "-m", "POISON-1", "--db", db).output
    assert "does not appear" in cli("inspect", runs.good, "-m", "poison-1", "--db", db).output
    none = cli("inspect", runs.good, "--db", db)
    assert none.exit_code == 2 and "exactly one of" in none.output
    both = cli("inspect", runs.good, "-m", "POISON-1", "--kind", "acked", "--db", db)
    assert both.exit_code == 2
    typo = cli("inspect", runs.good, "--kind", "dead_letterd", "--db", db)
    assert typo.exit_code == 2 and "dead_lettered" in typo.output


def test_export_every_format(runs: Runs, tmp_path: Path) -> None:
    db = str(runs.db)
    doc = json.loads(cli("export", runs.good, "-f", "json", "--db", db).stdout)
    assert doc["run"]["id"] == runs.good and doc["result"]["outcome"] == "passed"
    assert [d["msg"] for d in doc["dead_letters"]] == ["POISON-1", "POISON-2", "POISON-3"]
    assert doc["dead_letters"][0]["data"]["target"] == "orders.dlq"
    lines = cli("export", runs.good, "-f", "jsonl", "--db", db).stdout.splitlines()
    assert len(lines) == doc["result"]["events"]
    md = cli("export", runs.broken, "-f", "md", "--db", db).stdout
    assert "# Retries, backoff and the dead-letter queue: failed" in md
    assert "`--set consumers.billing.idempotency=off`" in md and "| orders → orders.dlq | rejected | 4 |" in md
    assert "charged=" in md and "❌ fail | **charged-once**" in md
    mermaid = cli("export", runs.good, "-f", "mermaid", "--db", db).stdout
    assert "p_orders-xp_orders_dlq: dead-lettered (rejected)" in mermaid
    assert "(unknown)" not in mermaid and "?" not in mermaid
    out = tmp_path / "report.html"
    r = cli("export", runs.good, "-f", "html", "-o", str(out), "--db", db)
    assert r.exit_code == 0 and f"wrote {out}" in r.output
    html = out.read_text(encoding="utf-8")
    assert "Lesson: Retries, backoff and the dead-letter queue" in html
    assert "How many times was POISON-1 delivered to a billing worker?" in html
    assert "<code>--set consumers.billing.idempotency=off</code>" in html
    assert html.count("<svg") == 3 and "orders → orders.dlq" in html
    summary_html = cli("export", runs.summary, "-f", "html", "--db", db).stdout
    assert "no charts" in summary_html
    bad = cli("export", runs.good, "-f", "pdf", "--db", db)
    assert bad.exit_code == 2 and "is not a format" in bad.output


def test_diff_shows_what_the_override_changed(runs: Runs) -> None:
    r = cli("diff", runs.good, runs.broken, "--only-changed", "--db", str(runs.db))
    assert r.exit_code == 0, r.output
    out = r.output
    assert re.search(r"overrides\s+none\s+consumers.billing.idempotency=off faults\[0\].enabled=true\s+changed", out)
    assert re.search(r"charged-once\s+pass\s+fail\s+changed", out)
    assert re.search(r"B: \d+ key\(s\) had effects applied more than once", out)  # the changed check's observed
    assert re.search(r"billing state\.charged\s+2,3\d\d\s+2,4\d\d", out), out
    assert "nothing-lost" not in out  # unchanged rows are hidden
    same = cli("diff", runs.good, runs.good, "--db", str(runs.db), "--only-changed")
    assert "do not differ" in same.output


def test_recording_does_not_change_the_digest(tmp_path: Path) -> None:
    loaded = load_scenario(SCENARIO, ["run.duration=20s"])
    plain = Engine(loaded).run()
    rec = Recorder(tmp_path / "runs.db")
    header = RunHeader(id=new_run_id(), scenario_id=loaded.model.id, scenario_path=str(SCENARIO),
                       scenario_text=loaded.text, scenario_hash=loaded.sha256, seed=loaded.model.run.seed,
                       started_at=utc_now_iso())
    rec.start(header)
    recorded = Engine(loaded, listeners=[rec.record]).run()
    rec.finish(RunResult(outcome=recorded.outcome, ended_at=utc_now_iso(), virtual_ns=recorded.virtual_ns,
                         digest=recorded.digest, events=recorded.events, summary=recorded.summary,
                         checks=recorded.checks))
    assert recorded.digest == plain.digest and recorded.events == plain.events
    assert rec.wait(timeout=60)
    with SyncRunStore(tmp_path / "runs.db") as store:
        assert sum(1 for _ in store.events(header.id)) == plain.events
        assert store.get(header.id)[1].digest == plain.digest  # type: ignore[union-attr]


# ----- real processes -----------------------------------------------------------

def _start_long_run(db: Path) -> subprocess.Popen[str]:
    """`evtool run` of a 10-minute scenario paced at 20x, recording into `db` (about 30 s if left alone)."""
    return subprocess.Popen(
        [sys.executable, "-m", "evtool", "run", str(SCENARIO), "--duration", "10m", "--speed", "20", "-q",
         "--db", str(db)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "CI": "true", "PYTHONPATH": str(ROOT)})


def _wait_for_events(db: Path, proc: subprocess.Popen[str], at_least: int = 200) -> tuple[str, int]:
    """Poll the database until the running process has committed `at_least` events; its run id and count."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if db.exists():
            try:
                with SyncRunStore(db) as store:
                    rows = store.list_runs()
                    if rows and rows[0].events >= at_least:
                        return rows[0].id, rows[0].events
            except Exception:  # noqa: BLE001 - the database may be mid-creation
                pass
        time.sleep(0.1)
    raise AssertionError("the run committed nothing within 60 s")


def _writers(db: Path) -> list[int]:
    """Pids of writer processes recording into `db`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"evtool.store.writer" in part for part in cmd) and str(db).encode() in cmd:
            pids.append(int(entry.name))
    return pids


@pytest.mark.skipif(not Path("/proc").exists(), reason="needs /proc to find the writer process")
def test_sigkill_leaves_the_run_incomplete_with_its_committed_trace(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    proc = _start_long_run(db)
    try:
        run_id, committed = _wait_for_events(db, proc)
        assert _writers(db), "the recording should run in a writer process"
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    # the writer notices its parent died, commits what it had, and exits
    deadline = time.monotonic() + 30
    while _writers(db) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _writers(db)
    with SyncRunStore(db) as store:
        header, result = store.get(run_id)
        assert result is None
        row = store.list_runs()[0]
        assert (row.id, row.outcome) == (run_id, "incomplete")
        events = list(store.events(run_id))
        assert len(events) >= committed == sum(1 for e in events[:committed])
        assert [e.t for e in events] == sorted(e.t for e in events)
        assert events[0].kind == "instance_started"
    shown = cli("show", run_id, "--db", str(db))
    assert "incomplete" in shown.output and f"{len(events):,} events" in shown.output
    assert run_id in cli("runs", "--db", str(db), "--outcome", "incomplete").output


def test_ctrl_c_marks_the_run_interrupted_and_exits_130(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    proc = _start_long_run(db)
    try:
        run_id, committed = _wait_for_events(db, proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    with SyncRunStore(db) as store:
        _, result = store.get(run_id)
        assert result is not None and result.outcome == "interrupted"
        assert result.events >= committed
        assert 0 < result.virtual_ns < 600 * 10**9
        assert sum(1 for _ in store.events(run_id)) == result.events


def test_sigterm_is_handled_like_ctrl_c(tmp_path: Path) -> None:
    """`kill PID` (SIGTERM: timeout, systemd, CI runners) records the run as interrupted, like Ctrl-C."""
    db = tmp_path / "runs.db"
    proc = _start_long_run(db)
    try:
        run_id, committed = _wait_for_events(db, proc)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "INTERRUPTED" in out.upper()
    with SyncRunStore(db) as store:
        _, result = store.get(run_id)
        assert result is not None and result.outcome == "interrupted"
        assert result.events >= committed
        assert sum(1 for _ in store.events(run_id)) == result.events


def test_the_sigterm_handler_is_removed_when_the_run_ends(tmp_path: Path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    rec = Recorder(tmp_path / "runs.db")
    rec.start(RunHeader(id=new_run_id(), scenario_id="s", scenario_path="s.yaml", scenario_text="",
                        scenario_hash="", seed=1, started_at=utc_now_iso()))
    assert signal.getsignal(signal.SIGTERM) not in (before, signal.SIG_DFL)
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)
    assert signal.getsignal(signal.SIGTERM) == before  # a second SIGTERM would end the process
    rec.abort("interrupted")
    assert signal.getsignal(signal.SIGTERM) == before
