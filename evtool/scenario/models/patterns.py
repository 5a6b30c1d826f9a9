"""`patterns:`: request/reply, sagas, event-sourced aggregates, projections and the outbox."""


from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from evtool.scenario.models.actors import (
    Arrival,
    Effect,
    FailRule,
    Idempotency,
    RetryPolicy,
    _idempotency_off,
)
from evtool.scenario.models.base import MAX_COUNT, MAX_INSTANCES, Model
from evtool.scenario.models.values import DurationDist
from evtool.scenario.types import Duration, Name, PositiveDuration

# --------------------------------------------------------------------------- patterns


class Requester(Model):
    """The calling side of request-response."""

    name: Name
    instances: int = Field(1, ge=1, le=MAX_INSTANCES)
    arrival: Arrival
    count: int | None = Field(None, ge=1, le=MAX_COUNT)
    message: str = "Request"
    payload: dict[str, Any] = Field(default_factory=dict)
    timeout: PositiveDuration
    retry: RetryPolicy | None = None
    new_correlation_id_per_attempt: bool = True


class Responder(Model):
    """The answering side of request-response."""

    name: Name
    instances: int = Field(1, ge=1, le=MAX_INSTANCES)
    concurrency: int = Field(1, ge=1, le=1024)
    message: str = "Reply"
    processing: DurationDist = "10ms"
    fail_if: list[FailRule] = Field(default_factory=list)
    idempotency: Idempotency | None = None

    @field_validator("idempotency", mode="before")
    @classmethod
    def _idem_off(cls, v: Any) -> Any:
        return _idempotency_off(v)


class RequestReplyPattern(Model):
    """Request-response over channels: correlation ids, reply-to, timeouts, late replies."""

    type: Literal["request_reply"]
    channel: Name
    reply_to: Literal["per_requester_inbox", "shared_reply_queue"] = "per_requester_inbox"
    requester: Requester
    responder: Responder
    late_replies: Literal["count_and_discard"] = "count_and_discard"


class Command(Model):
    """A command a saga sends."""

    to: Name
    command: str


class SagaStep(Model):
    """One step of a saga: a command, its timeout and retry, and its compensation."""

    name: Name
    send: Command
    timeout: PositiveDuration
    retry: RetryPolicy | None = None
    compensate: Command | None = None
    pivot: bool = False
    # choreography: the event types that tell the saga observer how the step went
    completed_by: str | None = Field(None, description="choreography: the event type that means the step succeeded")
    failed_by: list[str] = Field(default_factory=list,
                                 description="choreography: event types that mean the step failed")
    compensated_by: str | None = Field(None,
                                       description="choreography: the event type that means the step was undone")


class Compensation(Model):
    """How a saga undoes its steps."""

    order: Literal["reverse"] = "reverse"
    include: list[Literal["completed", "uncertain"]] = Field(default_factory=lambda: ["completed", "uncertain"])
    retry: RetryPolicy | None = None


class Trigger(Model):
    """What starts a saga instance."""

    from_: Name = Field(alias="from")
    message: str | None = None


class SagaPattern(Model):
    """An orchestrated (or choreographed) saga with compensation."""

    type: Literal["saga"]
    style: Literal["orchestration", "choreography"] = "orchestration"
    trigger: Trigger
    correlation: str = "msg.id"
    reply_channel: Name | None = None
    deadline: PositiveDuration | None = None
    steps: list[SagaStep] = Field(min_length=1)
    compensation: Compensation = Field(default_factory=Compensation)
    observe: list[Name] = Field(default_factory=list,
                                description="choreography: the channels (topics or logs) whose events the saga watches")


class Snapshotting(Model):
    """Store a snapshot every N events so replay is cut short."""

    every: int = Field(ge=1)


class EventSourcedAggregatePattern(Model):
    """An aggregate whose state is its event stream, with optimistic concurrency and snapshots."""

    type: Literal["event_sourced_aggregate"]
    commands: Trigger
    events: list[str] = Field(min_length=1, description="event types, optionally `Name@version`")
    invariants: list[str] = Field(default_factory=list)
    snapshot: Snapshotting | None = None
    concurrency: Literal["optimistic", "none"] = "optimistic"
    state: dict[str, Any] = Field(default_factory=dict)
    apply: dict[str, list[Effect]] = Field(default_factory=dict, description="event type -> effects on state")
    replay_cost: Duration = Field("100us", description="virtual time to apply one event during replay")
    id: str = Field("msg.key", description="an expression: the aggregate a command is for")
    decide: dict[str, str] = Field(default_factory=dict,
                                   description="command type -> the event type it appends (default: the same name, "
                                   "or msg.payload.event)")
    processing: DurationDist = Field("1ms", description="time to decide a command after loading the aggregate")
    conflict_retries: int = Field(3, ge=0, description="reload-and-retry attempts after a concurrency conflict")
    stream: Name | None = Field(None, description="a channel every appended event is also published to")


class Checkpoint(Model):
    """How often a projection records its position."""

    every: int = Field(1, ge=1)


class ProjectionPattern(Model):
    """A read model built from an aggregate's events, with lag and rebuild (CQRS)."""

    type: Literal["projection"]
    source: Name = Field(description="the event_sourced_aggregate pattern it reads")
    start_from: Literal["earliest", "latest"] = "earliest"
    apply_time: DurationDist = "5ms"
    checkpoint: Checkpoint = Field(default_factory=Checkpoint)
    rebuild_at: Duration | None = None
    lag_budget: Duration | None = None
    queries: Arrival | None = Field(None, description="read-model queries, to show stale reads")


class Relay(Model):
    """The outbox relay: polls the outbox table and publishes."""

    poll_interval: PositiveDuration = "500ms"
    batch: int = Field(50, ge=1)
    to: Name


class OutboxPattern(Model):
    """Transactional outbox against the dual write."""

    type: Literal["outbox"]
    service: Name = Field(description="the consumer whose emits go through the outbox")
    mode: Literal["outbox", "dual_write_commit_first", "dual_write_publish_first"] = "outbox"
    relay: Relay
    publish_failure: float = Field(0.0, ge=0.0, le=1.0, description="chance a direct publish fails (dual write)")
    commit_failure: float = Field(0.0, ge=0.0, le=1.0, description="chance a commit fails after publishing")


Pattern = Annotated[
    RequestReplyPattern | SagaPattern | EventSourcedAggregatePattern | ProjectionPattern | OutboxPattern,
    Field(discriminator="type"),
]


