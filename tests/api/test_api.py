"""evtool.api: loading from every kind of source, running, the result object, recording, errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from evtool import api

TINY = {
    "evtool": "1", "id": "tiny", "run": {"seed": 3, "duration": "10s"},
    "channels": {"q": {"kind": "queue"}},
    "producers": {"p": {"to": "q", "message": "M", "arrival": {"process": "constant", "rate": "5/s"}, "payload": {"n": "{{ rand.randint(1, 9) }}"}}},
    "consumers": {"c": {"from": "q", "processing": {"dist": "exponential", "mean": "10ms"}}},
    "expect": [{"name": "all", "check": "no_loss", "channel": "q"},
               {"name": "slow", "that": "p(99, latency.e2e) > 1s"}],
}


@pytest.fixture(autouse=True)
def _no_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTOOL_CONFIG", "")


def test_dict_and_text_and_file_load_the_same(tmp_path: Path) -> None:
    from_dict = api.load(TINY)
    from_text = api.load(from_dict.text)
    f = tmp_path / "tiny.yaml"
    f.write_text(from_dict.text)
    from_file = api.load(f)
    assert from_dict.id == from_text.id == from_file.id == "tiny"
    assert api.run(from_dict).digest == api.run(from_text).digest == api.run(str(f)).digest


def test_result_fields_and_failing_check() -> None:
    r = api.run(TINY)
    assert r.outcome == "failed"
    assert [c.name for c in r.checks] == ["all", "slow"]
    assert r.check("all").passed
    slow = r.check("slow")
    assert slow.verdict == "fail" and slow.kind == "that"
    assert slow.expected == "p(99, latency.e2e) > 1s"
    assert "p99" in slow.observed
    assert r.failing == [slow]
    assert r.counts["published"] == r.summary["published"] == 49  # 5/s for 10s, the first at 200ms
    assert len(r.digest) == 64 and r.seed == 3 and r.transport == "local" and r.profile == "default"
    assert r.events_count == sum(1 for _ in r.events())
    assert {e.kind for e in r.events(["acked"])} == {"acked"}
    with pytest.raises(KeyError, match="the checks are: all, slow"):
        r.check("nope")
    text = r.explain()
    assert "✗ slow (fail)" in text and "expected: p(99, latency.e2e) > 1s" in text
    assert "re-run: evtool run '<dict>' --seed 3" in text or "re-run: evtool run" in text
    with pytest.raises(AssertionError, match="slow"):
        r.assert_passed()


def test_seed_overrides_and_duration_change_the_run() -> None:
    base = api.run(TINY)
    assert api.run(TINY, seed=4).digest != base.digest
    shorter = api.run(TINY, overrides={"run.duration": "4s"})
    assert shorter.counts["published"] == 19
    assert api.run(TINY, overrides=["run.duration=4s"]).digest == shorter.digest
    assert api.run(TINY, duration="1m30s").counts["published"] == 449
    assert api.load(TINY).with_overrides({"run.seed": 4}).seed == 4


def test_python_strings_stay_strings() -> None:
    """Keys such as `n` or `on` are strings in Python; the YAML evtool writes for them quotes them."""
    sc = api.load({**TINY, "producers": {"p": {**TINY["producers"]["p"], "payload": {"n": "on", "on": "y"}}}})
    assert "'n': 'on'" in sc.text and "'on': 'y'" in sc.text


def test_no_trace_kept_unless_asked() -> None:
    r = api.run(TINY, keep_trace=False)
    with pytest.raises(RuntimeError, match="keep_trace=True, or record=True"):
        list(r.events())


def test_summary_recording_keeps_no_trace(tmp_path: Path) -> None:
    r = api.run(TINY, record=True, db=tmp_path / "runs.db", record_mode="summary", keep_trace=False)
    assert r.run_id is not None
    with pytest.raises(RuntimeError, match="record_mode full"):
        list(r.events())


def test_recorded_run_is_in_the_store(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    r = api.run(TINY, record=True, db=db, keep_trace=False)
    assert r.run_id and r.db_path == db
    from evtool.store import SyncRunStore

    with SyncRunStore(db) as store:
        header, stored = store.get(r.run_id)
    assert stored is not None and stored.digest == r.digest and header.scenario_id == "tiny"
    assert sum(1 for _ in r.events()) == r.events_count


def test_invalid_sources_are_located() -> None:
    with pytest.raises(api.ScenarioInvalid) as exc:
        api.load("no-such-lesson-here")
    assert "no such file or bundled lesson" in str(exc.value)
    with pytest.raises(api.ScenarioInvalid) as exc:
        api.load("evtool: '1'\nid: x\nrun: {seed: 1, duration: 5s}\nchannels: {q: {kind: qeue}}\n")
    p = exc.value.problems[0]
    assert (p["file"], p["line"]) == ("<yaml>", 4) and p["path"] == "channels.q.kind"
    with pytest.raises(api.ScenarioInvalid, match="has no `=`"):
        api.load(TINY, overrides=["run.duration"])
    with pytest.raises(api.ScenarioInvalid, match="is not a duration"):
        api.run(TINY, duration="ten seconds")
    with pytest.raises(TypeError):
        api.load(42)  # type: ignore[arg-type]


def test_missing_client_library_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiormq", None)  # as if not installed
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "aiormq" else real(name, *a))
    with pytest.raises(api.TransportMissing, match=r"pip install 'evtool\[brokers\]'"):
        api.run(TINY, transport="rabbitmq")


def test_unknown_transport() -> None:
    with pytest.raises(ValueError, match="not one of: local, rabbitmq"):
        api.run(TINY, transport="carrier-pigeon")


def test_cli_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from typer.testing import CliRunner

    from evtool.cli.app import app

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "aiormq" else real(name, *a))
    res = CliRunner().invoke(app, ["run", "retries-dlq-poison", "--transport", "rabbitmq", "--no-record"])
    assert res.exit_code == 2
    assert "needs the aiormq package" in res.output and "pip install 'evtool[brokers]'" in res.output
    assert "No module named" not in res.output


def test_a_recorded_run_returns_before_the_writer_compacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """api.run waits for the committed result, not for the writer's compaction that follows it."""
    from evtool.store.recorder import Recorder

    def no_wait(self: Recorder, timeout: float | None = None) -> bool:
        raise AssertionError("api.run waited for the writer's compaction")

    waited = Recorder.wait
    monkeypatch.setattr(Recorder, "wait", no_wait)
    db = tmp_path / "runs.db"
    r = api.run(TINY, record=True, db=db, keep_trace=False)
    from evtool.store import SyncRunStore

    with SyncRunStore(db) as store:
        _, stored = store.get(r.run_id or "")
    assert stored is not None and stored.digest == r.digest
    assert sum(1 for _ in r.events()) == r.events_count
    monkeypatch.setattr(Recorder, "wait", waited)
