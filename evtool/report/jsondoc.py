"""The `--json` documents of the commands, each with a format name, a version and a committed JSON Schema.

Every document is an object whose first keys are `format` (`evtool.<kind>`) and `version` (an integer, raised
when a field changes meaning or goes away; new fields may appear without it). The schemas live in
`evtool/schemas/<kind>.schema.json` (shipped in the wheel) and `tests/api/test_json_documents.py` validates
each command's output against its schema.

    kind       command
    report     evtool run --json (one run's report: summary, checks, notes, the re-run command)
    problems   evtool run --json when the scenario is invalid
    compare    evtool run --compare ... --json
    runs       evtool runs --json
    show       evtool show --json
    inspect    evtool inspect --json
    diff       evtool diff --json
    explain    evtool explain --json
    lessons    evtool lessons --json
    validate   evtool validate --json
    config     evtool config --json
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

VERSION = 1
KINDS = ("report", "problems", "compare", "runs", "show", "inspect", "diff", "explain", "lessons", "validate",
         "config")
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def document(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """`body` with `format` and `version` first."""
    if kind not in KINDS:
        raise ValueError(f"unknown document kind {kind!r}")
    return {"format": f"evtool.{kind}", "version": VERSION, **body}


def dumps(doc: dict[str, Any]) -> str:
    """The document as indented JSON text."""
    return json.dumps(doc, indent=2, default=str, ensure_ascii=False)


def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of one kind of document."""
    if kind not in KINDS:
        raise ValueError(f"unknown document kind {kind!r}")
    doc: dict[str, Any] = json.loads((SCHEMA_DIR / f"{kind}.schema.json").read_text(encoding="utf-8"))
    return doc


def event_dict(e: Any) -> dict[str, Any]:
    """A trace event as a plain object (`t` in nanoseconds)."""
    return {"t": e.t, "kind": e.kind, "msg": e.msg, "channel": e.channel, "actor": e.actor, "instance": e.instance,
            "key": e.key, "attempt": e.attempt, "tag": e.tag, "data": e.data or {}}


def report_doc(report: dict[str, Any]) -> dict[str, Any]:
    """`evtool run --json`."""
    return document("report", report)


def problems_doc(problems: list[dict[str, Any]]) -> dict[str, Any]:
    """`evtool run --json` for an invalid scenario."""
    return document("problems", {"valid": False, "problems": problems})


def compare_doc(columns: list[dict[str, Any]]) -> dict[str, Any]:
    """`evtool run --compare ... --json`."""
    return document("compare", {"compare": columns})


def runs_doc(rows: list[Any]) -> dict[str, Any]:
    """`evtool runs --json`: one object per run, newest first."""
    out = []
    for r in rows:
        d = asdict(r)
        d["shown_outcome"] = r.shown_outcome
        out.append(d)
    return document("runs", {"runs": out})


def show_doc(header: Any, result: Any, state: str | None, progress: tuple[int, int, int] | None,
             report: dict[str, Any] | None) -> dict[str, Any]:
    """`evtool show --json`: the run's header, its state, and its report when it has ended with one."""
    head = header.to_dict()
    head.pop("scenario_text", None)
    body: dict[str, Any] = {"run": head, "outcome": result.outcome if result is not None else "incomplete",
                            "state": state, "report": report}
    if progress is not None:
        body["progress"] = {"events": progress[0], "messages": progress[1], "virtual_ns": progress[2]}
    return document("show", body)


def inspect_doc(run_id: str, query: dict[str, Any], events: list[Any], limit: int | None,
                caused: list[str] | None = None, note: str | None = None) -> dict[str, Any]:
    """`evtool inspect --json`: the events the query selects, in order."""
    truncated = limit is not None and len(events) > limit
    shown = events[:limit] if limit is not None else events
    body: dict[str, Any] = {"run": run_id, "query": query, "events": [event_dict(e) for e in shown],
                            "truncated": truncated, "note": note}
    if caused is not None:
        body["caused"] = caused
    return document("inspect", body)


def _rows(rows: Any) -> list[dict[str, Any]]:
    return [{"name": r.name, "a": r.a, "b": r.b, "changed": r.changed} for r in rows]


def diff_doc(d: Any) -> dict[str, Any]:
    """`evtool diff --json`: each section's rows (name, value in A, value in B, changed)."""
    def side(s: Any) -> dict[str, Any]:
        return {"id": s.header.id, "scenario": s.header.scenario_id, "seed": s.header.seed,
                "overrides": s.header.overrides, "outcome": s.result.outcome if s.result else "incomplete"}

    sections = {name: _rows(getattr(d, name)) for name in
                ("facts", "checks", "totals", "consumers", "channels", "latency", "dead_letters", "counts")}
    observed = {k: {"a": v[0], "b": v[1]} for k, v in d.observed.items()}
    return document("diff", {"a": side(d.a), "b": side(d.b), "sections": sections, "observed": observed})


def explain_doc(loaded: Any, source: str) -> dict[str, Any]:
    """`evtool explain --json`: the lesson, the topology (who publishes and reads where) and the expectations."""
    sc = loaded.model
    lesson = sc.lesson.model_dump(mode="json") if sc.lesson else None
    channels = {name: {"kind": ch.kind, "dead_letter": getattr(ch, "dead_letter", None),
                       "role": getattr(ch, "role", None)} for name, ch in sc.channels.items()}
    producers = {name: {"to": p.to, "message": p.message} for name, p in sc.producers.items()}
    consumers = {name: {"from": c.from_, "instances": c.instances} for name, c in sc.consumers.items()}
    expect = []
    for e in sc.expect:
        kind = getattr(e, "check", None) or "that"
        expect.append({"name": e.name, "check": kind, "that": getattr(e, "that", None), "because": e.because})
    return document("explain", {
        "id": sc.id, "source": source, "description": sc.description, "profile": sc.broker.profile,
        "seed": sc.run.seed, "lesson": lesson, "channels": channels, "producers": producers,
        "consumers": consumers, "patterns": sorted(sc.patterns) if isinstance(sc.patterns, dict) else [],
        "expect": expect,
    })


def lessons_doc(infos: list[Any]) -> dict[str, Any]:
    """`evtool lessons --json`."""
    return document("lessons", {"lessons": [
        {"id": i.id, "title": i.title, "level": i.level, "concepts": list(i.concepts), "summary": i.summary,
         "prerequisites": list(i.prerequisites), "path": str(i.path)} for i in infos]})


def validate_doc(valid: bool, files: list[dict[str, Any]]) -> dict[str, Any]:
    """`evtool validate --json`."""
    return document("validate", {"valid": valid, "files": files})


def config_doc(cfg: Any) -> dict[str, Any]:
    """`evtool config --json`: each setting's effective value (secrets redacted) and where it came from."""
    return document("config", {"file": str(cfg.file) if cfg.file else None, "settings": {
        name: {"value": s.shown if s.secret else (str(s.value) if s.value is not None else None),
               "source": s.source} for name, s in cfg.settings.items()}})
