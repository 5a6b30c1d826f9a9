"""An event-sourced aggregate: an event store with expected versions, replay, snapshots and upcasting.

Each command is for one aggregate (the `id` expression, the message key by
default). Handling it loads the aggregate by replaying its stream from the
last snapshot (each replayed event costs `replay_cost` of virtual time, so
a long history is slow to load and snapshots cut it), decides the event the
command appends (`decide`), checks the invariants against the state the
event would produce, and appends with the version it loaded as the expected
version. If another command appended in between, the append fails
(`concurrency_conflict`) and the command is reloaded and retried; with
`concurrency: none` the append goes through anyway and a lost update can
break an invariant.

What assertions read as `state.<pattern>.<field>`: `appended`, `conflicts`,
`rejected`, `snapshots`, `upcasts`, `loads`, `replayed` (events replayed in
all), `max_replayed` (the longest replay of one load), `replay_time` (virtual
ns spent replaying), `violations` (appends after which the stored state
breaks an invariant: lost updates), `aggregates` and `versions`.

Events are stored in the schema version they were written in (the lower of
the command's version and the event's current version, `Name@version`),
and upcast on read with the scenario's `schemas.<type>.upcast` rules.
Projections (`evtool.sim.patterns.projection`) read the store's global log.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from evtool.core.delivery import Delivery
from evtool.core.message import Message
from evtool.scenario import models as m
from evtool.scenario.expressions import ExpressionRuntimeError, compile_expression
from evtool.sim.effects import CompiledEffect, initial_state
from evtool.sim.kernel import PRIO_ACTOR
from evtool.sim.patterns.base import PatternActor
from evtool.sim.sampling import duration_sampler

if TYPE_CHECKING:
    from evtool.sim.context import ActorContext


class StoredEvent:
    """One event in the store: global position, aggregate, per-aggregate version, schema version."""

    __slots__ = ("id", "aggregate", "type", "schema_version", "payload", "position", "version", "t", "causation_id")

    def __init__(self, id: str, aggregate: str, type: str, schema_version: int, payload: dict[str, Any],
                 position: int, version: int, t: int, causation_id: str | None = None) -> None:
        self.id = id
        self.aggregate = aggregate
        self.type = type
        self.schema_version = schema_version
        self.payload = payload
        self.position = position
        self.version = version
        self.t = t
        self.causation_id = causation_id


def parse_event_types(names: list[str], schemas: Mapping[str, m.MessageSchema]) -> dict[str, int]:
    """`["Deposited@1", "Withdrawn@2"]` -> {type: current version}; no `@` means the schema's version (or 1)."""
    out: dict[str, int] = {}
    for text in names:
        name, _, ver = text.partition("@")
        name = name.strip()
        if ver.strip():
            out[name] = int(ver)
        else:
            schema = schemas.get(name)
            out[name] = schema.version if schema is not None else 1
    return out


def upcast_payload(payload: dict[str, Any], rule: m.UpcastRule) -> dict[str, Any]:
    """Apply one declarative upcaster (rename, then drop, then set) to a payload copy."""
    out = dict(payload)
    for old, new in rule.rename.items():
        if old in out:
            out[new] = out.pop(old)
    for name in rule.drop:
        out.pop(name, None)
    for name, value in rule.set.items():
        out.setdefault(name, value)
    return out


def upcast_to(type_: str, version: int, payload: dict[str, Any], target: int,
              schemas: Mapping[str, m.MessageSchema]) -> tuple[dict[str, Any], int]:
    """Upcast an event of `type_` from `version` to `target`, step by step; returns (payload, steps applied)."""
    schema = schemas.get(type_)
    steps = 0
    while version < target:
        rule = schema.upcast.get(f"{version}->{version + 1}") if schema is not None else None
        if rule is not None:
            payload = upcast_payload(payload, rule)
        version += 1
        steps += 1
    return payload, steps


class EventModel:
    """How events change state: the compiled `apply` effects plus upcasting to the current versions."""

    def __init__(self, current: dict[str, int], apply: Mapping[str, list[m.Effect]],
                 schemas: Mapping[str, m.MessageSchema]) -> None:
        self.current = current
        self.schemas = schemas
        self.effects = {t: [CompiledEffect(e) for e in effs] for t, effs in apply.items()}

    def read(self, ev: StoredEvent) -> tuple[dict[str, Any], int]:
        """The event's payload in its type's current version, and how many upcast steps that took."""
        target = self.current.get(ev.type, ev.schema_version)
        return upcast_to(ev.type, ev.schema_version, ev.payload, target, self.schemas)

    def apply(self, state: dict[str, Any], ev: StoredEvent, params: Mapping[str, Any]) -> int:
        """Apply one event to `state` (upcast first); returns the upcast steps taken."""
        payload, steps = self.read(ev)
        self.apply_payload(state, ev.type, payload, ev.aggregate, params)
        return steps

    def apply_payload(self, state: dict[str, Any], type_: str, payload: dict[str, Any], key: str,
                      params: Mapping[str, Any]) -> None:
        """Apply an event, already in its current version, to `state`."""
        env = {"msg": {"type": type_, "payload": payload}, "state": state, "key": key, "attempt": 1, "now": 0,
               "params": params, "tag": None}
        for eff in self.effects.get(type_, ()):
            eff.apply(state, env)

    def fold(self, initial: Mapping[str, Any], events: list[StoredEvent], params: Mapping[str, Any]) -> dict[str, Any]:
        """Rebuild a state from scratch by replaying `events`."""
        state = initial_state(initial)
        for ev in events:
            self.apply(state, ev, params)
        return state


class EventSourcedAggregateActor(PatternActor):
    """The command side: loads aggregates by replay, appends with optimistic concurrency, snapshots."""

    def __init__(self, ctx: ActorContext, name: str, spec: m.EventSourcedAggregatePattern) -> None:
        super().__init__(ctx, name)
        self.spec = spec
        schemas = ctx.scenario.schemas
        self.model = EventModel(parse_event_types(spec.events, schemas), spec.apply, schemas)
        self.event_names = list(self.model.current)
        self.invariants = [(text, compile_expression(text)) for text in spec.invariants]
        self.id_expr = compile_expression(spec.id)
        self.processing = duration_sampler(spec.processing)
        self.rng: random.Random = ctx.stream(f"pattern:{name}/processing")
        self.streams: dict[str, list[StoredEvent]] = {}
        self.snapshots: dict[str, tuple[int, dict[str, Any]]] = {}
        # aggregate -> (snapshot version the fold starts from, events folded, state, upcasts by (type, from))
        self.folds: dict[str, tuple[int, int, dict[str, Any], dict[tuple[str, int], int]]] = {}
        self.log: list[StoredEvent] = []
        self.listeners: list[Callable[[StoredEvent], None]] = []
        self.inflight = 0
        self.aggregates: dict[str, dict[str, Any]] = {}
        self.state.update(appended=0, conflicts=0, rejected=0, snapshots=0, upcasts=0, loads=0, replayed=0,
                          max_replayed=0, replay_time=0, violations=0, aggregates=self.aggregates, versions={})

    def start(self) -> None:
        """Take commands from the command channel."""
        self.listen(self.spec.commands.from_, self._on_command).open()

    def idle(self) -> bool:
        """True when no command is being handled."""
        return self.inflight == 0

    # ------------------------------------------------------------------ the store

    def version(self, aggregate: str) -> int:
        """The aggregate's current version (its number of events)."""
        return len(self.streams.get(aggregate, ()))

    def load(self, aggregate: str) -> tuple[dict[str, Any], int, int, int, dict[tuple[str, int], int]]:
        """Rebuild an aggregate: (state, version, events replayed, snapshot version or 0, upcasts by (type, from)).

        What a load replays (and what it costs in virtual time) is every event after the snapshot.
        Stored events never change, so the fold itself is kept per aggregate and only extended with
        the events appended since: the same result, without the quadratic work when there are no
        snapshots.
        """
        stream = self.streams.get(aggregate, [])
        snap = self.snapshots.get(aggregate)
        base_version = snap[0] if snap is not None else 0
        cached = self.folds.get(aggregate)
        if cached is not None and cached[0] == base_version:
            _, upto, state, upcasts = cached
        else:
            upto = base_version
            state = copy.deepcopy(snap[1]) if snap is not None else initial_state(self.spec.state)
            upcasts = {}
        params = self.ctx.params
        for ev in stream[upto:]:
            if self.model.apply(state, ev, params):
                k = (ev.type, ev.schema_version)
                upcasts[k] = upcasts.get(k, 0) + 1
        self.folds[aggregate] = (base_version, len(stream), state, upcasts)
        return copy.deepcopy(state), len(stream), len(stream) - base_version, base_version, dict(upcasts)

    # ------------------------------------------------------------------ commands

    def _aggregate_id(self, msg: Message) -> str:
        env = {"msg": msg, "state": {}, "key": msg.key, "attempt": 1, "now": self.ctx.now,
               "params": self.ctx.params, "tag": msg.tag}
        try:
            value = self.id_expr.evaluate(env)
        except ExpressionRuntimeError:
            value = None
        return str(value if value is not None else msg.key)

    def _on_command(self, d: Delivery) -> None:
        if self.spec.commands.message is not None and d.msg.type != self.spec.commands.message:
            return
        self.inflight += 1
        self._attempt((d.msg, self._aggregate_id(d.msg), 0))

    def _attempt(self, item: tuple[Message, str, int]) -> None:
        cmd, agg, tries = item
        state, version, replayed, snap_version, upcasts = self.load(agg)
        cost = replayed * self.spec.replay_cost
        self.bump("loads")
        self.bump("replayed", replayed)
        self.bump("replay_time", cost)
        self.state["max_replayed"] = max(self.state["max_replayed"], replayed)
        self.record("aggregate_loaded", cmd.id, key=agg, attempt=tries + 1, replayed=replayed,
                    from_snapshot=snap_version > 0, snapshot_version=snap_version, version=version, cost=cost)
        for (type_, frm), count in upcasts.items():
            self.bump("upcasts", count)
            self.record("upcast", cmd.id, key=agg, type=type_, count=count, **{"from": frm,
                                                                               "to": self.model.current[type_]})
        delay = cost + self.processing(self.rng)
        self.ctx.kernel.at(self.ctx.now + delay, self._decide, (cmd, agg, tries, version, state), PRIO_ACTOR)

    def _event_type(self, cmd: Message) -> str:
        if cmd.type in self.spec.decide:
            return self.spec.decide[cmd.type]
        if cmd.type in self.model.current:
            return cmd.type
        payload = cmd.payload if isinstance(cmd.payload, dict) else {}
        named = payload.get("event")
        if isinstance(named, str) and named in self.model.current:
            return named
        return self.event_names[0]

    def _decide(self, item: tuple[Message, str, int, int, dict[str, Any]]) -> None:
        cmd, agg, tries, expected, state = item
        type_ = self._event_type(cmd)
        current_version = self.model.current[type_]
        schema_version = min(cmd.version or current_version, current_version)
        payload = dict(cmd.payload) if isinstance(cmd.payload, dict) else {"value": cmd.payload}
        params = self.ctx.params
        candidate = StoredEvent("", agg, type_, schema_version, payload, 0, expected + 1, self.ctx.now)
        after = copy.deepcopy(state)
        try:
            self.model.apply(after, candidate, params)
        except (ExpressionRuntimeError, TypeError, KeyError, ValueError) as exc:
            self._reject(cmd, agg, "ApplyError", str(exc))
            return
        for text, inv in self.invariants:
            env = {"msg": cmd, "state": after, "key": agg, "attempt": tries + 1, "now": self.ctx.now,
                   "params": params, "tag": cmd.tag}
            try:
                holds = bool(inv.evaluate(env))
            except ExpressionRuntimeError:
                holds = False
            if not holds:
                self._reject(cmd, agg, "InvariantViolated", text)
                return
        actual = self.version(agg)
        if self.spec.concurrency == "optimistic" and actual != expected:
            self.bump("conflicts")
            self.record("concurrency_conflict", cmd.id, key=agg, attempt=tries + 1, expected=expected,
                        actual=actual)
            if tries < self.spec.conflict_retries:
                self._attempt((cmd, agg, tries + 1))
                return
            self._reject(cmd, agg, "ConcurrencyConflict", f"expected version {expected}, found {actual}")
            return
        self._append(cmd, agg, candidate)
        self.inflight -= 1

    def _holds(self, state: dict[str, Any], cmd: Message, agg: str) -> bool:
        """Whether the aggregate's stored (true) state satisfies every invariant."""
        env = {"msg": cmd, "state": state, "key": agg, "attempt": 1, "now": self.ctx.now,
               "params": self.ctx.params, "tag": cmd.tag}
        for _text, inv in self.invariants:
            try:
                if not inv.evaluate(env):
                    return False
            except ExpressionRuntimeError:
                return False
        return True

    def _reject(self, cmd: Message, agg: str, error: str, detail: str) -> None:
        self.bump("rejected")
        self.record("failed", cmd.id, key=agg, error=error, retryable=False, detail=detail)
        self.inflight -= 1

    def _append(self, cmd: Message, agg: str, ev: StoredEvent) -> None:
        ctx = self.ctx
        stream = self.streams.setdefault(agg, [])
        ev.version = len(stream) + 1  # without a concurrency check a stale writer still appends at the end
        ev.position = len(self.log) + 1
        ev.id = f"{self.name}-e{ev.position}"
        ev.causation_id = cmd.id
        ev.t = ctx.now
        stream.append(ev)
        self.log.append(ev)
        truth = self.aggregates.get(agg)
        if truth is None:
            truth = self.aggregates[agg] = initial_state(self.spec.state)
        self.model.apply(truth, ev, ctx.params)
        if self.invariants and not self._holds(truth, cmd, agg):
            # Only possible without a concurrency check: the command decided on a stale state.
            self.bump("violations")
        self.state["versions"][agg] = ev.version
        self.bump("appended")
        self.record("event_appended", ev.id, key=agg, version=ev.version, position=ev.position, type=ev.type,
                    schema_version=ev.schema_version, causation_id=cmd.id)
        snap = self.spec.snapshot
        if snap is not None and ev.version % snap.every == 0:
            self.snapshots[agg] = (ev.version, copy.deepcopy(truth))
            self.bump("snapshots")
            self.record("snapshot_taken", ev.id, key=agg, version=ev.version)
        if self.spec.stream is not None:
            out = cmd.follow_up(ev.id, self.spec.stream, producer=self.name, now=ctx.now, type=ev.type,
                                payload=ev.payload, key=agg, seq=ev.version, version=ev.schema_version)
            ctx.publish(self.spec.stream, out, producer=self.name)
        for listener in self.listeners:
            listener(ev)
