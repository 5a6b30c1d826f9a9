"""`evtool diff RUN_A RUN_B`: two runs side by side — checks, counts, latency percentiles, dead letters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from evtool.core.events import TraceEvent
from evtool.report.fmt import fmt_override, text, visible
from evtool.report.presentation import STATUS_COLOUR
from evtool.store.codec import dumps
from evtool.store.model import RunHeader, RunResult
from evtool.store.runstore import SyncRunStore


@dataclass(frozen=True)
class RunSide:
    """One run as the diff sees it."""

    header: RunHeader
    result: RunResult | None
    dead_reasons: dict[str, int]  # "reason X" and "from → to" -> count of dead_lettered events


@dataclass(frozen=True)
class Row:
    """One compared quantity: its name, value in A, value in B, and whether they differ."""

    name: str
    a: str | int | float | None
    b: str | int | float | None
    quantity: bool = True  # False: a number that names something (a seed): Δ says "changed", not +2 (+29%)

    @property
    def changed(self) -> bool:
        """True when A and B differ."""
        return self.a != self.b


@dataclass(frozen=True)
class RunDiff:
    """The comparison, section by section; each section is a tuple of rows."""

    a: RunSide
    b: RunSide
    facts: tuple[Row, ...]
    checks: tuple[Row, ...]
    totals: tuple[Row, ...]
    consumers: tuple[Row, ...]
    channels: tuple[Row, ...]
    latency: tuple[Row, ...]
    dead_letters: tuple[Row, ...]
    counts: tuple[Row, ...]
    observed: dict[str, tuple[str, str]] = field(default_factory=dict)  # check name -> observed in A, in B

    def sections(self) -> tuple[tuple[str, tuple[Row, ...], bool], ...]:
        """(title, rows, rows are check statuses) in display order."""
        return (("Run", self.facts, False), ("Checks", self.checks, True), ("Totals", self.totals, False),
                ("Consumers", self.consumers, False), ("Latency, publish to handled (ms)", self.latency, False),
                ("Dead letters", self.dead_letters, False), ("Channels at the end", self.channels, False),
                ("Events by kind", self.counts, False))


def run_side(header: RunHeader, result: RunResult | None, dead_letters: Iterable[TraceEvent] = ()) -> RunSide:
    """Build one side from a stored run and its dead_lettered events (reasons and routes are counted)."""
    reasons: Counter[str] = Counter()
    for e in dead_letters:
        data = e.data or {}
        reasons[f"reason {data.get('reason', '?')}"] += 1
        reasons[f"{e.channel} → {data.get('target', '?')}"] += 1
    return RunSide(header, result, dict(sorted(reasons.items())))


def _summary(result: RunResult | None) -> dict[str, Any]:
    return result.summary if result is not None else {}


def _counts(result: RunResult | None) -> dict[str, int]:
    summary = _summary(result)
    for key in ("counts", "kinds"):
        value = summary.get(key)
        if isinstance(value, dict):
            return {str(k): int(v) for k, v in value.items()}
    return {}


PERCENTILES = ("p50", "p90", "p99", "max")
TOTALS = (("published", "published"), ("acked", "acked"), ("dead_lettered", "dead-lettered"),
          ("retries", "retries"), ("redelivered", "redelivered"), ("duplicates_skipped", "duplicates skipped"),
          ("throughput_per_s", "acked per second"))
CHANNEL_FIELDS = ("published", "acked", "dead_lettered", "expired", "dropped", "ready")


def _flat(result: RunResult | None) -> dict[str, dict[str, Any]]:
    """Every compared quantity of one run, by section, as name -> value."""
    summary = _summary(result)
    totals = {label: summary.get(key) for key, label in TOTALS if summary.get(key) is not None}
    consumers: dict[str, Any] = {}
    for name, c in (summary.get("consumers") or {}).items():
        consumers[f"{name} handled"] = c.get("handled")
        consumers[f"{name} failed"] = c.get("failed")
        consumers[f"{name} instances"] = c.get("instances")
        for k, v in (c.get("state") or {}).items():
            consumers[f"{name} state.{k}"] = v if isinstance(v, int | float | str) or v is None else dumps(v)
    latency: dict[str, Any] = {}
    overall = summary.get("latency_ms") or {}
    if isinstance(overall, dict) and all(not isinstance(v, dict) for v in overall.values()):
        latency.update({f"all {p}": overall.get(p) for p in PERCENTILES if overall.get(p) is not None})
    for name, c in (summary.get("consumers") or {}).items() if len(summary.get("consumers") or {}) > 1 else ():
        lat = c.get("latency_ms") or {}
        latency.update({f"{name} {p}": lat.get(p) for p in PERCENTILES if lat.get(p) is not None})
    channels = {f"{name} {f.replace('_', ' ')}": ch.get(f, 0)
                for name, ch in (summary.get("channels") or {}).items() for f in CHANNEL_FIELDS}
    return {"totals": totals, "consumers": consumers, "latency": latency, "channels": channels}


def _rows(a: dict[str, Any], b: dict[str, Any], default: Any = None) -> tuple[Row, ...]:
    return tuple(Row(k, a.get(k, default), b.get(k, default)) for k in dict.fromkeys([*a, *b]))


def _overrides(h: RunHeader) -> str:
    return " ".join(fmt_override(k, v) for k, v in h.overrides.items()) or "none"


def diff_runs(a: RunSide, b: RunSide) -> RunDiff:
    """Compare two runs quantity by quantity (names present in either run appear once)."""
    ra, rb = a.result, b.result
    facts = (
        Row("scenario", a.header.scenario_id, b.header.scenario_id),
        Row("scenario hash", a.header.scenario_hash[:12], b.header.scenario_hash[:12]),
        Row("overrides", _overrides(a.header), _overrides(b.header)),
        Row("seed", a.header.seed, b.header.seed, quantity=False),
        Row("profile", a.header.profile, b.header.profile),
        Row("transport", a.header.transport, b.header.transport),
        Row("outcome", ra.outcome if ra else "incomplete", rb.outcome if rb else "incomplete"),
        Row("messages", ra.messages if ra else None, rb.messages if rb else None),
        Row("events", ra.events if ra else None, rb.events if rb else None),
        Row("virtual time (s)", round(ra.virtual_ns / 1e9, 3) if ra else None,
            round(rb.virtual_ns / 1e9, 3) if rb else None),
        Row("digest", ra.digest[:16] if ra else None, rb.digest[:16] if rb else None),
    )
    ca = {c["name"]: c for c in (ra.checks if ra else [])}
    cb = {c["name"]: c for c in (rb.checks if rb else [])}
    names = list(dict.fromkeys([*ca, *cb]))
    checks = tuple(Row(n, ca[n].get("status") if n in ca else None, cb[n].get("status") if n in cb else None)
                   for n in names)
    observed = {n: (str(ca.get(n, {}).get("observed", "")), str(cb.get(n, {}).get("observed", ""))) for n in names}
    fa, fb = _flat(ra), _flat(rb)
    ka, kb = _counts(ra), _counts(rb)
    counts = tuple(Row(k, ka.get(k, 0), kb.get(k, 0)) for k in sorted(set(ka) | set(kb)))
    dead_a = {"total": sum(v for k, v in a.dead_reasons.items() if k.startswith("reason ")), **a.dead_reasons}
    dead_b = {"total": sum(v for k, v in b.dead_reasons.items() if k.startswith("reason ")), **b.dead_reasons}
    if not a.dead_reasons and ra is not None:
        dead_a["total"] = int(_summary(ra).get("dead_lettered", 0) or 0)
    if not b.dead_reasons and rb is not None:
        dead_b["total"] = int(_summary(rb).get("dead_lettered", 0) or 0)
    return RunDiff(a, b, facts, checks, _rows(fa["totals"], fb["totals"]), _rows(fa["consumers"], fb["consumers"]),
                   _rows(fa["channels"], fb["channels"], 0), _rows(fa["latency"], fb["latency"]),
                   _rows(dead_a, dead_b, 0), counts, observed)


def _delta(row: Row) -> Text:
    if not row.changed:
        return Text("")
    if row.quantity and isinstance(row.a, (int, float)) and isinstance(row.b, (int, float)) \
            and not isinstance(row.a, bool):
        d = row.b - row.a
        pct = f" ({_percent(d / row.a)})" if row.a and abs(d / row.a) >= 0.0005 else ""
        text = f"{d:+,.3f}".rstrip("0").rstrip(".") if isinstance(d, float) else f"{d:+,}"
        return Text(text + pct, style="yellow")
    return Text("changed", style="yellow")


def _percent(ratio: float) -> str:
    """A relative change: whole percents, or one decimal under 1% (never "-0%")."""
    return f"{ratio:+.1%}" if abs(ratio) < 0.01 else f"{ratio:+.0%}"


def _cell(v: Any) -> Text:
    if v is None:
        return Text("—", style="dim")
    if isinstance(v, bool):
        return Text(str(v).lower())
    if isinstance(v, int):
        return Text(f"{v:,}")
    if isinstance(v, float):
        return Text(f"{v:,.3f}".rstrip("0").rstrip("."))
    return text(v)


def _section(title: str, rows: Iterable[Row], a_id: str, b_id: str, status: bool = False,
             observed: dict[str, tuple[str, str]] | None = None) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", box=None, header_style="bold dim")
    table.add_column("")
    table.add_column(f"A {a_id}", justify="right")
    table.add_column(f"B {b_id}", justify="right")
    table.add_column("Δ", justify="right")
    for row in rows:
        if status:
            cells = [text(v or "—", STATUS_COLOUR.get(v if isinstance(v, str) else None, ""))
                     for v in (row.a, row.b)]
            name = text(row.name, "bold" if row.changed else "")
            if row.changed and observed and row.name in observed:
                oa, ob = observed[row.name]
                name.append(f"\nA: {visible(oa, multiline=True)}\nB: {visible(ob, multiline=True)}", style="dim")
        else:
            cells = [_cell(v) if row.quantity or v is None else text(v) for v in (row.a, row.b)]
            name = text(row.name, "bold" if row.changed else "")
        table.add_row(name, *cells, _delta(row))
    return table


def render_diff(d: RunDiff, only_changed: bool = False) -> RenderableType:
    """The diff as rich tables (with `only_changed`, rows equal in both runs are left out)."""
    a_id, b_id = d.a.header.id, d.b.header.id
    parts: list[RenderableType] = []
    for title, rows, status in d.sections():
        kept = [r for r in rows if r.changed or not only_changed]
        if kept:
            parts += [_section(title, kept, a_id, b_id, status, d.observed), Text("")]
    changed = sum(r.changed for _, rows, _ in d.sections() for r in rows if r.name not in ("digest",))
    if not changed:
        parts.append(Text("the two runs do not differ", style="green"))
    elif only_changed is False:
        parts.append(Text("rows in bold differ; --only-changed hides the rest", style="dim"))
    return Group(*parts)


def diff_stored(store: SyncRunStore, run_a: str, run_b: str) -> RunDiff:
    """Load two stored runs and compare them."""
    sides = []
    for run_id in (run_a, run_b):
        header, result = store.get(run_id)
        sides.append(run_side(header, result, store.events(run_id, kinds=["dead_lettered"])))
    return diff_runs(sides[0], sides[1])
