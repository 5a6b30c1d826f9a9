"""The scenario language, version 1, as pydantic models.

A scenario is an experiment, a test and a lesson at once. Named maps hold
everything another part can refer to (`channels`, `producers`, `consumers`,
`patterns`); lists hold what is ordered in time (`faults`, `expect`,
`lesson.steps`). Every model forbids unknown keys, so a misspelt key is an
error with a did-you-mean hint rather than a silently ignored setting.

`docs/scenario-language.md` is the reference for users; keep the two in step.
"""

from __future__ import annotations

import re
import string
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator
from pydantic_core import PydanticCustomError

from evtool.scenario.presets import apply_preset
from evtool.scenario.types import Duration, Level, Name, PositiveDuration, Rate, Size

LANGUAGE_VERSION = "1"

PROFILES = (
    "default",
    "rabbitmq-classic",
    "rabbitmq-quorum",
    "sqs-standard",
    "sqs-fifo",
    "kafka",
    "nats-jetstream",
    "redis-streams",
)
Profile = Literal[
    "default", "rabbitmq-classic", "rabbitmq-quorum", "sqs-standard", "sqs-fifo", "kafka", "nats-jetstream",
    "redis-streams",
]


class Model(BaseModel):
    """Base of every scenario model: strict keys, immutable once loaded."""

    # `.inf` and `.nan` are YAML floats, but no number field means them (`rate: max` is a word).
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, validate_default=True,
                              allow_inf_nan=False)


MAX_COUNT = 1_000_000_000
"""The most messages one producer may be asked for (the run's message budget stops it sooner)."""
MAX_AT_ONCE = 1_000_000
"""The most messages published in one instant (`once`, a burst, an inject): they are built at once."""
MAX_INSTANCES = 256
"""The most instances of a producer, consumer, requester or responder."""
MAX_KEY_SPACE = 10**12
"""The most distinct keys; keys are drawn without listing them."""
MAX_EMITS = 64
"""The most messages one handler may emit per message it handles."""


def _custom(code: str, message: str, hint: str = "", *, at: str = "", **ctx: Any) -> PydanticCustomError:
    """A located error; `at` is a dotted sub-path of the model the loader points at (`arrival.rate`)."""
    return PydanticCustomError(code, message, {**ctx, "hint": hint, "at": at})


# --------------------------------------------------------------------------- distributions


class ConstantDist(Model):
    """Always the same value."""

    dist: Literal["constant"]
    value: Duration


class UniformDist(Model):
    """Uniform between `min` and `max`."""

    dist: Literal["uniform"]
    min: Duration
    max: Duration

    @model_validator(mode="after")
    def _ordered(self) -> UniformDist:
        if self.max < self.min:
            raise _custom("evtool_range", "`max` is below `min`", "swap them, or make max at least min", at="max")
        return self


class ExponentialDist(Model):
    """Exponential with the given mean (memoryless service times)."""

    dist: Literal["exponential"]
    mean: PositiveDuration


class NormalDist(Model):
    """Normal with `mean` and `stddev`, cut at zero."""

    dist: Literal["normal"]
    mean: Duration
    stddev: Duration


class LognormalDist(Model):
    """Lognormal given by its median and 99th percentile (a long tail)."""

    dist: Literal["lognormal"]
    median: PositiveDuration
    p99: PositiveDuration

    @model_validator(mode="after")
    def _tail(self) -> LognormalDist:
        if self.p99 < self.median:
            raise _custom("evtool_range", "`p99` is below `median`", "the 99th percentile is at least the median",
                          at="p99")
        return self


DIST_NAMES = ("constant", "uniform", "exponential", "normal", "lognormal")
"""Every `dist:` a random duration may name."""


def _dist_tag(value: Any) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool):
        return "shorthand"
    if isinstance(value, dict):
        return value.get("dist")
    return None


DurationDist = Annotated[
    Annotated[ConstantDist, Tag("constant")]
    | Annotated[UniformDist, Tag("uniform")]
    | Annotated[ExponentialDist, Tag("exponential")]
    | Annotated[NormalDist, Tag("normal")]
    | Annotated[LognormalDist, Tag("lognormal")]
    | Annotated[Duration, Tag("shorthand")],
    Discriminator(_dist_tag, custom_error_type="evtool_dist",
                  custom_error_message="expected a duration (`30ms`) or a distribution "
                                       "{dist: constant|uniform|exponential|normal|lognormal, ...}"),
]
"""A random duration: a plain duration means constant."""


class KeyDist(Model):
    """How a producer picks message keys."""

    dist: Literal["uniform", "zipf", "round_robin", "fixed", "sequence"]
    space: int | None = Field(None, ge=1, le=MAX_KEY_SPACE,
                              description="number of distinct keys (uniform, zipf, round_robin)")
    s: float = Field(1.1, gt=0, le=100, description="zipf exponent: higher means hotter hot keys")
    value: str | None = Field(None, description="the key for `fixed`")
    format: str = Field("key-{n}", description="how key number n is written, e.g. `acct-{n:03d}`")

    @model_validator(mode="after")
    def _fields(self) -> KeyDist:
        if self.dist == "fixed" and self.value is None:
            raise _custom("evtool_missing", "`fixed` keys need `value`", "e.g. {dist: fixed, value: acct-001}",
                          at="dist")
        if self.dist in ("uniform", "zipf", "round_robin") and self.space is None:
            raise _custom("evtool_missing", f"`{self.dist}` keys need `space` (how many keys)",
                          "e.g. {dist: zipf, space: 50, s: 1.1}", at="dist")
        problem = _key_format_problem(self.format)
        if problem:
            raise _custom("evtool_format", "`format` is not a valid key format: {err}",
                          "use `{n}` for the key number, e.g. `acct-{n:03d}`", at="format", err=problem)
        return self


_FORMAT_SPEC_RE = re.compile(r"^[<>^=]?[+\- ]?#?0?\d{0,2}[,_]?(\.\d{1,2})?[bdoxX]?$")


def _key_format_problem(fmt: str) -> str | None:
    """Why `fmt` is not a safe key format (only `{n}` with a short integer spec), or None."""
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError as exc:
        return str(exc)
    for _text, name, spec, conversion in fields:
        if name is None:
            continue
        if name != "n":
            return f"`{{{name}}}` is not `{{n}}`"
        if conversion or not _FORMAT_SPEC_RE.match(spec or ""):
            return f"`{{n:{spec}}}` is not a short number format such as `{{n:03d}}`"
    return None


# --------------------------------------------------------------------------- run and broker


class Drain(Model):
    """After the load phase: wait until nothing is ready, in flight or delayed."""

    max: PositiveDuration = Field("1m", description="give up draining after this long")


DEFAULT_MAX_EVENTS = 5_000_000
"""Kernel events a run may process; the largest bundled lesson needs about 100,000."""
DEFAULT_MAX_MESSAGES = 2_000_000
"""Messages a run may publish; the largest bundled lesson publishes about 50,000."""
DEFAULT_EVENTS_PER_INSTANT = 50_000
"""Kernel events at one virtual instant before the run counts as a zero-time loop (lessons: at most 16)."""
BUDGET_CEILING = 10**12
"""No budget may be set above this: a number this large is a typo, not a run."""


class Budget(Model):
    """What one run may consume before it is stopped as `unknown` (a scenario from elsewhere is safe to run)."""

    events: int = Field(DEFAULT_MAX_EVENTS, ge=1, le=BUDGET_CEILING,
                        description="kernel events the run may process; `--max-events` overrides it")
    messages: int = Field(DEFAULT_MAX_MESSAGES, ge=1, le=BUDGET_CEILING,
                          description="messages the run may publish; `--max-messages` overrides it")
    wall: PositiveDuration | None = Field(None, description="wall-clock time the run may take; `--max-wall` "
                                                            "overrides it")
    events_per_instant: int = Field(DEFAULT_EVENTS_PER_INSTANT, ge=1, le=BUDGET_CEILING,
                                    description="events at one virtual instant before the run is stopped "
                                                "as a zero-time loop")


class Run(Model):
    """How the run is driven: seed, clock, phases."""

    seed: int = Field(description="the seed of every random stream; `--seed` overrides it")
    clock: Literal["virtual", "realtime"] = "virtual"
    speed: float | Literal["max"] = Field(
        "max", description="virtual seconds per wall second when paced; `max` runs as fast as possible"
    )
    duration: PositiveDuration = Field(description="the load phase: producers are active this long")
    drain: Drain = Field(default_factory=Drain)
    stop_when: str | None = Field(None, description="an assertion that ends the run early when it holds")
    budget: Budget = Field(default_factory=Budget, description="limits on events, messages and wall time")

    @field_validator("speed")
    @classmethod
    def _speed(cls, v: float | str) -> float | str:
        if isinstance(v, float | int) and not (0.01 <= v <= 10_000):
            raise _custom("evtool_range", "speed must be between 0.01 and 10000 (or `max`)", "e.g. `speed: 2`")
        return v


class Broker(Model):
    """The local core's semantics: which broker it imitates, and how far apart hops are."""

    profile: Profile = "default"
    hop_latency: DurationDist = "0s"
    delivery: Literal["at_least_once", "at_most_once"] = "at_least_once"
    persistence: Literal["durable", "memory"] = "durable"
    settings: dict[str, Any] = Field(default_factory=dict,
                                     description="override any field of the profile (see docs/profiles.md)")


# --------------------------------------------------------------------------- schemas


class UpcastRule(Model):
    """A declarative upcaster from one version to the next."""

    set: dict[str, Any] = Field(default_factory=dict)
    rename: dict[str, str] = Field(default_factory=dict)
    drop: list[str] = Field(default_factory=list)


class MessageSchema(Model):
    """A message type, its current version and how older versions are upcast."""

    version: int = Field(1, ge=1)
    fields: dict[str, Literal["string", "integer", "number", "boolean", "object", "array"]] = Field(
        default_factory=dict
    )
    upcast: dict[str, UpcastRule] = Field(default_factory=dict, description='keys like "1->2"')

    @field_validator("upcast")
    @classmethod
    def _upcast_keys(cls, v: dict[str, UpcastRule]) -> dict[str, UpcastRule]:
        for key in v:
            parts = key.split("->")
            if len(parts) != 2 or not all(p.strip().isdigit() for p in parts) or int(parts[1]) != int(parts[0]) + 1:
                raise _custom("evtool_upcast", "upcast key `{key}` must be `N->N+1`", 'e.g. "1->2"', key=key)
        return v


# --------------------------------------------------------------------------- channels

Overflow = Literal["reject_publish", "drop_head", "dead_letter"]


class DeliveryChannel(Model):
    """Fields shared by channels that deliver with acks (queues and subscriptions)."""

    capacity: int | None = Field(None, ge=1, description="most ready messages; none means unbounded")
    overflow: Overflow = "reject_publish"
    ack_timeout: PositiveDuration | None = Field(None, description="the lease; default from the profile")
    ttl: PositiveDuration | None = Field(None, description="message time to live (expires at the head)")
    max_deliveries: int | Literal["unlimited"] | None = Field(None, description="broker-side delivery limit")
    dead_letter: Name | None = Field(None, description="channel that receives dead letters")
    dedup_window: Duration | None = Field(None, description="drop a message whose dedup id was seen within this "
                                          "window (default from the profile)")
    content_based_dedup: bool = Field(False, description="a message without a dedup id gets the SHA-256 of its "
                                      "payload as one (SQS FIFO ContentBasedDeduplication)")
    durable: bool = True
    requeue_position: Literal["head", "original", "tail"] | None = None
    role: Literal["normal", "dead_letter", "retry", "parking_lot"] = "normal"
    description: str | None = None

    @field_validator("max_deliveries")
    @classmethod
    def _max_deliveries(cls, v: int | str | None) -> int | str | None:
        if isinstance(v, int) and v < 1:
            raise _custom("evtool_range", "max_deliveries must be at least 1 (or `unlimited`)",
                          "0 and -1 do not mean unlimited here; write `unlimited`")
        return v


class QueueChannel(DeliveryChannel):
    """Point to point: competing consumers, per-message ack, prefetch."""

    kind: Literal["queue"]


class GroupedQueueChannel(DeliveryChannel):
    """A queue that hands out one message per group at a time, in order (SQS FIFO)."""

    kind: Literal["grouped_queue"]
    group_by: str = Field("key", description="`key`, or `header.NAME`")


class TopicChannel(DeliveryChannel):
    """Publish-subscribe: each consumer group gets its own copy of every message."""

    kind: Literal["topic"]


class Retention(Model):
    """How long a log keeps entries, independently of consumption."""

    time: Duration | Literal["forever"] = "forever"
    count: int | None = Field(None, ge=1)


class LogChannel(Model):
    """A partitioned, append-only log with consumer groups and committed offsets (Kafka)."""

    kind: Literal["log"]
    partitions: int = Field(1, ge=1, le=1024)
    partitioner: Literal["key_hash", "round_robin"] = "key_hash"
    retention: Retention = Field(default_factory=Retention)
    durable: bool = True
    description: str | None = None


class Binding(Model):
    """A router's binding to a channel."""

    to: Name
    pattern: str = Field("", description="routing key (direct) or pattern with `*` and `#` (topic)")


class RouterChannel(Model):
    """Stateless routing by key (an AMQP exchange): direct, fanout or topic."""

    kind: Literal["router"]
    type: Literal["direct", "fanout", "topic"]
    bindings: list[Binding] = Field(min_length=1)
    description: str | None = None


Channel = Annotated[
    QueueChannel | GroupedQueueChannel | TopicChannel | LogChannel | RouterChannel,
    Field(discriminator="kind"),
]


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
    def _fields(self) -> Backoff:
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
    def _max_needs_count(self) -> Producer:
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
    def _one_trigger(self) -> FailRule:
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
    def _one_op(self) -> Effect:
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


# --------------------------------------------------------------------------- faults


class FaultBase(Model):
    """When a fault happens and what it hits."""

    name: str | None = None
    at: Duration = "0s"
    every: PositiveDuration | None = None
    for_: PositiveDuration | Literal["end"] | None = Field(None, alias="for")
    target: str = Field(description="consumer:NAME, consumer:NAME#N, channel:NAME, producer:NAME, broker")
    enabled: bool = True


class CrashFault(FaultBase):
    """Crash consumer instances; they restart after `restart_after` (or never)."""

    action: Literal["crash"]
    restart_after: PositiveDuration | None = None


class RestartFault(FaultBase):
    """Restart a crashed or paused consumer instance."""

    action: Literal["restart"]


class PauseFault(FaultBase):
    """Stop an instance taking work for a while (a GC pause, a zombie)."""

    action: Literal["pause"]


class SlowFault(FaultBase):
    """Make a consumer slower (multiply its processing time, or add latency)."""

    action: Literal["slow"]
    latency_factor: float | None = Field(None, gt=0, le=1_000_000)
    latency: DurationDist | None = None


class ScaleFault(FaultBase):
    """Change a consumer's number of instances."""

    action: Literal["scale"]
    instances: int = Field(ge=0, le=MAX_INSTANCES)


class BrokerRestartFault(FaultBase):
    """Restart the broker: only durable state survives."""

    action: Literal["broker_restart"]
    downtime: Duration = "0s"


class ProbabilisticFault(FaultBase):
    """A fault that hits each message with a probability, within a scope."""

    probability: float = Field(ge=0.0, le=1.0)
    scope: Literal["per_message", "per_instance"] = Field(description="what one draw of the probability covers")


class DropFault(ProbabilisticFault):
    """Lose deliveries."""

    action: Literal["drop"]


class DuplicateFault(ProbabilisticFault):
    """Deliver some messages twice."""

    action: Literal["duplicate"]


class DelayFault(ProbabilisticFault):
    """Hold some deliveries back."""

    action: Literal["delay"]
    latency: DurationDist


class RedriveFault(FaultBase):
    """Send dead letters back to the channel they died in (all of them, or one message)."""

    action: Literal["redrive"]
    message: str | None = Field(None, description="one message id; all dead letters when omitted")


class PoisonFault(FaultBase):
    """Publish a poison message from the timeline."""

    action: Literal["poison"]
    tag: str = "poison"
    payload: dict[str, Any] = Field(default_factory=dict)
    key: str | None = None


Fault = Annotated[
    CrashFault | RestartFault | PauseFault | SlowFault | ScaleFault | BrokerRestartFault | DropFault
    | DuplicateFault | DelayFault | PoisonFault | RedriveFault,
    Field(discriminator="action"),
]


# --------------------------------------------------------------------------- expectations

When = Literal["end", "always", "eventually"]


class CheckBase(Model):
    """Fields every expectation has."""

    name: str | None = None
    when: When = "end"
    within: PositiveDuration | None = None
    because: str | None = None
    allow_unknown: bool = False


class NoLossCheck(CheckBase):
    """Every published message ends acked, dead-lettered or expired by policy, or is accounted for."""

    check: Literal["no_loss"]
    channel: Name | None = None
    group: str | None = None
    count_dead_letters_as_handled: bool = True


class DeadLettersCheck(CheckBase):
    """What ended up in a dead-letter channel."""

    check: Literal["dead_letters"]
    channel: Name
    count: int | None = Field(None, ge=0)
    only_tags: list[str] | None = None
    attempts: int | None = Field(None, ge=1)
    reason: Literal["rejected", "expired", "max_deliveries", "overflow"] | None = None


class EffectivelyOnceCheck(CheckBase):
    """Side effects applied once per business key."""

    check: Literal["effectively_once"]
    consumer: Name
    by: str = "msg.id"


class NoDuplicatesCheck(CheckBase):
    """No message handled twice (delivery level)."""

    check: Literal["no_duplicates"]
    consumer: Name


class PerKeyOrderCheck(CheckBase):
    """Per key, each new sequence number is processed after the previous one."""

    check: Literal["per_key_order"]
    consumer: Name
    key: str = "msg.key"
    seq: str = "msg.seq"
    allow_redelivery: bool = True


class LatencyCheck(CheckBase):
    """A latency percentile stays under a bound."""

    check: Literal["latency"]
    consumer: Name | None = None
    percentile: float = Field(99, gt=0, le=100)
    below: PositiveDuration


class PatternCheck(CheckBase):
    """Checks that judge a pattern: request outcomes, correlation, sagas, projections."""

    check: Literal["request_outcomes", "correlation", "saga_terminates", "saga_compensation",
                   "projection_consistent", "exclusive_ownership"]
    pattern: Name | None = None
    group: str | None = None


class Assertion(CheckBase):
    """A metric assertion: `count(dead_lettered{channel=orders.dlq}) == 3`."""

    that: str
    during: list[Duration] | str | None = Field(None, description="[from, to] or fault:NAME")
    abort: bool = False

    @field_validator("during")
    @classmethod
    def _during(cls, v: Any) -> Any:
        if isinstance(v, list) and (len(v) != 2 or v[1] < v[0]):
            raise _custom("evtool_during", "`during` is [from, to] with from ≤ to, or `fault:NAME`",
                          "e.g. `during: [0s, 1m]`")
        if isinstance(v, str) and not v.startswith("fault:"):
            raise _custom("evtool_during", "`during` is [from, to] or `fault:NAME`", "e.g. `during: fault:outage`")
        return v


PATTERN_CHECKS = ("request_outcomes", "correlation", "saga_terminates", "saga_compensation",
                  "projection_consistent", "exclusive_ownership")
CHECK_NAMES = ("no_loss", "dead_letters", "effectively_once", "no_duplicates", "per_key_order", "latency",
               *PATTERN_CHECKS)
"""Every `check:` an expectation may name."""


def _expect_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        if "that" in value:
            return "that"
        check = value.get("check")
        if check in PATTERN_CHECKS:
            return "pattern"
        return check if isinstance(check, str) and check in CHECK_NAMES else None
    return None


Expectation = Annotated[
    Annotated[NoLossCheck, Tag("no_loss")]
    | Annotated[DeadLettersCheck, Tag("dead_letters")]
    | Annotated[EffectivelyOnceCheck, Tag("effectively_once")]
    | Annotated[NoDuplicatesCheck, Tag("no_duplicates")]
    | Annotated[PerKeyOrderCheck, Tag("per_key_order")]
    | Annotated[LatencyCheck, Tag("latency")]
    | Annotated[PatternCheck, Tag("pattern")]
    | Annotated[Assertion, Tag("that")],
    Discriminator(
        _expect_tag,
        custom_error_type="evtool_expect",
        custom_error_message="an expectation is either `check: NAME` or `that: ASSERTION`",
    ),
]


class Alert(Model):
    """A monitoring alert: raise `alert_raised` when the assertion holds."""

    name: Name
    that: str
    every: PositiveDuration = "1s"


# --------------------------------------------------------------------------- lesson


class Question(Model):
    """A question the lesson asks; the answer is revealed on a key."""

    question: str
    answer: str
    explain: str | None = None
    choices: list[str] | None = None


class LessonStep(Model):
    """A narrated step, triggered at a time or by a trace event."""

    at: Duration | Literal["end"] | None = None
    event: str | None = Field(None, description="a selector: delivered{tag=poison, attempt=2}")
    nth: int = Field(1, ge=1)
    say: str
    pause: bool = False
    focus: list[str] = Field(default_factory=list)
    ask: Question | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> LessonStep:
        if (self.at is None) == (self.event is None):
            raise _custom("evtool_trigger", "a lesson step has exactly one trigger: `at` or `event`",
                          "e.g. `at: 0s`, or `event: dead_lettered{tag=poison}`")
        return self


class Variation(Model):
    """A `try_next` experiment: overrides and the expectations it is meant to break."""

    say: str
    set: dict[str, Any] = Field(default_factory=dict, description="path -> value, as with --set")
    fails: list[str] = Field(default_factory=list, description="names of expectations expected to fail")
    unknown: list[str] = Field(default_factory=list, description="names of expectations the variation leaves "
                               "undecided (e.g. the drain never finishes)")


class Lesson(Model):
    """Teaching metadata and the narrated steps."""

    title: str
    summary: str
    level: Level = "beginner"
    concepts: list[str] = Field(default_factory=list)
    goals: list[str] = Field(default_factory=list)
    prerequisites: list[str] = Field(default_factory=list)
    steps: list[LessonStep] = Field(default_factory=list)
    try_next: list[Variation | str] = Field(default_factory=list)


# --------------------------------------------------------------------------- parameters and root


class Parameter(Model):
    """A named knob, referenced as `${name}` and set with `--set name=value`."""

    default: Any
    values: list[Any] | None = None
    description: str | None = None


class Scenario(Model):
    """A whole scenario file."""

    evtool: Literal["1"] = Field(description='the language version: "1"')
    id: Name
    description: str | None = None
    lesson: Lesson | None = None
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    run: Run
    broker: Broker = Field(default_factory=Broker)
    schemas: dict[str, MessageSchema] = Field(default_factory=dict)
    channels: dict[str, Channel] = Field(min_length=1)
    producers: dict[str, Producer] = Field(default_factory=dict)
    consumers: dict[str, Consumer] = Field(default_factory=dict)
    patterns: dict[str, Pattern] = Field(default_factory=dict)
    faults: list[Fault] = Field(default_factory=list)
    expect: list[Expectation] = Field(default_factory=list)
    alerts: list[Alert] = Field(default_factory=list)

    @field_validator("evtool", mode="before")
    @classmethod
    def _version(cls, v: Any) -> Any:
        if v in (1, 1.0, "1.0"):
            return "1"
        if v != "1":
            raise _custom("evtool_version", "unknown language version {found}; this evtool reads version \"1\"",
                          'write `evtool: "1"`', found=repr(v))
        return v
