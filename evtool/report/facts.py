"""What a run showed about its lesson's concept, collected from the trace as it runs.

The Channels and Consumers tables count messages; a lesson is about something
more particular: how competing instances shared the work, how far each group
of a topic fell behind, how many sagas completed or compensated, how many
partitions a rebalance moved, how far a projection lagged. `LessonFacts` is a
trace listener that keeps those numbers; `facts()` returns them as plain data
for the summary (`summary["lesson_facts"]`), which `render_report` shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAX_INSTANCE_ROWS = 24
"""More instance rows than this are shown per consumer instead (a scale fault can start hundreds)."""


class LessonFacts:
    """A trace listener (a callable taking a batch of TraceEvents) that keeps the lesson's numbers."""

    def __init__(self, scenario: Any) -> None:
        self.kinds = {name: getattr(ch, "kind", "") for name, ch in scenario.channels.items()}
        self.group_of: dict[str, str] = {}
        self.channel_of: dict[str, str] = {}
        for name, c in scenario.consumers.items():
            self.group_of[name] = c.group or name
            self.channel_of[name] = c.from_
        self.multi = {name for name, c in scenario.consumers.items() if c.instances > 1}
        self.handled: dict[tuple[str, int], int] = {}
        self.failed: dict[tuple[str, int], int] = {}
        # per (channel, group): messages published to the channel minus those the group finished
        self.published: dict[str, set[str]] = {}
        self.done: dict[tuple[str, str], set[str]] = {}
        self.max_lag: dict[tuple[str, str], tuple[int, int]] = {}
        self.sagas: dict[str, dict[str, int]] = {}
        self.rebalances: dict[str, dict[str, int]] = {}
        self.projections: dict[str, dict[str, Any]] = {}
        self._group_cache: dict[str, list[str]] = {}
        # redrive by id: the dead letters each channel holds, to name them when an id is not there
        self.redrive_ids = {f.name: (f.target.partition(":")[2], f.message) for f in scenario.faults
                            if getattr(f, "action", None) == "redrive" and getattr(f, "message", None)}
        self.dead: dict[str, dict[str, None]] = {}
        self.problems: list[str] = []

    def __call__(self, batch: Sequence[Any]) -> None:
        for ev in batch:
            kind = ev.kind
            if kind == "dead_lettered" and self.redrive_ids:
                target = (ev.data or {}).get("target")
                if target:
                    self.dead.setdefault(target, {})[ev.msg] = None
            if kind == "published":
                if self.kinds.get(ev.channel) in ("topic", "log"):
                    self.published.setdefault(ev.channel, set()).add(ev.msg)
            elif kind in ("acked", "dead_lettered", "expired", "dropped") and ev.actor in self.group_of:
                ch = self.channel_of[ev.actor]
                if self.kinds.get(ch) in ("topic", "log") and (kind == "acked" or ev.channel == ch):
                    self.done.setdefault((ch, self.group_of[ev.actor]), set()).add(ev.msg)
            elif kind == "handled" and ev.actor in self.group_of:
                if not (ev.data and ev.data.get("duplicate")):
                    k = (ev.actor, ev.instance if ev.instance is not None else -1)
                    self.handled[k] = self.handled.get(k, 0) + 1
                    if ev.instance is not None and ev.instance > 0:
                        self.multi.add(ev.actor)
            elif kind == "failed" and ev.actor in self.group_of:
                k = (ev.actor, ev.instance if ev.instance is not None else -1)
                self.failed[k] = self.failed.get(k, 0) + 1
            elif kind == "redriven" and self.redrive_ids:
                self.dead.get(ev.channel, {}).pop(ev.msg, None)
                continue
            elif kind == "fault_ended" and ev.actor in self.redrive_ids and not (ev.data or {}).get("redriven"):
                channel, wanted = self.redrive_ids[ev.actor]
                held = list(self.dead.get(channel, {}))
                shown = ", ".join(held[:8]) + (f", … ({len(held) - 8} more)" if len(held) > 8 else "")
                self.problems.append(
                    f"fault `{ev.actor}`: no dead letter `{wanted}` in {channel}, so nothing was redriven; "
                    + (f"the dead letters there: {shown}" if held else f"{channel} held no dead letters"))
                continue
            elif kind.startswith("saga_"):
                counts = self.sagas.setdefault(ev.actor or "saga", {})
                counts[kind] = counts.get(kind, 0) + 1
            elif kind in ("rebalanced", "partition_revoked", "partition_assigned"):
                group = (ev.data or {}).get("group") or ev.actor or "?"
                counts = self.rebalances.setdefault(str(group), {})
                counts[kind] = counts.get(kind, 0) + 1
            elif kind in ("projection_updated", "stale_read", "projection_rebuilt"):
                p = self.projections.setdefault(ev.actor or "projection", {"max_lag": 0, "max_lag_ms": 0.0,
                                                                            "lag": 0, "stale_reads": 0,
                                                                            "rebuilds": 0, "updates": 0})
                if kind == "stale_read":
                    p["stale_reads"] += 1
                elif kind == "projection_rebuilt":
                    p["rebuilds"] += 1
                else:
                    data = ev.data or {}
                    lag = int(data.get("lag") or 0)
                    p["updates"] += 1
                    p["lag"] = lag
                    p["max_lag"] = max(p["max_lag"], lag)
                    if data.get("lag_ns") is not None:
                        p["max_lag_ms"] = max(p["max_lag_ms"], round(data["lag_ns"] / 1e6, 3))
            else:
                continue
            self._lag(ev)

    def _lag(self, ev: Any) -> None:
        ch = ev.channel
        if ch not in self.published:
            return
        for g in self._groups(ch):
            lag = len(self.published[ch]) - len(self.done.get((ch, g), ()))
            if lag > self.max_lag.get((ch, g), (-1, 0))[0]:
                self.max_lag[(ch, g)] = (lag, ev.t)

    def _groups(self, channel: str) -> list[str]:
        groups = self._group_cache.get(channel)
        if groups is None:
            groups = self._group_cache[channel] = sorted(
                {g for name, g in self.group_of.items() if self.channel_of[name] == channel})
        return groups

    def facts(self) -> dict[str, Any]:
        """The numbers as plain data (JSON-able), only the sections the run has something for."""
        out: dict[str, Any] = {}
        rows = [{"consumer": c, "instance": i, "handled": n, "failed": self.failed.get((c, i), 0)}
                for (c, i), n in sorted(self.handled.items()) if c in self.multi]
        rows += [{"consumer": c, "instance": i, "handled": 0, "failed": n}
                 for (c, i), n in sorted(self.failed.items()) if c in self.multi and (c, i) not in self.handled]
        if rows:
            out["instances"] = sorted(rows, key=lambda r: (r["consumer"], r["instance"]))
        groups = []
        for ch in sorted(self.published):
            for g in self._groups(ch):
                done = len(self.done.get((ch, g), ()))
                lag, at = self.max_lag.get((ch, g), (0, 0))
                groups.append({"channel": ch, "group": g, "done": done, "max_lag": lag,
                               "max_lag_at_s": round(at / 1e9, 3), "lag_at_end": len(self.published[ch]) - done})
        if groups:
            out["groups"] = groups
        if self.sagas:
            out["sagas"] = {name: {k.removeprefix("saga_"): v for k, v in sorted(c.items())}
                            for name, c in sorted(self.sagas.items())}
        if self.rebalances:
            out["rebalances"] = {g: {"rebalances": c.get("rebalanced", 0),
                                     "partitions_revoked": c.get("partition_revoked", 0),
                                     "partitions_assigned": c.get("partition_assigned", 0)}
                                 for g, c in sorted(self.rebalances.items())}
        if self.projections:
            out["projections"] = dict(sorted(self.projections.items()))
        return out
