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
from evtool.sim.patterns.request_reply import RequestReplyActor, inbox_names
from evtool.sim.patterns.saga import ChoreographedSaga, OrchestratedSaga, reply_queue

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
    "pattern_channels",
]


def pattern_channels(scenario: m.Scenario) -> tuple[dict[str, list[str]], list[str]]:
    """What the scenario's patterns read on the broker, known before the run (a real broker's topology is
    declared then): the groups their subscriptions use, by channel (a pattern reads a topic or log under its
    own name, a request-reply responder under its name, like a consumer), and the private queues they
    declare themselves (request-reply inboxes, an orchestrated saga's reply queue when it names none)."""
    groups: dict[str, list[str]] = {}
    private: list[str] = []

    def reads(channel: str, group: str) -> None:
        lst = groups.setdefault(channel, [])
        if group not in lst:
            lst.append(group)

    for name, spec in scenario.patterns.items():
        if isinstance(spec, m.RequestReplyPattern):
            reads(spec.channel, spec.responder.name)
            for inbox in inbox_names(name, spec):
                private.append(inbox)
                reads(inbox, name)
        elif isinstance(spec, m.SagaPattern):
            reads(spec.trigger.from_, name)
            if spec.style == "choreography":
                for ch in spec.observe:
                    reads(ch, name)
            else:
                reply = reply_queue(name, spec)
                if spec.reply_channel is None:
                    private.append(reply)
                reads(reply, name)
        elif isinstance(spec, m.EventSourcedAggregatePattern):
            reads(spec.commands.from_, name)
    return groups, private


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
