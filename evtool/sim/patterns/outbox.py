"""The transactional outbox, against the dual write it replaces.

A service (an ordinary consumer) changes its state and must tell the world.
Three ways to do it (`mode`):

* `dual_write_commit_first`: commit the state, then publish. When the
  publish fails (`publish_failure`) the state changed but the event is gone:
  `dual_write_lost`.
* `dual_write_publish_first`: publish, then commit. When the commit fails
  (`commit_failure`) the event is out but the state change is rolled back:
  a ghost event, `dual_write_ghost`.
* `outbox`: the event is written to an outbox table in the same transaction
  as the state change (`outbox_written`); a relay in the service polls the
  table every `poll_interval` and publishes up to `batch` entries to
  `relay.to` (`outbox_relayed`). A failed publish stays in the table for the
  next poll; a failed mark-as-sent (`commit_failure`) makes the relay send
  the entry again with the same message id: at least once, for the
  downstream to deduplicate. The relay only runs while an instance of the
  service is up.

The pattern takes over the service's emits (those with `via_outbox: true`,
or all of them when none says so).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from evtool.core.delivery import Delivery
from evtool.core.events import TraceEvent
from evtool.core.message import Message
from evtool.scenario import models as m
from evtool.scenario.expressions import ExpressionRuntimeError
from evtool.scenario.templates import TemplateRuntimeError
from evtool.sim.consumer import ConsumerActor, Instance
from evtool.sim.kernel import PRIO_ACTOR
from evtool.sim.patterns.base import PatternActor

if TYPE_CHECKING:
    from evtool.sim.engine import Engine


class OutboxEntry:
    """A row of the outbox table: the event and how often the relay sent it."""

    __slots__ = ("msg", "written", "sends")

    def __init__(self, msg: Message, written: int) -> None:
        self.msg = msg
        self.written = written
        self.sends = 0


class OutboxActor(PatternActor):
    """Routes a service's events through an outbox and its relay, or through a (failing) dual write."""

    def __init__(self, engine: Engine, name: str, spec: m.OutboxPattern) -> None:
        super().__init__(engine, name)
        self.spec = spec
        service = engine.consumers.get(spec.service)
        if service is None:
            raise ValueError(f"pattern {name}: no consumer named {spec.service!r}")
        self.service: ConsumerActor = service
        self.rng: random.Random = engine.stream(f"pattern:{name}/failures")
        self.table: list[OutboxEntry] = []
        self.commit_fails = False
        self.snapshot: dict[str, Any] | None = None
        self.ghosts = 0
        emits = list(service.spec.emit) + [e for h in service.spec.handles.values() for e in h.emit]
        self.only_flagged = any(e.via_outbox for e in emits)
        # The pattern takes over two steps of this one consumer: how it emits, and (publish-first)
        # the transaction around its handler. Instance attributes, so no other consumer is touched.
        self._service_emit = service._emit  # noqa: SLF001
        self._service_handle = service._handle  # noqa: SLF001
        service._emit = self._emit  # type: ignore[method-assign]  # noqa: SLF001
        if spec.mode == "dual_write_publish_first":
            service._handle = self._handle  # type: ignore[method-assign]  # noqa: SLF001
        self.state.update(written=0, relayed=0, resent=0, published=0, lost=0, ghosts=0, rolled_back=0,
                          pending=0)

    def start(self) -> None:
        """Start the relay's polling (outbox mode)."""
        if self.spec.mode == "outbox":
            self.engine.kernel.at(self.engine.now + self.spec.relay.poll_interval, self._poll, None, PRIO_ACTOR)

    def idle(self) -> bool:
        """True when the outbox table is empty."""
        return not self.table

    # ------------------------------------------------------------------ the service's side

    def _handle(self, inst: Instance, d: Delivery, started: int, *rest: Any, **kw: Any) -> bool:
        # Publish-first: whether this transaction's commit will fail is drawn up front, and the state is
        # kept so a failed commit can be rolled back after the event already went out.
        self.commit_fails = self.rng.random() < self.spec.commit_failure
        self.snapshot = copy.deepcopy(self.service.state) if self.commit_fails else None
        self.ghosts = 0
        keep = self._service_handle(inst, d, started, *rest, **kw)
        if self.commit_fails and self.ghosts and self.snapshot is not None:
            self.service.state.clear()
            self.service.state.update(self.snapshot)
            self.bump("rolled_back")
        self.commit_fails = False
        self.snapshot = None
        return keep

    def _emit(self, spec: m.Emit, render: Callable[..., Any], msg: Message, env: dict[str, Any]) -> None:
        if self.only_flagged and not spec.via_outbox:
            self._service_emit(spec, render, msg, env)
            return
        svc = self.service
        eng = self.engine
        svc.emitted += 1
        try:
            payload = render({"msg": msg, "key": msg.key, "seq": msg.seq, "n": svc.emitted, "now": eng.now,
                              "producer": svc.name, "instance": 0, "params": eng.params, "tag": msg.tag}, svc.rng)
        except (TemplateRuntimeError, ExpressionRuntimeError):
            payload = {}
        to = self.spec.relay.to if self.spec.mode == "outbox" else spec.to
        out = msg.follow_up(f"{svc.name}-{svc.emitted}", to, producer=svc.name, now=eng.now, type=spec.message,
                            payload=payload)
        mode = self.spec.mode
        if mode == "outbox":
            self.table.append(OutboxEntry(out, eng.now))
            self.bump("written")
            self.state["pending"] = len(self.table)
            self.record("outbox_written", out.id, channel=to, key=out.key, causation_id=msg.id,
                        pending=len(self.table))
        elif mode == "dual_write_commit_first":
            # The state is already committed; now the separate publish.
            if self.rng.random() < self.spec.publish_failure:
                self.bump("lost")
                self.record("dual_write_lost", out.id, channel=to, key=out.key, causation_id=msg.id)
                return
            self._publish(out, msg.id)
        else:
            self._publish(out, msg.id)
            if self.commit_fails:
                self.ghosts += 1
                self.bump("ghosts")
                self.record("dual_write_ghost", out.id, channel=to, key=out.key, causation_id=msg.id)

    def _publish(self, out: Message, cause: str) -> None:
        eng = self.engine
        self.bump("published")
        eng.emit(TraceEvent(eng.now, "emitted", out.id, out.channel, self.service.name, None, out.key, 0, None,
                            {"causation_id": cause}))
        eng.publish(out.channel, out, producer=self.service.name)

    # ------------------------------------------------------------------ the relay

    def _service_up(self) -> bool:
        return any(i.state == "running" for i in self.service.instances)

    def _poll(self, _: Any) -> None:
        eng = self.engine
        if self.table and self._service_up():
            batch = self.table[: self.spec.relay.batch]
            sent: list[OutboxEntry] = []
            for entry in batch:
                if self.rng.random() < self.spec.publish_failure:
                    continue  # stays in the table; the next poll tries again
                entry.sends += 1
                if entry.sends > 1:
                    self.bump("resent")
                self.bump("relayed")
                msg = entry.msg
                self.record("outbox_relayed", msg.id, channel=msg.channel, key=msg.key, attempt=entry.sends,
                            waited=eng.now - entry.written)
                # The same message id on every send, so the downstream can deduplicate.
                eng.publish(msg.channel, msg.copy(published_at=eng.now), producer=self.name)
                sent.append(entry)
            # Marking the rows as sent is its own transaction; when it fails they are sent again.
            if sent and self.rng.random() >= self.spec.commit_failure:
                done = {id(e) for e in sent}
                self.table = [e for e in self.table if id(e) not in done]
            self.state["pending"] = len(self.table)
        if eng.phase != "done":
            eng.kernel.at(eng.now + self.spec.relay.poll_interval, self._poll, None, PRIO_ACTOR)
