"""The interesting points of a run: the instants where a fault is most likely to matter.

They are read from the trace of a run explore has already made (the fault-free run of a seed,
or, while shrinking, the failing run itself: its trace before an intervention's instant is the
same with the intervention anywhere later, so an earlier point there is a real point of the run).

- `handling`: a handler holds a delivery. Two instants per handling: just after the delivery,
  and the instant it finishes (an intervention runs first at its instant, so this is just before
  the handler's effects and its ack, which the core applies together).
- `publish`: a message is published to a channel (the window since the previous publish there,
  which holds the producer's send whatever the hop latency).
- `retry`: just after a handler failed and its retry was scheduled, while the message waits for it.
- `saga_step`: just after a saga step completed, before the next step's command is handled.
- `saga_wait`: just after a participant instance took a command an orchestrated saga sent for a step
  that can be compensated: the saga waits for its reply. A pause or crash of that instance held past the step's timeouts and retries
  (`durations` offers that length) makes the reply late: the saga compensates while the command is
  still held, and the late reply races the compensation.
- `request`: a request is on its way: between `request_sent` and its reply.
- `rebalance`: a consumer group is being rebalanced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evtool.scenario import models as m


@dataclass(frozen=True)
class FaultPoint:
    """One instant at which a fault can be placed, and what a fault there can hit."""

    t: int
    where: str
    """The kind of point: handling, publish, retry, saga_step, saga_wait, request, rebalance."""
    what: str
    """In words, for the report."""
    consumers: tuple[str, ...] = ()
    """`consumer:NAME#N` targets that matter here (the instance holding the delivery, ...)."""
    channel: str | None = None
    """`channel:NAME` for a publish point."""
    window: int = 1
    """For a publish point: how long before `t` the send may have happened (a drop or duplicate lasts this)."""
    faults: tuple[str, ...] = ()
    """The fault kinds that matter here, preferred when the vocabulary has one (empty: any). At a `saga_wait`
    point a pause: it holds the reply back while the instance keeps the command; a crash would give
    the command back to another instance, which replies in time."""
    lengths: tuple[int, ...] = ()
    """Pause, crash and downtime lengths that matter here (empty: the scenario's `durations`). A `saga_wait`
    point offers 1.5 × the time its step gives up after: a participant held that long replies too late."""


class PointCollector:
    """A trace listener that gathers the fault points of a run (give it to the engine as a listener)."""

    KINDS = frozenset({"delivered", "redelivered", "handled", "failed", "published", "saga_step_completed",
                       "request_sent", "rebalanced", "retry_scheduled"})

    TIE_KINDS = frozenset({"handled", "failed"})

    def __init__(self, scenario: m.Scenario, limit: int = 4000) -> None:
        self.scenario = scenario
        self.limit = limit
        self.points: list[FaultPoint] = []
        self.published: dict[str, int] = {}
        """Messages published per producer (explore shrinks these counts)."""
        self._open: dict[tuple[str, int | None, str | None], int] = {}
        self._last_pub: dict[str, int] = {}
        self.truncated = False
        """True when the run had more points than `limit` (only the earliest are kept)."""
        self.ties = 0
        """Instants at which handlings of two or more different consumer instances finished (or failed)
        together: the choice points where the order of simultaneous events of different actors can be
        varied (`explore.schedule`). A saga step completing, a request sent or a delivery at the instant
        of a handling is its consequence, not an independent event, and is not counted."""
        self._tie_t = -1
        self._tie_actor: tuple[str | None, int | None] = (None, None)
        self._tie_counted = False
        self._group_members: dict[str, list[str]] = {}
        for name, c in scenario.consumers.items():
            self._group_members.setdefault(c.group or name, []).append(name)
        self._sagas = frozenset(name for name, p in scenario.patterns.items()
                                if getattr(p, "type", None) == "saga" and getattr(p, "style", None) == "orchestration")
        self._saga_cmds: dict[str, tuple[str, tuple[int, ...]]] = {}
        """Commands an orchestrated saga published and no participant has taken yet: msg id -> (saga, the
        lengths that outlast the step's wait for the reply)."""
        self._step_wait: dict[tuple[str, str], tuple[int, ...]] = {}
        """(saga, command channel) -> lengths just past the wait of a compensable step sending there."""
        for name in self._sagas:
            for step in scenario.patterns[name].steps:  # type: ignore[union-attr]
                total = give_up_after(step.timeout, step.retry)
                if step.compensate is not None and total is not None:
                    self._step_wait[(name, step.send.to)] = (total * 3 // 2,)

    def _instances(self, consumer: str) -> tuple[str, ...]:
        spec = self.scenario.consumers.get(consumer)
        if spec is None:
            return ()
        return tuple(f"consumer:{consumer}#{i}" for i in range(spec.instances))

    def __call__(self, batch: Sequence[Any]) -> None:
        kinds = self.KINDS
        points = self.points
        consumers = self.scenario.consumers
        for ev in batch:
            kind = ev.kind
            if kind not in kinds:
                continue
            if kind == "published":
                if ev.actor:
                    self.published[ev.actor] = self.published.get(ev.actor, 0) + 1
                if ev.actor in self._sagas and ev.msg:
                    wait = self._step_wait.get((ev.actor, ev.channel or ""))
                    if wait is not None:  # a step that can be compensated: its late reply can race that
                        self._saga_cmds[ev.msg] = (ev.actor, wait)
                if ev.channel and len(points) >= self.limit:
                    self.truncated = True
                elif ev.channel:
                    prev = self._last_pub.get(ev.channel, -1)
                    self._last_pub[ev.channel] = ev.t
                    start = max(prev + 1, 0)
                    points.append(FaultPoint(start, "publish", f"the publish of {ev.msg} to {ev.channel}",
                                             channel=f"channel:{ev.channel}", window=ev.t + 1 - start))
                continue
            if len(points) >= self.limit:
                self.truncated = True
                continue
            if kind in self.TIE_KINDS and ev.t != self._tie_t:
                self._tie_t, self._tie_actor, self._tie_counted = ev.t, (ev.actor, ev.instance), False
            elif kind in self.TIE_KINDS and (ev.actor, ev.instance) != self._tie_actor and not self._tie_counted:
                self.ties += 1
                self._tie_counted = True
            if kind in ("delivered", "redelivered"):
                if ev.actor in consumers:
                    self._open[(ev.actor, ev.instance, ev.msg)] = ev.t
                    cmd = self._saga_cmds.pop(ev.msg, None) if ev.msg else None
                    if cmd is not None:
                        target = (f"consumer:{ev.actor}#{ev.instance}",) if ev.instance is not None else \
                            self._instances(ev.actor)
                        points.append(FaultPoint(ev.t + 1, "saga_wait", f"while {ev.actor}#{ev.instance} holds "
                                                 f"{ev.msg}, a command of saga {cmd[0]} waiting for its reply",
                                                 target, faults=("pause",), lengths=cmd[1]))
            elif kind in ("handled", "failed"):
                started = self._open.pop((ev.actor, ev.instance, ev.msg), None)
                if started is None or ev.actor not in consumers:
                    continue
                target = (f"consumer:{ev.actor}#{ev.instance}",) if ev.instance is not None else \
                    self._instances(ev.actor)
                if ev.t > started + 1:
                    points.append(FaultPoint(started + 1, "handling", f"just after {ev.actor}#{ev.instance} "
                                             f"took {ev.msg}", target))
                points.append(FaultPoint(ev.t, "handling", f"as {ev.actor}#{ev.instance} finishes {ev.msg}, "
                                         "before its effects and ack", target))
            elif kind == "retry_scheduled":
                if ev.actor in consumers:
                    target = (f"consumer:{ev.actor}#{ev.instance}",) if ev.instance is not None else \
                        self._instances(ev.actor)
                    points.append(FaultPoint(ev.t + 1, "retry", f"while {ev.msg} waits for its retry in "
                                             f"{ev.actor}", target))
            elif kind == "saga_step_completed":
                step = (ev.data or {}).get("step")
                targets = tuple(t for c in consumers for t in self._instances(c))
                points.append(FaultPoint(ev.t + 1, "saga_step", f"between steps of saga {ev.msg} (after {step})",
                                         targets))
            elif kind == "request_sent":
                targets = tuple(t for c, spec in consumers.items() if spec.from_ == ev.channel
                                for t in self._instances(c))
                points.append(FaultPoint(ev.t + 1, "request", f"while request {ev.msg} is on its way", targets))
            elif kind == "rebalanced":
                group = (ev.data or {}).get("group")
                targets = tuple(t for c in self._group_members.get(group, []) for t in self._instances(c))
                points.append(FaultPoint(ev.t, "rebalance", f"during a rebalance of group {group}", targets))


def give_up_after(timeout: int, retry: m.RetryPolicy | None) -> int | None:
    """How long after its first command a saga step gives up when no reply comes: every attempt's
    timeout and the backoff delays between them (the longest a jitter allows); None for `forever`."""
    attempts = 1 if retry is None else retry.max_attempts
    if not isinstance(attempts, int):
        return None
    total = attempts * timeout
    b = retry.backoff if retry is not None else None
    for k in range(1, attempts):
        if b is None or b.type == "none":
            delay = 0
        elif b.type == "constant":
            delay = b.delay or 0
        elif b.type == "linear":
            delay = (b.delay or 0) * k
        else:
            delay = int((b.initial or 0) * b.multiplier ** (k - 1))
        if b is not None and b.max is not None:
            delay = min(delay, b.max)
        total += delay
    return total


def durations(scenario: m.Scenario) -> list[int]:
    """Pause, crash and downtime lengths worth trying: 1.5 × every timeout, lease and deadline of the
    scenario (long enough that it passes while the fault holds), 1.5 × the time after which each saga
    step that can be compensated gives up (every attempt's timeout and the backoffs between them: a
    participant held that long replies after the saga compensated), and two short ones."""
    found: set[int] = set()
    for p in scenario.patterns.values():
        for step in getattr(p, "steps", None) or ():
            # only steps that can be compensated: their late reply can race the compensation. A step
            # without one (a pivot) that gives up leaves the saga stuck for a human, by design
            if getattr(p, "style", None) == "orchestration" and step.compensate is not None:
                total = give_up_after(step.timeout, step.retry)
                if total is not None and total > step.timeout:
                    found.add(total * 3 // 2)

    def walk(v: Any, key: str = "") -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, str(k))
        elif isinstance(v, list):
            for x in v:
                walk(x, key)
        elif isinstance(v, int) and not isinstance(v, bool) and v > 0 and (
                key.endswith("timeout") or key in ("deadline", "ack_timeout", "lease", "visibility_timeout")):
            found.add(v * 3 // 2)

    walk(scenario.model_dump(exclude={"lesson", "expect", "alerts", "faults"}, warnings=False))
    return sorted(found | {100_000_000, 1_000_000_000})
