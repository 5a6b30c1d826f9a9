"""`producers:` and `consumers:`: arrivals, retry policies, handlers, effects and emits."""


from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from evtool.scenario.models.base import MAX_AT_ONCE, MAX_COUNT, MAX_EMITS, MAX_INSTANCES, Model, _custom
from evtool.scenario.models.values import DurationDist, KeyDist
from evtool.scenario.presets import apply_preset
from evtool.scenario.types import Duration, Name, PositiveDuration, Rate, Size

# --------------------------------------------------------------------------- arrivals


class ConstantArrival(Model):
    """Evenly spaced publishes."""

    process: Literal["constant"]
    rate: Rate


class PoissonArrival(Model):
    """Random (memoryless) arrivals at an average rate."""

    process: Literal["poisson"]
    rate: Rate


class BurstArrival(Model):
    """`size` messages at once, every `every`."""

    process: Literal["burst"]
    size: int = Field(ge=1, le=MAX_AT_ONCE)
    every: PositiveDuration


class Stage(Model):
    """One stage of a staged load: a rate held for a while."""

    rate: Rate
    for_: PositiveDuration = Field(alias="for")


class StagesArrival(Model):
    """A sequence of rates, each for a relative duration; ends unless `repeat`."""

    process: Literal["stages"]
    shape: Literal["constant", "poisson"] = "poisson"
    stages: list[Stage] = Field(min_length=1)
    repeat: bool = False


class OnceArrival(Model):
    """All `count` messages at the start (or at `at`)."""

    process: Literal["once"]
    at: Duration = "0s"


Arrival = Annotated[
    ConstantArrival | PoissonArrival | BurstArrival | StagesArrival | OnceArrival,
    Field(discriminator="process"),
]


# --------------------------------------------------------------------------- retry


class Backoff(Model):
    """How long to wait before the next attempt."""

    type: Literal["none", "constant", "linear", "exponential"] = "exponential"
    delay: Duration | None = Field(None, description="constant: the delay; linear: the step")
    initial: Duration | None = Field(None, description="exponential: the first delay")
    multiplier: float = Field(2.0, ge=1.0, le=1000)
    max: Duration | None = Field(None, description="cap on any one delay")
    jitter: Literal["none", "full", "equal", "decorrelated"] = "none"

    @model_validator(mode="after")
    def _fields(self) -> 'Backoff':
        if self.type in ("constant", "linear") and self.delay is None:
            raise _custom("evtool_missing", f"`{self.type}` backoff needs `delay`",
                          f"e.g. {{type: {self.type}, delay: 100ms}}", at="type")
        if self.type == "exponential" and self.initial is None:
            raise _custom("evtool_missing", "`exponential` backoff needs `initial`",
                          "e.g. {type: exponential, initial: 1s, multiplier: 2, max: 30s, jitter: full}",
                          at="type")
        return self


def _retry_schema(schema: dict[str, Any]) -> None:
    """In the JSON Schema, `preset` stands in for the keys a retry object otherwise needs."""
    needed = [k for k in ("max_attempts", "on_exhausted") if k in schema.get("required", [])]
    schema["required"] = [k for k in schema.get("required", []) if k not in needed]
    if not schema["required"]:
        del schema["required"]
    schema["anyOf"] = [{"required": ["preset"]}, {"required": needed}]


class RetryPolicy(Model):
    """The one retry object, used by consumers, requesters and saga steps alike.

    `max_attempts` counts every attempt including the first delivery. A `preset`
    fills in a framework's documented defaults (evtool/scenario/presets.py) under
    the keys written next to it.
    """

    model_config = ConfigDict(json_schema_extra=_retry_schema)

    preset: Literal["spring-cloud-stream", "camel-dead-letter-channel"] | None = Field(
        None, description="a framework's documented retry defaults; keys written next to it win")
    max_attempts: int | Literal["forever"] = Field(description="total attempts, the first included")
    backoff: Backoff = Field(default_factory=lambda: Backoff(type="none"))
    mode: Literal["in_place", "redeliver", "republish"] = Field(
        "redeliver",
        description="in_place: retry in the handler (holds the slot); redeliver: nack with delay, the broker "
        "counts; republish: the app publishes a fresh copy later (the broker's counter resets)",
    )
    retry_on: Literal["any"] | list[str] = "any"
    non_retryable: list[str] = Field(default_factory=list)
    on_exhausted: Literal["dead_letter", "drop", "park", "requeue", "fallback", "error", "compensate"] = Field(
        description="what happens after the last attempt (required: a retry policy without it leaves messages "
        "neither acked nor nacked)"
    )

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        # Before the fields are checked, so an explicit key wins and a preset supplies the required ones.
        return apply_preset(data)

    @field_validator("max_attempts")
    @classmethod
    def _attempts(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 1:
            raise _custom("evtool_range", "max_attempts must be at least 1 (it counts the first attempt)",
                          "1 means no retry; write `forever` for no limit")
        return v


# --------------------------------------------------------------------------- producers


class Inject(Model):
    """A scripted special message (poison, huge, out of order)."""

    at: Duration
    tag: str | None = None
    key: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    headers: dict[str, Any] = Field(default_factory=dict)
    count: int = Field(1, ge=1, le=MAX_AT_ONCE)
    id: str | None = Field(None, description="a fixed message id, e.g. POISON-1")
    ttl: PositiveDuration | None = Field(None, description="per-message time to live (the producer's by default)")
    size: Size | None = Field(None, description="the message's nominal size (`msg.size`), e.g. `2MB` for an oversized one")


class Producer(Model):
    """A load generator publishing to one channel."""

    to: Name
    message: str = Field("Message", description="the message type")
    version: int = Field(1, ge=1, description="the schema version it writes (older ones are upcast on read)")
    arrival: Arrival
    count: int | None = Field(None, ge=1, le=MAX_COUNT, description="stop after this many messages")
    start: Duration = "0s"
    stop: Duration | None = None
    instances: int = Field(1, ge=1, le=MAX_INSTANCES)
    key: KeyDist | None = None
    sequence: Literal["none", "per_key", "global"] = "none"
    payload: dict[str, Any] = Field(default_factory=dict)
    headers: dict[str, Any] = Field(default_factory=dict)
    routing_key: str | None = Field(None, description="routing key template for routers")
    tag: str | None = None
    size: Size | None = Field(None, description="each message's nominal size (`msg.size`), e.g. `4KiB`")
    ttl: PositiveDuration | None = Field(None, description="per-message time to live; with a channel ttl the "
                                         "lower wins")
    dedup_id: Literal["message_id", "none"] | None = Field(
        None, description="the dedup id its messages carry: message_id | none; default from the profile "
        "(`producer_dedup_id`: message_id for sqs-fifo, none elsewhere)")
    inject: list[Inject] = Field(default_factory=list)
    confirm: bool = True
    idempotent: bool = False
    max_in_flight: int = Field(1, ge=1)
    retry: RetryPolicy | None = None

    @model_validator(mode="after")
    def _max_needs_count(self) -> 'Producer':
        rate = getattr(self.arrival, "rate", None)
        if rate == float("inf") and self.count is None:
            raise _custom("evtool_missing", "`rate: max` needs `count`",
                          "as fast as possible never ends on its own; say how many messages, e.g. `count: 10000`",
                          at="arrival.rate")
        if self.arrival.process == "once" and self.count is None:
            raise _custom("evtool_missing", "`process: once` needs `count`", "e.g. `count: 10`", at="arrival.process")
        if self.arrival.process == "once" and self.count is not None and self.count > MAX_AT_ONCE:
            raise _custom("evtool_range", f"`process: once` publishes at most {MAX_AT_ONCE:,} messages at one instant",
                          "spread them out: `process: constant` with `rate: max` and the same `count`", at="count")
        return self


# --------------------------------------------------------------------------- consumers


class FailRule(Model):
    """When a handler fails: by expression or probability; optionally crashing the instance."""

    when: str | None = Field(None, description="an expression over msg, state, key, attempt")
    probability: float | None = Field(None, ge=0.0, le=1.0)
    error: str = Field("Error", description="the error name (retry_on and non_retryable match it)")
    retryable: bool = True
    crash: bool = Field(False, description="the instance crashes instead of failing the message")
    reply_with_error: bool = False

    @model_validator(mode="after")
    def _one_trigger(self) -> 'FailRule':
        if self.when is None and self.probability is None:
            raise _custom("evtool_missing", "a fail_if rule needs `when` or `probability`",
                          "e.g. {when: \"msg.payload.amount < 0\", error: ParseError}")
        return self


class Idempotency(Model):
    """A dedup store: a message whose key was seen within the window is not processed again."""

    key: str = Field("msg.id", description="an expression: msg.id, msg.payload.orderId, ...")
    window: PositiveDuration = "1h"
    cache_reply: bool = False


def _idempotency_off(value: Any) -> Any:
    if value is False or value in ("off", "none", "false"):
        return None
    return value


class Effect(Model):
    """A change to the service's state, applied atomically when a handler succeeds."""

    set: str | None = None
    inc: str | None = None
    dec: str | None = None
    add: str | None = None
    remove: str | None = None
    append: str | None = None
    by: str | int | float | None = None
    value: Any = None

    @model_validator(mode="after")
    def _one_op(self) -> 'Effect':
        ops = [k for k in ("set", "inc", "dec", "add", "remove", "append") if getattr(self, k) is not None]
        if len(ops) != 1:
            raise _custom("evtool_effect", "an effect names exactly one of set, inc, dec, add, remove, append",
                          "e.g. {inc: revenue, by: msg.payload.amount}")
        return self


class Emit(Model):
    """A follow-up message published when a handler succeeds (causation = the handled message)."""

    to: Name
    message: str = "Event"
    payload: dict[str, Any] = Field(default_factory=dict)
    key: str | None = Field(None, description="template; default: the handled message's key")
    via_outbox: bool = False
    when: str | None = Field(None, description="emit only when this expression holds")


class Handler(Model):
    """What a consumer does with one message type."""

    processing: DurationDist | None = None
    fail_if: list[FailRule] = Field(default_factory=list)
    effects: list[Effect] = Field(default_factory=list)
    emit: list[Emit] = Field(default_factory=list, max_length=MAX_EMITS)


class Commit(Model):
    """When a log consumer commits its offsets."""

    mode: Literal["per_message", "periodic", "per_batch"] = "periodic"
    interval: PositiveDuration = "5s"


class Batch(Model):
    """Consume and ack in batches."""

    size: int = Field(ge=1)
    max_wait: PositiveDuration


class Ordering(Model):
    """The key and sequence number a consumer's messages are ordered by, recorded with each handling."""

    key: str = Field("msg.key", description="an expression: the entity messages are ordered within")
    seq: str = Field("msg.seq", description="an expression: the message's sequence number within its key")


class Consumer(Model):
    """A service: instances that take messages from one channel and handle them."""

    from_: Name = Field(alias="from")
    group: str | None = Field(None, description="consumer group (topics, logs); default: the consumer's name")
    instances: int = Field(1, ge=1, le=MAX_INSTANCES)
    concurrency: int = Field(1, ge=1, le=1024)
    prefetch: Annotated[int, Field(ge=1)] | Literal["unlimited"] | None = Field(
        None, description="unacked deliveries per instance (`unlimited`: no limit, RabbitMQ basic.qos 0); "
        "default from the profile")
    ack: Literal["manual", "auto"] = "manual"
    processing: DurationDist = "10ms"
    fail_if: list[FailRule] = Field(default_factory=list)
    effects: list[Effect] = Field(default_factory=list)
    emit: list[Emit] = Field(default_factory=list, max_length=MAX_EMITS)
    handles: dict[str, Handler] = Field(default_factory=dict, description="per message type behaviour")
    state: dict[str, Any] = Field(default_factory=dict)
    reply: Literal["none", "auto"] = "none"
    idempotency: Idempotency | None = None
    business_key: str | None = Field(
        None, description="an expression naming what the handler's effects are about (msg.payload.orderId); "
        "recorded with each handling as `bkey`, so `effectively_once` can judge by it")
    ordering: Ordering | None = Field(
        None, description="the key and sequence number the messages are ordered by; recorded with each "
        "handling as `okey` and `oseq`, so `per_key_order` can judge by them")
    retry: RetryPolicy | None = None
    dead_letter: Name | None = None
    # logs
    assignment: Literal["range", "round_robin", "cooperative_sticky"] | None = Field(
        None, description="partition assignment strategy; default from the profile")
    session_timeout: PositiveDuration | None = Field(
        None, description="how long a crashed member keeps its partitions; default from the profile (45 s)")
    dispatch: Literal["per_partition", "per_key", "unordered"] = "per_partition"
    commit: Commit = Field(default_factory=Commit)
    start_from: Literal["earliest", "latest", "committed"] = Field(
        "committed", description="where a new topic subscription or log group starts: earliest, latest, or "
        "committed (none yet: latest on a topic, the profile's log_start on a log)")
    batch: Batch | None = None
    start: Duration = Field("0s", description="when the consumer's instances start (a late subscriber)")
    description: str | None = None

    @field_validator("idempotency", mode="before")
    @classmethod
    def _idem_off(cls, v: Any) -> Any:
        return _idempotency_off(v)


