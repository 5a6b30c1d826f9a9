"""`evtool runs` and `evtool show RUN`: the list of recorded runs, and one run's facts and checks."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from evtool.report.fmt import fmt_duration, fmt_override, text, visible
from evtool.report.presentation import OUTCOME_STYLE, STATUS_COLOUR
from evtool.store.model import RunHeader, RunResult, RunRow


def trace_note(header: RunHeader, result: RunResult | None, state: str | None = None) -> str | None:
    """A sentence when a run's stored trace is not the whole run, else None.

    `state` is `running` or `died` for a run without a result (`RunStore.state`).
    """
    if header.record_mode != "full":
        return None
    if result is None:
        if state == "running":
            return "the run is still recording: its trace holds what was committed so far"
        return "the trace is partial: the run's process died before the run ended (it holds what was committed)"
    if result.outcome == "partial":
        record = result.summary.get("record") if isinstance(result.summary, dict) else None
        of = ""
        if isinstance(record, dict) and record.get("events_run") is not None:
            of = f" of the run's {int(record['events_run']):,}"
        return (f"the trace is partial: the recorder's writer stopped, so it holds {result.events:,}{of} events"
                + (f" ({record['error']})" if isinstance(record, dict) and record.get("error") else ""))
    return None


def render_runs(rows: Sequence[RunRow], width: int | None = None,
                quiz: dict[str, str] | None = None) -> RenderableType:
    """The runs table: id, when, scenario, seed, overrides, outcome, checks, messages, virtual duration.

    Below 110 columns the overrides are left out (`evtool show RUN` has them, a `*` marks them) and, if
    need be, the virtual time, the messages, the start and the seed: the run and scenario ids stay whole. `quiz` (run id -> ``2/3``), when it has any
    score, adds a column with the lesson quiz answered in the dashboard during the run.
    """
    quiz = quiz or {}
    if not rows:
        return Text("no recorded runs match (`evtool run SCENARIO` records one)", style="yellow")
    if width is None:
        from rich.console import Console

        width = Console().width
    if width < 110:
        return _narrow_runs(rows, quiz, width)
    table = Table(box=None, header_style="bold dim")
    for col, justify in (("run", "left"), ("when (UTC)", "left"), ("scenario", "left"), ("seed", "right"),
                         ("overrides", "left"), ("outcome", "left"), ("checks", "right"), ("messages", "right"),
                         ("virtual", "right"), *((("quiz", "right"),) if quiz else ())):
        # Only the free-text columns wrap; the rest keep one line so rows stay readable.
        wraps = col in ("scenario", "overrides")
        table.add_column(col, justify=justify, overflow="fold", no_wrap=not wraps,  # type: ignore[arg-type]
                         min_width={"overrides": 16, "scenario": 12}.get(col))
    for r in rows:
        checks = f"{r.checks_passed}/{r.checks_total}" if r.checks_total else ""
        outcome = Text(r.shown_outcome, style=OUTCOME_STYLE.get(r.shown_outcome, ""))
        if r.record_mode != "full":
            outcome.append(" (no trace)", style="dim")
        table.add_row(r.id, r.started_at[:16].replace("T", " "), text(r.scenario_id), str(r.seed),
                      Text("\n".join(visible(fmt_override(k, v)) for k, v in r.overrides.items()), style="cyan"),
                      outcome,
                      Text(checks, style="green" if r.checks_passed == r.checks_total else "red"),
                      f"{r.messages:,}", fmt_duration(r.virtual_ns), *((quiz.get(r.id, ""),) if quiz else ()))
    return table


NARROW_DROP_ORDER = ("virtual", "msgs", "when (UTC)", "seed", "quiz", "checks")
"""Below 110 columns, the columns left out first when the table does not fit: never `run` or `scenario`."""


def _narrow_runs(rows: Sequence[RunRow], quiz: dict[str, str] | None = None, width: int = 80) -> RenderableType:
    """The runs table in `width` columns: the run id and the scenario id stay whole (a copyable id), and
    the least important columns are left out until the rest fits."""
    quiz = quiz or {}
    cells: dict[str, list[Text]] = {name: [] for name in ("run", "when (UTC)", "scenario", "seed", "outcome",
                                                          "checks", "msgs", "virtual", "quiz")}
    for r in rows:
        checks = f"{r.checks_passed}/{r.checks_total}" if r.checks_total else ""
        outcome = Text(r.shown_outcome, style=OUTCOME_STYLE.get(r.shown_outcome, ""))
        if r.overrides:
            outcome.append(" *", style="cyan")
        cells["run"].append(Text(r.id))
        cells["when (UTC)"].append(Text(r.started_at[5:16].replace("T", " ")))
        cells["scenario"].append(text(r.scenario_id))
        cells["seed"].append(Text(str(r.seed)))
        cells["outcome"].append(outcome)
        cells["checks"].append(Text(checks, style="green" if r.checks_passed == r.checks_total else "red"))
        cells["msgs"].append(Text(f"{r.messages:,}"))
        cells["virtual"].append(Text(fmt_duration(r.virtual_ns)))
        cells["quiz"].append(Text(quiz.get(r.id, "")))
    columns = [c for c in cells if c != "quiz" or quiz]

    def need(col: str) -> int:
        return max(len(col), *(t.cell_len for t in cells[col]))

    for col in NARROW_DROP_ORDER:
        if sum(need(c) + 1 for c in columns) - 1 <= width:
            break
        if col in columns:
            columns.remove(col)
    table = Table(box=None, header_style="bold dim", pad_edge=False, padding=(0, 1, 0, 0))
    for col in columns:
        right = col in ("seed", "checks", "msgs", "virtual", "quiz")
        # an id too long for the terminal folds onto a second line; it is never cut
        table.add_column(col, justify="right" if right else "left", no_wrap=col != "scenario",
                         overflow="fold", min_width=need(col) if col != "scenario" else min(need(col), 24))
    for i in range(len(rows)):
        table.add_row(*(cells[col][i] for col in columns))
    return table


def render_checks(checks: Sequence[dict[str, object]]) -> RenderableType:
    """The checks: status, name, expected, observed, why, evidence."""
    if not checks:
        return Text("no expectations", style="dim")
    table = Table(box=None, header_style="bold dim")
    for col in ("", "check", "expected", "observed", "evidence"):
        table.add_column(col)
    for c in checks:
        status = str(c.get("status", "unknown"))
        name = text(c.get("name", ""))
        if c.get("because"):
            name.append("\n" + visible(c["because"], multiline=True), style="dim")
        evidence = list(c.get("evidence") or [])  # type: ignore[call-overload]
        ev = ", ".join(map(str, evidence[:5])) + (f" +{len(evidence) - 5}" if len(evidence) > 5 else "")
        table.add_row(text(status, STATUS_COLOUR.get(status, "")), name, text(c.get("expected", ""), multiline=True),
                      text(c.get("observed", ""), multiline=True), text(ev))
    return table


def render_show(header: RunHeader, result: RunResult | None,
                progress: tuple[int, int, int] | None = None, state: str | None = None) -> RenderableType:
    """`evtool show RUN` for a run without a summary: its facts, what was recorded so far, its checks.

    `progress` is (events, published messages, last virtual time) committed so far; `state` is
    `running` or `died` for a run without a result.
    """
    outcome = result.outcome if result is not None else "incomplete" + (f" ({state})" if state else "")
    head = Text.assemble((f"run {header.id}", "bold"), "  ", (outcome, OUTCOME_STYLE.get(state or outcome, "")),
                         f"  {visible(header.lesson_title or header.scenario_id)}")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="dim")
    facts.add_column()
    rows = [("scenario", f"{header.scenario_id} ({header.scenario_path})"), ("seed", str(header.seed)),
            ("profile", header.profile), ("transport", header.transport), ("started", header.started_at),
            ("record", header.record_mode)]
    if header.overrides:
        rows.append(("overrides", " ".join(f"--set {fmt_override(k, v)}" for k, v in header.overrides.items())))
    if result is not None:
        rows += [("ended", result.ended_at), ("virtual time", fmt_duration(result.virtual_ns)),
                 ("messages", f"{result.messages:,}"), ("events", f"{result.events:,}"),
                 ("digest", result.digest)]
        drain = result.summary.get("drain")
        if drain:
            rows.append(("drain", str(drain)))
    else:
        rows.append(("result", "none yet: the run is still recording" if state == "running" else
                     "none: the run's process died before the run ended" if state == "died" else
                     "none: the run is still open, or its process was killed"))
        if progress is not None:
            rows.append(("recorded so far", f"{progress[0]:,} events, {progress[1]:,} messages published, "
                                            f"up to {fmt_duration(progress[2])} of virtual time"))
    note = trace_note(header, result, state)
    if note is not None and result is not None:
        rows.append(("trace", note))
    for k, v in rows:
        facts.add_row(k, text(v))
    parts: list[RenderableType] = [head, facts, Text("")]
    if result is not None:
        parts += [Text("checks", style="bold"), render_checks(result.checks)]
    return Group(*parts)
