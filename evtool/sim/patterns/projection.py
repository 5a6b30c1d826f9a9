"""A projection (the query side of CQRS): a read model built from an aggregate's events, with lag.

The projection follows the source aggregate's global event log one event
at a time (`apply_time` each) and applies the aggregate's own `apply`
effects per aggregate id, so the read model is the write model as of the
projection's position. Its lag (events behind the head) is on every
`projection_updated`. Queries (`queries:` arrivals) read one aggregate: a
read older than the write side's version is a `stale_read`. At
`rebuild_at` the read model is dropped and replayed from position zero
(`projection_rebuilt`), which is when stale reads pile up.

What assertions read as `state.<pattern>.<field>`: `position`, `lag` (events
behind the head now), `checkpoint`, `updates`, `rebuilds`, `stale_reads`,
`fresh_reads`, `read_model`, and `rebuild_time`: how long the last rebuild
took to catch up with the head (while it has not, how long it has run so
far, as of its last applied event).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from evtool.scenario import models as m
from evtool.sim.effects import initial_state
from evtool.sim.kernel import PRIO_ACTOR
from evtool.sim.patterns.base import PatternActor
from evtool.sim.patterns.event_sourcing import EventSourcedAggregateActor, StoredEvent
from evtool.sim.producer import ProducerActor
from evtool.sim.sampling import duration_sampler

if TYPE_CHECKING:
    from evtool.sim.context import ActorContext


class QueryLoad(ProducerActor):
    """The arrival process of read-model queries."""

    def __init__(self, ctx: ActorContext, projection: ProjectionActor, spec: m.Producer) -> None:
        super().__init__(ctx, f"{projection.name}.queries", spec)
        self.projection = projection

    def publish_one(self, *, payload: Any = None, tag: str | None = None, key: str | None = None,
                    msg_id: str | None = None, headers: dict[str, Any] | None = None) -> None:
        """One query against the read model."""
        self.sent += 1
        self.projection.query(self.sent)


class ProjectionActor(PatternActor):
    """Follows an event-sourced aggregate's log and keeps a read model of it."""

    def __init__(self, ctx: ActorContext, name: str, spec: m.ProjectionPattern,
                 source: EventSourcedAggregateActor) -> None:
        super().__init__(ctx, name)
        self.spec = spec
        self.source = source
        self.apply_time = duration_sampler(spec.apply_time)
        self.rng: random.Random = ctx.stream(f"pattern:{name}/apply")
        self.query_rng: random.Random = ctx.stream(f"pattern:{name}/queries")
        self.position = 0
        self.epoch = 0
        self.busy = False
        self.over_budget = False
        self.rebuild_started: int | None = None
        self.read_model: dict[str, dict[str, Any]] = {}
        self.seen_version: dict[str, int] = {}
        source.listeners.append(self._on_append)
        self.queries: QueryLoad | None = None
        if spec.queries is not None:
            # Only the arrival process is used: a query publishes nothing, so `to` is never read.
            self.queries = QueryLoad(ctx, self, m.Producer.model_validate({"to": name, "arrival": spec.queries}))
        self.state.update(position=0, lag=0, checkpoint=0, updates=0, rebuilds=0, stale_reads=0, fresh_reads=0,
                          rebuild_time=0, read_model=self.read_model)

    def start(self) -> None:
        """Start at the head (`start_from: latest`), schedule the rebuild and the queries."""
        ctx = self.ctx
        if self.spec.start_from == "latest":
            self.position = len(self.source.log)
        if self.spec.rebuild_at is not None:
            ctx.kernel.at(self.spec.rebuild_at, self._rebuild, None, PRIO_ACTOR)
        if self.queries is not None:
            self.queries.start()

    def idle(self) -> bool:
        """True when the read model has caught up with the source."""
        return self.position >= len(self.source.log) and not self.busy

    def arrivals_pending(self) -> bool:
        """True until the queries have stopped and the rebuild (if any) has started."""
        if self.queries is not None and not self.queries.stopped:
            return True
        return self.spec.rebuild_at is not None and self.ctx.now < self.spec.rebuild_at

    @property
    def head(self) -> int:
        """The source log's last position."""
        return len(self.source.log)

    # ------------------------------------------------------------------ following the log

    def _on_append(self, _ev: StoredEvent) -> None:
        self._pump()

    def _pump(self) -> None:
        if self.busy or self.position >= self.head:
            return
        self.busy = True
        self.ctx.kernel.at(self.ctx.now + self.apply_time(self.rng), self._apply, self.epoch, PRIO_ACTOR)

    def _apply(self, epoch: int) -> None:
        self.busy = False
        if epoch != self.epoch:  # a rebuild started while this event was being applied
            self._pump()
            return
        ev = self.source.log[self.position]
        self.position += 1
        model = self.read_model.get(ev.aggregate)
        if model is None:
            model = self.read_model[ev.aggregate] = initial_state(self.source.spec.state)
        self.source.model.apply(model, ev, self.ctx.params)
        self.seen_version[ev.aggregate] = ev.version
        lag = self.head - self.position
        lag_ns = self.ctx.now - ev.t
        self.bump("updates")
        self.state["position"] = self.position
        self.state["lag"] = lag
        if self.position % self.spec.checkpoint.every == 0 or lag == 0:
            self.state["checkpoint"] = self.position
        self.record("projection_updated", ev.id, key=ev.aggregate, position=self.position, lag=lag, lag_ns=lag_ns)
        if self.rebuild_started is not None:
            self.state["rebuild_time"] = self.ctx.now - self.rebuild_started
            if lag == 0:
                self.rebuild_started = None
        budget = self.spec.lag_budget
        if budget is not None:
            if lag_ns > budget and not self.over_budget:
                self.over_budget = True
                self.record("alert_raised", ev.id, alert=f"{self.name}.lag_budget", lag_ns=lag_ns, budget=budget)
            elif lag_ns <= budget:
                self.over_budget = False
        self._pump()

    def _rebuild(self, _: Any) -> None:
        dropped = self.position
        self.epoch += 1
        self.position = 0
        self.read_model.clear()
        self.seen_version.clear()
        self.bump("rebuilds")
        self.rebuild_started = self.ctx.now if self.head else None  # an empty log is rebuilt at once
        self.state["rebuild_time"] = 0
        self.state["position"] = 0
        self.state["checkpoint"] = 0
        self.record("projection_rebuilt", None, dropped_position=dropped, head=self.head)
        self._pump()

    # ------------------------------------------------------------------ reads

    def query(self, n: int) -> None:
        """Read one aggregate from the read model; report it stale if the write side is ahead."""
        ids = sorted(self.source.streams)
        if not ids:
            return
        agg = ids[self.query_rng.randrange(len(ids))]
        current = self.source.version(agg)
        seen = self.seen_version.get(agg, 0)
        if seen < current:
            self.bump("stale_reads")
            self.record("stale_read", f"{self.name}-q{n}", key=agg, read_version=seen, current_version=current,
                        behind=current - seen, lag=self.head - self.position)
        else:
            self.bump("fresh_reads")
