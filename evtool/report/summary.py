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

from evtool.report.fmt import Packed, retries_label, set_argument, visible_data
from evtool.report.presentation import check_status, latency_ms, outcome_headline_style


def run_report(*, scenario_id: str, path: str, title: str | None, profile: str, transport: str, seed: int,
               overrides: dict[str, Any], digest: str, virtual_ns: int, events: int, outcome: str, drain: str,
               summary: dict[str, Any], checks: list[dict[str, Any]], run_id: str | None = None,
               wall_s: float | None = None, aborted_by: str | None = None,
               extra_args: tuple[str, ...] = (), notes: list[str] | None = None,
               notes_for: str | None = None, problems: list[str] | None = None,
               limit: str | None = None) -> dict[str, Any]:
    """Everything the report shows, as plain data (also the `--json` document).

    notes      capability notes: what the broker cannot do of the scenario and what evtool does instead
    notes_for  the transport the notes are about (a local run under a broker's profile gets the notes a
               real run on that broker would)
    problems   broker-side errors seen during a real-broker run
    limit      the budget that stopped the run, with its override (None when none did)
    """
    return {
        "notes": list(notes or []), "notes_for": notes_for, "problems": list(problems or []),
        "scenario": scenario_id, "path": path, "title": title, "profile": profile, "transport": transport,
        "seed": seed, "overrides": overrides, "digest": digest, "virtual_s": round(virtual_ns / 1e9, 6),
        "events": events, "outcome": outcome, "drain": drain, "summary": summary, "checks": checks,
        "run_id": run_id, "wall_s": None if wall_s is None else round(wall_s, 3), "aborted_by": aborted_by,
        "rerun": rerun_command(path, seed, overrides, extra_args), "limit": limit,
    }


def rerun_command(path: str, seed: int, overrides: dict[str, Any], extra_args: tuple[str, ...] = ()) -> str:
    """The command that reproduces a run exactly (values in YAML flow style, readable and copyable)."""
    parts = [shlex.quote(p) for p in ["evtool", "run", path, "--seed", str(seed), *extra_args]]
    parts += [set_argument(k, v) for k, v in overrides.items()]
    return " ".join(parts)


_CHANNEL_COLUMNS = ("channel", "kind", "published", "acked", "dead", "expired", "dropped", "ready", "in flight",
                    "delayed")
_CHANNEL_DROP_ORDER = ("kind", "expired", "delayed", "dropped", "in flight", "ready")
"""The columns a narrow terminal gives up first; the channel name is never cut."""


class _ChannelsTable:
    """The Channels table, fitted to the width it is rendered at: the name stays whole, and the least
    important columns go first (80 columns and pipes included)."""

    def __init__(self, summary: dict[str, Any]) -> None:
        self.rows = []
        for name, c in summary.get("channels", {}).items():
            self.rows.append((escape(name), c.get("kind", ""), str(c.get("published", 0)), str(c.get("acked", 0)),
                              str(c.get("dead_lettered", 0)), str(c.get("expired", 0)), str(c.get("dropped", 0)),
                              str(c.get("ready", 0)), str(c.get("in_flight", 0)), str(c.get("delayed", 0))))

    def table(self, max_width: int) -> Table:
        """The table with as many columns as fit in `max_width`."""
        widths = {col: max([len(col)] + [len(Text.from_markup(r[i], emoji=False).plain) if i == 0 else len(r[i])
                                         for r in self.rows])
                  for i, col in enumerate(_CHANNEL_COLUMNS)}
        keep = list(_CHANNEL_COLUMNS)
        for col in _CHANNEL_DROP_ORDER:
            if sum(widths[c] for c in keep) + 3 * (len(keep) - 1) + 2 <= max_width:  # padding, rules, edges
                break
            keep.remove(col)
        t = Table(title="Channels", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        for col in keep:
            t.add_column(col, justify="left" if col in ("channel", "kind") else "right", no_wrap=True,
                         min_width=widths[col] if col == "channel" else len(col))
        idx = [_CHANNEL_COLUMNS.index(c) for c in keep]
        for r in self.rows:
            t.add_row(*(_red(int(r[i])) if _CHANNEL_COLUMNS[i] == "dead" else r[i] for i in idx))
        return t

    def __rich_console__(self, console: Any, options: Any) -> Any:
        yield self.table(options.max_width)


def channels_table(summary: dict[str, Any]) -> Any:
    """One row per channel: what went in and where it ended (fitted to the terminal's width)."""
    return _ChannelsTable(summary)


def _red(n: int) -> str:
    return f"[red]{n}[/red]" if n else "0"


def consumers_table(summary: dict[str, Any]) -> Table:
    """One row per consumer: work done and latency."""
    t = Table(title="Consumers", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    longest = max([8] + [len(n) for n in summary.get("consumers", {})])
    for col in ("consumer", "instances", "handled", "failed", "p50", "p99", "max"):
        if col == "consumer":   # the identifying column stays whole; the numbers give way first
            t.add_column(col, justify="left", no_wrap=True, min_width=longest)
        else:
            t.add_column(col, justify="right")
    for name, c in summary.get("consumers", {}).items():
        lat = c.get("latency_ms", {})
        t.add_row(escape(name), str(c.get("instances", "")), str(c.get("handled", 0)), _red(c.get("failed", 0)),
                  latency_ms(lat.get("p50")), latency_ms(lat.get("p99")), latency_ms(lat.get("max")))
    return t


def lesson_facts_parts(facts: dict[str, Any]) -> list[RenderableType]:
    """What the run showed about its concept: instances, groups and their lag, sagas, rebalances, projections."""
    from evtool.report.facts import MAX_INSTANCE_ROWS

    parts: list[RenderableType] = []
    rows = facts.get("instances") or []
    if rows:
        t = Table(title="Instances (competing for the same messages)", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False)
        longest = max([8] + [len(r["consumer"]) for r in rows])
        t.add_column("consumer", no_wrap=True, min_width=longest)
        for col in ("instance", "handled", "failed", "share"):
            t.add_column(col, justify="right", no_wrap=True)
        totals: dict[str, int] = {}
        for r in rows:
            totals[r["consumer"]] = totals.get(r["consumer"], 0) + r["handled"]
        per_consumer: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            per_consumer.setdefault(r["consumer"], []).append(r)
        for name, rs in per_consumer.items():
            if len(rs) > MAX_INSTANCE_ROWS:
                hs = [r["handled"] for r in rs]
                t.add_row(escape(name), f"{len(rs)} instances", f"{min(hs)}–{max(hs)}",
                          _red(sum(r["failed"] for r in rs)), "")
                continue
            for r in rs:
                share = f"{100 * r['handled'] / totals[name]:.0f}%" if totals[name] else "–"
                t.add_row(escape(name), f"#{r['instance']}" if r["instance"] >= 0 else "–", str(r["handled"]),
                          _red(r["failed"]), share)
        parts.append(t)
    groups = facts.get("groups") or []
    if groups:
        t = Table(title="Groups (each gets every message; behind: not yet done)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
        t.add_column("channel", no_wrap=True, min_width=max([7] + [len(g["channel"]) for g in groups]))
        t.add_column("group", no_wrap=True, min_width=max([5] + [len(g["group"]) for g in groups]))
        for col in ("done", "max behind", "at", "at end"):  # "at end": how far behind at the end
            t.add_column(col, justify="right", no_wrap=True)
        for g in groups:
            t.add_row(escape(g["channel"]), escape(g["group"]), str(g["done"]), str(g["max_lag"]),
                      f"{g['max_lag_at_s']:.1f}s", _red(g["lag_at_end"]) if g["lag_at_end"] > 0 else "0")
        parts.append(t)
    for name, c in (facts.get("sagas") or {}).items():
        parts.append(Text.from_markup(
            f"[bold]Saga[/bold] {escape(name)}: {c.get('started', 0)} started · {c.get('completed', 0)} completed · "
            f"{c.get('compensated', 0)} compensated · " + _red_text(c.get("stuck", 0), "stuck"), emoji=False))
    for group, c in (facts.get("rebalances") or {}).items():
        parts.append(Text.from_markup(
            f"[bold]Rebalances[/bold] of {escape(group)}: {c['rebalances']} · partitions moved (revoked) "
            f"{c['partitions_revoked']} · assigned {c['partitions_assigned']}", emoji=False))
    for name, p in (facts.get("projections") or {}).items():
        lag_ms = f" ({latency_ms(p['max_lag_ms'])})" if p.get("max_lag_ms") else ""
        parts.append(Text.from_markup(
            f"[bold]Projection[/bold] {escape(name)}: lag max {p['max_lag']} events{lag_ms}, at the end "
            f"{p['lag']} · {p['stale_reads']} stale reads · {p['rebuilds']} rebuild(s) · {p['updates']} updates",
            emoji=False))
    return parts


def _red_text(n: int, what: str) -> str:
    return f"[red]{n} {what}[/red]" if n else f"0 {what}"


CHECKS_WIDE = 110
"""Below this width the checks are always stacked: each check on its line, expected and observed under it."""


def _observed_markup(c: dict[str, Any]) -> str:
    observed = escape(str(c.get("observed", "")))
    if c.get("evidence") and c["status"] != "pass":
        observed += f"\n[dim]messages: {escape(', '.join(map(str, c['evidence'][:5])))}[/dim]"
    if c.get("because") and c["status"] != "pass":
        observed += f"\n[dim]because: {escape(c['because'])}[/dim]"
    return observed


def _observed_lines(c: dict[str, Any]) -> list[str]:
    return [str(c.get("observed", "")), *(["messages: " + ", ".join(map(str, c["evidence"][:5]))]
                                           if c.get("evidence") and c["status"] != "pass" else [])]


class ChecksView:
    """The expectations with pass / fail / unknown and their evidence, laid out for the width it gets."""

    def __init__(self, checks: list[dict[str, Any]]) -> None:
        self.checks = checks

    def __rich_console__(self, console: Any, options: Any) -> Any:
        # a table only when every name and expression fits on one line of its column: never folded
        widths = [max((len(str(c.get(k, ""))) for c in self.checks), default=0) for k in ("name", "expected")]
        observed = max((len(line) for c in self.checks for line in _observed_lines(c)), default=0)
        fits = 1 + 3 + widths[0] + 3 + widths[1] + 3 + observed <= options.max_width
        yield self.table() if options.max_width >= CHECKS_WIDE and fits else self.stacked()

    def table(self) -> Table:
        t = Table(title="Checks", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_lines=False)
        t.add_column("", width=1)
        t.add_column("check", no_wrap=True)
        t.add_column("expected", no_wrap=True)  # chosen only when it fits (see __rich_console__)
        t.add_column("observed", overflow="fold")
        for c in self.checks:
            sym, colour = check_status(c["status"])
            t.add_row(f"[{colour}]{sym}[/{colour}]", f"[{colour}]{escape(c['name'])}[/{colour}]",
                      escape(str(c.get("expected", ""))), _observed_markup(c))
        return t

    def stacked(self) -> Group:
        parts: list[RenderableType] = [Text("Checks", style="italic")]
        for c in self.checks:
            sym, colour = check_status(c["status"])
            parts.append(Text.from_markup(f"[{colour}]{sym} {escape(c['name'])}[/{colour}]", emoji=False))
            grid = Table.grid(padding=(0, 1))
            grid.add_column(width=2)
            grid.add_column(style="dim", no_wrap=True)
            grid.add_column(overflow="fold")
            grid.add_row("", "expected", escape(str(c.get("expected", ""))))
            grid.add_row("", "observed", _observed_markup(c))
            parts.append(grid)
        return Group(*parts)


def checks_table(checks: list[dict[str, Any]]) -> ChecksView:
    """The expectations with pass / fail / unknown and their evidence (a table when wide, stacked when not)."""
    return ChecksView(checks)


def unknown_reason(report: dict[str, Any]) -> str | None:
    """Why a run ended undecided (or with its drain cut short), in one line; None when it did not."""
    s = report.get("summary") or {}
    if report.get("drain") == "timed_out":
        pending = []
        for name, c in (s.get("channels") or {}).items():
            held = [(c.get(k, 0), w) for k, w in (("ready", "ready"), ("in_flight", "in flight"),
                                                  ("delayed", "delayed")) if c.get(k, 0)]
            if held:
                pending.append(f"{name}: " + ", ".join(f"{n} {w}" for n, w in held))
        total = sum(c.get(k, 0) for c in (s.get("channels") or {}).values() for k in ("ready", "in_flight", "delayed"))
        where = f" ({'; '.join(pending)})" if pending else ""
        return (f"the drain timed out: {total} message(s) still pending when run.drain.max "
                f"passed{where}")
    if report.get("outcome") == "unknown":
        undecided = [c for c in report.get("checks") or [] if c.get("status") == "unknown"]
        if report.get("limit"):
            return None  # `stopped early: …` says it
        if undecided:
            c = undecided[0]
            more = f" (and {len(undecided) - 1} more)" if len(undecided) > 1 else ""
            return f"undecided because `{c['name']}` could not be decided: {c.get('observed', '')}{more}"
    return None


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
            f"dead-lettered {s.get('dead_lettered', 0):,} · {retries_label(s)} {s.get('retries', 0):,}")
    if s.get("duplicates_skipped"):  # the idempotent consumer's point: repeats recognised and not applied again
        line += f" · duplicates skipped {s['duplicates_skipped']:,}"
    if lat.get("p50") is not None:  # a run without consumer latencies (a projection, a saga) says nothing here
        line += f" · latency p50 {latency_ms(lat.get('p50'))} p99 {latency_ms(lat.get('p99'))}"
    if report.get("wall_s") is not None:
        line += f" · wall {report['wall_s']:.2f}s"
    parts.append(Text(line, style="dim"))
    for sentence in (s.get("retry_presets") or {}).get("lines") or []:  # a framework preset, in its own words
        parts.append(Text(f"retry  {sentence}", style="cyan"))
    if s.get("channels"):
        parts.append(channels_table(s))
    if s.get("consumers"):
        parts.append(consumers_table(s))
    if s.get("lesson_facts"):
        parts.extend(lesson_facts_parts(s["lesson_facts"]))
    if report.get("steps"):
        from evtool.report.narration import steps_parts

        parts.extend(steps_parts(report["steps"]))
    if report["checks"]:
        parts.append(checks_table(report["checks"]))
    else:
        parts.append(Text("no expectations: nothing was checked (an `expect:` block says what must hold)",
                          style="yellow"))
    notes = report.get("notes") or []
    if notes:
        where = report.get("notes_for")
        title = ("Notes: what a real run on " + where + " would do differently"
                 if where and report.get("transport") == "local" else "Notes: what the broker cannot do")
        parts.append(Text(title, style="bold yellow"))
        parts.extend(Text(f"  • {n}", style="yellow") for n in notes)
    for p in report.get("problems") or []:
        parts.append(Text(f"problem: {p}", style="red"))
    why = unknown_reason(report)
    if why:
        parts.append(Text(why, style="yellow"))
    if report.get("limit"):
        parts.append(Text(f"stopped early: {report['limit']}", style="yellow"))
    if report.get("aborted_by"):
        parts.append(Text(f"stopped early: `{report['aborted_by']}` failed with abort: true", style="red"))
    outcome = report["outcome"]
    # ids and the digest are copied: each item stays whole, a narrow terminal gets them on more lines
    facts = [f"seed {report['seed']}", f"profile {report['profile']}", f"transport {report['transport']}",
             f"digest {report['digest'][:16]}", *([f"run {report['run_id']}"] if report.get("run_id") else [])]
    headline = Text(outcome.upper(), style=outcome_headline_style(outcome))
    headline.append(f"  {facts[0]}", style="")
    parts.append(Packed([headline, *(Text(f) for f in facts[1:])], sep=" · "))
    # a command to copy is one line, whatever the width (the terminal may fold it; a copy stays whole)
    parts.append(Text(f"re-run: {report['rerun']}", style="dim", no_wrap=True, overflow="ignore"))
    return Group(*parts)
