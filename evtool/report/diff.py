"""`evtool diff RUN_A RUN_B`: two runs side by side — checks, counts, latency percentiles, dead letters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from evtool.core.events import TraceEvent
from evtool.store.model import RunHeader, RunResult
from evtool.store.runstore import SyncRunStore

STATUS_STYLE = {"pass": "green", "fail": "red", "unknown": "yellow", None: "dim"}


@dataclass(frozen=True)
class RunSide:
    """One run as the diff sees it."""

    header: RunHeader
    result: RunResult | None
    dead_reasons: dict[str, int]  # reason -> count of dead_lettered events


@dataclass(frozen=True)
class Row:
    """One compared quantity: its name, value in A, value in B, and whether they differ."""

    name: str
    a: str | int | float | None
    b: str | int | float | None

    @property
    def changed(self) -> bool:
        """True when A and B differ."""
        return self.a != self.b


@dataclass(frozen=True)
class RunDiff:
    """The comparison: facts, checks (by name), counts by kind, latency percentiles, dead letters."""

    a: RunSide
    b: RunSide
    facts: tuple[Row, ...]
    checks: tuple[Row, ...]
    counts: tuple[Row, ...]
    latency: tuple[Row, ...]
    dead_letters: tuple[Row, ...]


def run_side(header: RunHeader, result: RunResult | None, dead_letters: Iterable[TraceEvent] = ()) -> RunSide:
    """Build one side from a stored run and its dead_lettered events."""
    reasons = Counter(str((e.data or {}).get("reason", "?")) for e in dead_letters)
    return RunSide(header, result, dict(sorted(reasons.items())))


def _counts(result: RunResult | None) -> dict[str, int]:
    if result is None:
        return {}
    summary = result.summary
    for key in ("kinds", "counts", "by_kind"):
        value = summary.get(key)
        if isinstance(value, dict):
            return {str(k): int(v) for k, v in value.items()}
    return {}


def _latency(result: RunResult | None) -> dict[str, float]:
    if result is None:
        return {}
    lat = result.summary.get("latency_ms") or {}
    if lat and all(not isinstance(v, dict) for v in lat.values()):
        lat = {"overall": lat}
    return {f"{who} {p}": float(v[p]) for who, v in lat.items() if isinstance(v, dict)
            for p in ("p50", "p90", "p99", "max") if v.get(p) is not None}


def diff_runs(a: RunSide, b: RunSide) -> RunDiff:
    """Compare two runs quantity by quantity (names present in either run appear once)."""
    ra, rb = a.result, b.result
    facts = (
        Row("scenario", a.header.scenario_id, b.header.scenario_id),
        Row("scenario hash", a.header.scenario_hash[:12], b.header.scenario_hash[:12]),
        Row("seed", a.header.seed, b.header.seed),
        Row("profile", a.header.profile, b.header.profile),
        Row("transport", a.header.transport, b.header.transport),
        Row("outcome", ra.outcome if ra else "incomplete", rb.outcome if rb else "incomplete"),
        Row("messages", ra.messages if ra else None, rb.messages if rb else None),
        Row("events", ra.events if ra else None, rb.events if rb else None),
        Row("virtual ns", ra.virtual_ns if ra else None, rb.virtual_ns if rb else None),
        Row("digest", ra.digest[:16] if ra else None, rb.digest[:16] if rb else None),
    )
    ca = {c["name"]: c.get("status") for c in (ra.checks if ra else [])}
    cb = {c["name"]: c.get("status") for c in (rb.checks if rb else [])}
    checks = tuple(Row(n, ca.get(n), cb.get(n)) for n in dict.fromkeys([*ca, *cb]))
    ka, kb = _counts(ra), _counts(rb)
    counts = tuple(Row(k, ka.get(k, 0), kb.get(k, 0)) for k in sorted(set(ka) | set(kb)))
    la, lb = _latency(ra), _latency(rb)
    latency = tuple(Row(k, la.get(k), lb.get(k)) for k in dict.fromkeys([*la, *lb]))
    dead = (Row("total", sum(a.dead_reasons.values()), sum(b.dead_reasons.values())),
            *(Row(f"reason {r}", a.dead_reasons.get(r, 0), b.dead_reasons.get(r, 0))
              for r in sorted(set(a.dead_reasons) | set(b.dead_reasons))))
    return RunDiff(a, b, facts, checks, counts, latency, tuple(dead))


def _delta(row: Row) -> Text:
    if not row.changed:
        return Text("")
    if isinstance(row.a, (int, float)) and isinstance(row.b, (int, float)) and not isinstance(row.a, bool):
        d = row.b - row.a
        pct = f" ({d / row.a:+.0%})" if row.a else ""
        text = f"{d:+,.3f}".rstrip("0").rstrip(".") if isinstance(d, float) else f"{d:+,}"
        return Text(text + pct, style="yellow")
    return Text("changed", style="yellow")


def _section(title: str, rows: Iterable[Row], a_id: str, b_id: str, status: bool = False) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", box=None, header_style="bold dim")
    table.add_column("")
    table.add_column(f"A {a_id}", justify="right")
    table.add_column(f"B {b_id}", justify="right")
    table.add_column("Δ", justify="right")
    for row in rows:
        if status:
            cells = [Text(str(v or "—"), style=STATUS_STYLE.get(v if isinstance(v, str) else None, ""))
                     for v in (row.a, row.b)]
        else:
            cells = [Text("—" if v is None else f"{v:,}" if isinstance(v, int) else str(v)) for v in (row.a, row.b)]
        table.add_row(Text(row.name, style="bold" if row.changed else ""), *cells, _delta(row))
    return table


def render_diff(d: RunDiff, only_changed: bool = False) -> RenderableType:
    """The diff as rich tables (with `only_changed`, rows equal in both runs are left out)."""
    a_id, b_id = d.a.header.id, d.b.header.id

    def keep(rows: tuple[Row, ...]) -> list[Row]:
        return [r for r in rows if r.changed or not only_changed]

    parts: list[RenderableType] = []
    for title, rows, status in (("Run", d.facts, False), ("Checks", d.checks, True), ("Dead letters", d.dead_letters, False),
                                ("Latency (ms)", d.latency, False), ("Events by kind", d.counts, False)):
        kept = keep(rows)
        if kept:
            parts += [_section(title, kept, a_id, b_id, status), Text("")]
    return Group(*parts) if parts else Text("the two runs do not differ", style="green")


def diff_stored(store: SyncRunStore, run_a: str, run_b: str) -> RunDiff:
    """Load two stored runs and compare them."""
    sides = []
    for run_id in (run_a, run_b):
        header, result = store.get(run_id)
        sides.append(run_side(header, result, store.events(run_id, kinds=["dead_lettered"])))
    return diff_runs(sides[0], sides[1])
