"""The scenario's `patterns:` as actors of the engine.

One module per pattern: request-reply (`request_reply`), sagas (`saga`),
event-sourced aggregates (`event_sourcing`), projections (`projection`) and
the transactional outbox (`outbox`). `build_patterns(ctx)` builds them in
an order where a projection finds its source aggregate; the engine then
calls `start()` on each at virtual time 0 and `idle()` while draining.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evtool.scenario import models as m
from evtool.sim.patterns.base import PatternActor
from evtool.sim.patterns.event_sourcing import EventSourcedAggregateActor
from evtool.sim.patterns.outbox import OutboxActor
from evtool.sim.patterns.projection import ProjectionActor
from evtool.sim.patterns.request_reply import RequestReplyActor
from evtool.sim.patterns.saga import ChoreographedSaga, OrchestratedSaga

if TYPE_CHECKING:
    from evtool.sim.context import ActorContext

__all__ = [
    "ChoreographedSaga",
    "EventSourcedAggregateActor",
    "OrchestratedSaga",
    "OutboxActor",
    "PatternActor",
    "ProjectionActor",
    "RequestReplyActor",
    "build_patterns",
]


def build_patterns(ctx: ActorContext) -> list[PatternActor]:
    """One actor per pattern of the scenario, in declaration order (aggregates before their projections)."""
    specs = ctx.scenario.patterns
    built: dict[str, PatternActor] = {}
    for name, spec in specs.items():
        if isinstance(spec, m.EventSourcedAggregatePattern):
            built[name] = EventSourcedAggregateActor(ctx, name, spec)
    for name, spec in specs.items():
        if isinstance(spec, m.RequestReplyPattern):
            built[name] = RequestReplyActor(ctx, name, spec)
        elif isinstance(spec, m.SagaPattern):
            built[name] = (ChoreographedSaga if spec.style == "choreography" else OrchestratedSaga)(ctx, name, spec)
        elif isinstance(spec, m.ProjectionPattern):
            source = built.get(spec.source)
            if not isinstance(source, EventSourcedAggregateActor):
                raise ValueError(f"pattern {name}: source {spec.source!r} is not an event_sourced_aggregate pattern")
            built[name] = ProjectionActor(ctx, name, spec, source)
        elif isinstance(spec, m.OutboxPattern):
            built[name] = OutboxActor(ctx, name, spec)
    return [built[name] for name in specs]
