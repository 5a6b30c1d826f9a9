"""The end-of-run report: summary tables, the checks with their evidence, how to re-run.

Rendered from plain data (the dict `run_report` builds), so `evtool run`
prints it at the end and `evtool show RUN` prints the same thing from the
run store.
"""

from __future__ import annotations

import shlex
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from evtool.report.fmt import visible_data

STATUS_STYLE = {"pass": ("✓", "green"), "fail": ("✗", "red"), "unknown": ("?", "yellow")}
OUTCOME_STYLE = {"passed": "bold green", "failed": "bold red", "unknown": "bold yellow",
                 "interrupted": "bold magenta", "crashed": "bold red", "incomplete": "yellow"}


def run_report(*, scenario_id: str, path: str, title: str | None, profile: str, transport: str, seed: int,
               overrides: dict[str, Any], digest: str, virtual_ns: int, events: int, outcome: str, drain: str,
               summary: dict[str, Any], checks: list[dict[str, Any]], run_id: str | None = None,
               wall_s: float | None = None, aborted_by: str | None = None,
               extra_args: tuple[str, ...] = (), notes: list[str] | None = None,
               notes_for: str | None = None, problems: list[str] | None = None) -> dict[str, Any]:
    """Everything the report shows, as plain data (also the `--json` document).

    notes      capability notes: what the broker cannot do of the scenario and what evtool does instead
    notes_for  the transport the notes are about (a local run under a broker's profile gets the notes a
               real run on that broker would)
    problems   broker-side errors seen during a real-broker run
    """
    return {
        "notes": list(notes or []), "notes_for": notes_for, "problems": list(problems or []),
        "scenario": scenario_id, "path": path, "title": title, "profile": profile, "transport": transport,
        "seed": seed, "overrides": overrides, "digest": digest, "virtual_s": round(virtual_ns / 1e9, 6),
        "events": events, "outcome": outcome, "drain": drain, "summary": summary, "checks": checks,
        "run_id": run_id, "wall_s": None if wall_s is None else round(wall_s, 3), "aborted_by": aborted_by,
        "rerun": rerun_command(path, seed, overrides, extra_args),
    }


def rerun_command(path: str, seed: int, overrides: dict[str, Any], extra_args: tuple[str, ...] = ()) -> str:
    """The command that reproduces a run exactly."""
    parts = ["evtool", "run", path, "--seed", str(seed), *extra_args]
    for k, v in overrides.items():
        parts += ["--set", f"{k}={_yaml_scalar(v)}"]
    return " ".join(shlex.quote(p) for p in parts)


def _yaml_scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, list):
        return "[" + ", ".join(_yaml_scalar(x) for x in v) + "]"
    return str(v)


def _ms(v: Any) -> str:
    if v is None:
        return "–"
    if v >= 1000:
        return f"{v / 1000:.2f}s"
    return f"{v:.1f}ms"


def channels_table(summary: dict[str, Any]) -> Table:
    """One row per channel: what went in and where it ended."""
    t = Table(title="Channels", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("channel", "kind", "published", "acked", "dead", "expired", "dropped", "ready", "in flight",
                "delayed"):
        t.add_column(col, justify="left" if col in ("channel", "kind") else "right",
                     no_wrap=col not in ("channel",), min_width=len(col) if col != "channel" else 8)
    for name, c in summary.get("channels", {}).items():
        t.add_row(escape(name), c.get("kind", ""), str(c.get("published", 0)), str(c.get("acked", 0)),
                  _red(c.get("dead_lettered", 0)), str(c.get("expired", 0)), str(c.get("dropped", 0)),
                  str(c.get("ready", 0)), str(c.get("in_flight", 0)), str(c.get("delayed", 0)))
    return t


def _red(n: int) -> str:
    return f"[red]{n}[/red]" if n else "0"


def consumers_table(summary: dict[str, Any]) -> Table:
    """One row per consumer: work done and latency."""
    t = Table(title="Consumers", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("consumer", "instances", "handled", "failed", "p50", "p99", "max"):
        t.add_column(col, justify="left" if col == "consumer" else "right")
    for name, c in summary.get("consumers", {}).items():
        lat = c.get("latency_ms", {})
        t.add_row(escape(name), str(c.get("instances", "")), str(c.get("handled", 0)), _red(c.get("failed", 0)),
                  _ms(lat.get("p50")), _ms(lat.get("p99")), _ms(lat.get("max")))
    return t


def checks_table(checks: list[dict[str, Any]]) -> Table:
    """The expectations with pass / fail / unknown and their evidence."""
    t = Table(title="Checks", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_lines=False)
    t.add_column("", width=1)
    t.add_column("check", no_wrap=True)
    t.add_column("expected")
    t.add_column("observed")
    for c in checks:
        sym, colour = STATUS_STYLE.get(c["status"], ("?", "yellow"))
        observed = escape(str(c.get("observed", "")))
        if c.get("evidence") and c["status"] != "pass":
            observed += f"\n[dim]messages: {escape(', '.join(map(str, c['evidence'][:5])))}[/dim]"
        if c.get("because") and c["status"] != "pass":
            observed += f"\n[dim]because: {escape(c['because'])}[/dim]"
        t.add_row(f"[{colour}]{sym}[/{colour}]", f"[{colour}]{escape(c['name'])}[/{colour}]",
                  escape(str(c.get("expected", ""))), observed)
    return t


def render_report(report: dict[str, Any]) -> RenderableType:
    """The whole end-of-run report as one rich renderable."""
    report = visible_data(report)  # scenario text is input: control characters are shown, never sent
    s = report["summary"]
    parts: list[RenderableType] = []
    head = Text()
    head.append(f"{report['scenario']}", style="bold")
    if report.get("title"):
        head.append(f" — {report['title']}")
    parts.append(head)
    lat = s.get("latency_ms", {})
    line = (f"virtual time {report['virtual_s']:.3f}s · {report['events']:,} events · "
            f"published {s.get('published', 0):,} · acked {s.get('acked', 0):,} · "
            f"dead-lettered {s.get('dead_lettered', 0):,} · retries {s.get('retries', 0):,} · "
            f"latency p50 {_ms(lat.get('p50'))} p99 {_ms(lat.get('p99'))}")
    if report.get("wall_s") is not None:
        line += f" · wall {report['wall_s']:.2f}s"
    parts.append(Text(line, style="dim"))
    if s.get("channels"):
        parts.append(channels_table(s))
    if s.get("consumers"):
        parts.append(consumers_table(s))
    if report["checks"]:
        parts.append(checks_table(report["checks"]))
    else:
        parts.append(Text("no expectations: the run is judged unknown-free but untested", style="yellow"))
    notes = report.get("notes") or []
    if notes:
        where = report.get("notes_for")
        title = ("Notes: what a real run on " + where + " would do differently"
                 if where and report.get("transport") == "local" else "Notes: what the broker cannot do")
        parts.append(Text(title, style="bold yellow"))
        parts.extend(Text(f"  • {n}", style="yellow") for n in notes)
    for p in report.get("problems") or []:
        parts.append(Text(f"problem: {p}", style="red"))
    drain = report.get("drain")
    if drain == "timed_out":
        parts.append(Text("the drain timed out: work was still pending when run.drain.max passed", style="yellow"))
    if report.get("aborted_by"):
        parts.append(Text(f"stopped early: `{report['aborted_by']}` failed with abort: true", style="red"))
    outcome = report["outcome"]
    foot = Text()
    foot.append(f"{outcome.upper()}", style=OUTCOME_STYLE.get(outcome, "bold"))
    foot.append(f"  seed {report['seed']} · profile {report['profile']} · transport {report['transport']} · "
                f"digest {report['digest'][:16]}")
    if report.get("run_id"):
        foot.append(f" · run {report['run_id']}")
    parts.append(foot)
    parts.append(Text(f"re-run: {report['rerun']}", style="dim"))
    return Group(*parts)
