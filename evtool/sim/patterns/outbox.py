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
from evtool.sim.consumer import ConsumerActor, HandlerHooks, Instance
from evtool.sim.kernel import PRIO_ACTOR
from evtool.sim.patterns.base import PatternActor

if TYPE_CHECKING:
    from evtool.sim.context import ActorContext


class OutboxEntry:
    """A row of the outbox table: the event and how often the relay sent it."""

    __slots__ = ("msg", "written", "sends")

    def __init__(self, msg: Message, written: int) -> None:
        self.msg = msg
        self.written = written
        self.sends = 0


class _ServiceHooks(HandlerHooks):
    """The outbox's part in its service's work, through the consumer's hooks."""

    def __init__(self, outbox: OutboxActor) -> None:
        self.outbox = outbox
        self.publish_first = outbox.spec.mode == "dual_write_publish_first"

    def before_handle(self, inst: Instance, d: Delivery) -> None:
        if self.publish_first:
            self.outbox.before_handle()

    def after_handle(self, inst: Instance, d: Delivery) -> None:
        if self.publish_first:
            self.outbox.after_handle()

    def send_emit(self, consumer: ConsumerActor, spec: m.Emit, render: Callable[..., Any], msg: Message,
                  env: dict[str, Any]) -> bool:
        return self.outbox.send_emit(spec, render, msg, env)


class OutboxActor(PatternActor):
    """Routes a service's events through an outbox and its relay, or through a (failing) dual write."""

    def __init__(self, ctx: ActorContext, name: str, spec: m.OutboxPattern) -> None:
        super().__init__(ctx, name)
        self.spec = spec
        service = ctx.consumers.get(spec.service)
        if service is None:
            raise ValueError(f"pattern {name}: no consumer named {spec.service!r}")
        self.service: ConsumerActor = service
        self.rng: random.Random = ctx.stream(f"pattern:{name}/failures")
        self.table: list[OutboxEntry] = []
        self.commit_fails = False
        self.snapshot: dict[str, Any] | None = None
        self.ghosts = 0
        emits = list(service.spec.emit) + [e for h in service.spec.handles.values() for e in h.emit]
        self.only_flagged = any(e.via_outbox for e in emits)
        # The pattern takes part in two steps of this one consumer, through its explicit hooks: where its
        # events go, and (publish-first) the transaction around its handler.
        service.hooks = _ServiceHooks(self)
        self.state.update(written=0, relayed=0, resent=0, published=0, lost=0, ghosts=0, rolled_back=0,
                          pending=0)

    def start(self) -> None:
        """Start the relay's polling (outbox mode)."""
        if self.spec.mode == "outbox":
            self.ctx.kernel.at(self.ctx.now + self.spec.relay.poll_interval, self._poll, None, PRIO_ACTOR)

    def idle(self) -> bool:
        """True when the outbox table is empty."""
        return not self.table

    # ------------------------------------------------------------------ the service's side

    def before_handle(self) -> None:
        """Publish-first: whether this transaction's commit will fail is drawn up front, and the state is
        kept so a failed commit can be rolled back after the event already went out."""
        self.commit_fails = self.rng.random() < self.spec.commit_failure
        self.snapshot = copy.deepcopy(self.service.state) if self.commit_fails else None
        self.ghosts = 0

    def after_handle(self) -> None:
        """Publish-first: a failed commit rolls the state back (the events already went out: ghosts)."""
        if self.commit_fails and self.ghosts and self.snapshot is not None:
            self.service.state.clear()
            self.service.state.update(self.snapshot)
            self.bump("rolled_back")
        self.commit_fails = False
        self.snapshot = None

    def send_emit(self, spec: m.Emit, render: Callable[..., Any], msg: Message, env: dict[str, Any]) -> bool:
        """Send one of the service's events through the outbox or the dual write; False leaves an event not
        flagged `via_outbox` (when some are) to the service itself."""
        if self.only_flagged and not spec.via_outbox:
            return False
        svc = self.service
        ctx = self.ctx
        svc.emitted += 1
        try:
            payload = render({"msg": msg, "key": msg.key, "seq": msg.seq, "n": svc.emitted, "now": ctx.now,
                              "producer": svc.name, "instance": 0, "params": ctx.params, "tag": msg.tag}, svc.rng)
        except (TemplateRuntimeError, ExpressionRuntimeError):
            payload = {}
        to = self.spec.relay.to if self.spec.mode == "outbox" else spec.to
        out = msg.follow_up(f"{svc.name}-{svc.emitted}", to, producer=svc.name, now=ctx.now, type=spec.message,
                            payload=payload)
        mode = self.spec.mode
        if mode == "outbox":
            self.table.append(OutboxEntry(out, ctx.now))
            self.bump("written")
            self.state["pending"] = len(self.table)
            self.record("outbox_written", out.id, channel=to, key=out.key, causation_id=msg.id,
                        pending=len(self.table))
        elif mode == "dual_write_commit_first":
            # The state is already committed; now the separate publish.
            if self.rng.random() < self.spec.publish_failure:
                self.bump("lost")
                self.record("dual_write_lost", out.id, channel=to, key=out.key, causation_id=msg.id)
                return True
            self._publish(out, msg.id)
        else:
            self._publish(out, msg.id)
            if self.commit_fails:
                self.ghosts += 1
                self.bump("ghosts")
                self.record("dual_write_ghost", out.id, channel=to, key=out.key, causation_id=msg.id)
        return True

    def _publish(self, out: Message, cause: str) -> None:
        ctx = self.ctx
        self.bump("published")
        ctx.emit(TraceEvent(ctx.now, "emitted", out.id, out.channel, self.service.name, None, out.key, 0, None,
                            {"causation_id": cause}))
        ctx.publish(out.channel, out, producer=self.service.name)

    # ------------------------------------------------------------------ the relay

    def _service_up(self) -> bool:
        return any(i.state == "running" for i in self.service.instances)

    def _poll(self, _: Any) -> None:
        ctx = self.ctx
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
                            waited=ctx.now - entry.written)
                # The same message id on every send, so the downstream can deduplicate.
                ctx.publish(msg.channel, msg.copy(published_at=ctx.now), producer=self.name)
                sent.append(entry)
            # Marking the rows as sent is its own transaction; when it fails they are sent again.
            if sent and self.rng.random() >= self.spec.commit_failure:
                done = {id(e) for e in sent}
                self.table = [e for e in self.table if id(e) not in done]
            self.state["pending"] = len(self.table)
        if not ctx.done():
            ctx.kernel.at(ctx.now + self.spec.relay.poll_interval, self._poll, None, PRIO_ACTOR)
