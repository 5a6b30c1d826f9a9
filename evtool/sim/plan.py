"""The run plan: a scenario turned into everything the core and the actors need, in one place.

Following an option from the scenario to the broker reads top to bottom here:

* `plan_for` builds the `RunPlan` the engine receives: the broker profile with `broker.settings`
  applied (`profile_for`), each channel's core configuration (`channel_config`, with the log
  assignment strategy its consumers ask for), the router bindings, and the work queues whose
  ready messages keep the drain from completing;
* the actors translate their own part with the rules kept here: a consumer's prefetch
  (`consumer_prefetch`), a retry object into the core's pure policy (`core_retry`), and a
  handler's timing, failures, effects and emits into a compiled `Behaviour`.

Nothing here runs anything: the plan is plain, frozen data (plus the compiled rules), built once
per run from a validated scenario.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from types import MappingProxyType
from typing import Any

from evtool.core.channel_config import (
    ChannelConfig,
    GroupedQueueConfig,
    LogConfig,
    QueueConfig,
    RouterConfig,
    TopicConfig,
)
from evtool.core.message import Message
from evtool.core.port import BrokerPort
from evtool.core.profiles import Profile, field_names, get_profile
from evtool.core.retry import RetryPolicy as CoreRetry
from evtool.scenario import models as m
from evtool.scenario.errors import Problem, ScenarioError, did_you_mean
from evtool.scenario.expressions import DATA_ATTRIBUTES, Expression, compile_expression
from evtool.scenario.loader import LoadedScenario
from evtool.scenario.templates import compile_payload
from evtool.scenario.units import UnitError, parse_duration
from evtool.scenario.yamlsource import dotted
from evtool.sim.effects import CompiledEffect
from evtool.sim.sampling import duration_sampler

__all__ = ["Behaviour", "Rule", "RunPlan", "channel_config", "check_plan", "consumer_prefetch", "core_retry",
           "plan_for", "profile_for"]


# ---------------------------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class RunPlan:
    """What one run of a scenario is made of, before anything runs.

    loaded       the validated scenario (with its source, for located errors)
    profile      the broker profile, `broker.settings` applied
    channels     each channel's core configuration, in scenario order
    bindings     router bindings (router, target, pattern), in scenario order
    held_queues  work queues whose ready messages keep the drain from completing (dead-letter,
                 retry and parking-lot queues that nobody reads hold their messages by design)
    """

    loaded: LoadedScenario
    profile: Profile
    channels: Mapping[str, ChannelConfig]
    bindings: tuple[tuple[str, str, str], ...]
    held_queues: tuple[str, ...]

    @property
    def scenario(self) -> m.Scenario:
        """The scenario model."""
        return self.loaded.model

    def declare(self, broker: BrokerPort) -> None:
        """Declare every channel and binding on `broker`; a channel the profile cannot do is a located
        scenario error."""
        sc = self.loaded.model
        for name, cfg in self.channels.items():
            try:
                broker.declare(name, cfg)
            except ValueError as exc:
                raise ScenarioError([self.loaded.where(("channels", name), str(exc),
                                                       f"profile `{sc.broker.profile}` cannot do this; see "
                                                       "docs/profiles.md")], self.loaded.text) from None
        for router, target, pattern in self.bindings:
            broker.bind(router, target, pattern)


def plan_for(loaded: LoadedScenario) -> RunPlan:
    """The run plan of a validated scenario (raises a located `ScenarioError` for a bad `broker.settings`)."""
    sc = loaded.model
    profile = profile_for(loaded)
    channels: dict[str, ChannelConfig] = {}
    for name, spec in sc.channels.items():
        cfg = channel_config(spec, sc.broker.persistence)
        if isinstance(cfg, LogConfig):
            # Kafka sets the assignment strategy on the consumer; the core keeps it per log.
            strategies = {c.assignment for c in sc.consumers.values() if c.from_ == name}
            if len(strategies) == 1:
                cfg = dataclasses.replace(cfg, assignment=strategies.pop())
        channels[name] = cfg
    bindings = tuple((name, b.to, b.pattern) for name, spec in sc.channels.items()
                     if isinstance(spec, m.RouterChannel) for b in spec.bindings)
    held = tuple(n for n, c in sc.channels.items()
                 if isinstance(c, m.QueueChannel | m.GroupedQueueChannel) and c.role == "normal")
    return RunPlan(loaded, profile, MappingProxyType(channels), bindings, held)


def check_plan(loaded: LoadedScenario) -> RunPlan:
    """The plan of `loaded`, declared on a core broker of its profile: what only the profile can refuse
    (`broker.settings`, a channel setting the broker cannot do) raises a located `ScenarioError`, as the
    start of a run would. `evtool validate` calls it; nothing runs."""
    from evtool.core.broker import Broker

    plan = plan_for(loaded)
    plan.declare(Broker(plan.profile, lambda _event: None))
    return plan


def channel_config(spec: Any, persistence: str) -> ChannelConfig:
    """Translate a scenario channel into the core's configuration."""
    durable = getattr(spec, "durable", True) and persistence == "durable"
    if isinstance(spec, m.RouterChannel):
        return RouterConfig(type=spec.type, durable=durable)
    if isinstance(spec, m.LogChannel):
        ret = spec.retention
        return LogConfig(partitions=spec.partitions, durable=durable,
                         retention_ns=None if ret.time == "forever" else ret.time,
                         retention_count=ret.count)
    max_deliveries = spec.max_deliveries
    if max_deliveries == "unlimited":
        max_deliveries = 0
    common = dict(
        capacity=spec.capacity,
        overflow=spec.overflow,
        ack_timeout_ns=spec.ack_timeout,
        ttl_ns=spec.ttl,
        max_deliveries=max_deliveries,
        dead_letter=spec.dead_letter,
        dedup_window_ns=spec.dedup_window,
        content_based_dedup=spec.content_based_dedup,
        requeue_position=spec.requeue_position,
        durable=durable,
    )
    if isinstance(spec, m.GroupedQueueChannel):
        group_key = spec.group_by.removeprefix("header.") if spec.group_by.startswith("header.") else None
        return GroupedQueueConfig(group_key=group_key, **common)
    if isinstance(spec, m.TopicChannel):
        return TopicConfig(**common)
    return QueueConfig(**common)


# ---------------------------------------------------------------------------------------------- the profile

# profile fields that accept `unlimited`, and the profile value that means it
_UNLIMITED: dict[str, int | None] = {"prefetch": 0, "max_deliveries": None, "prefetch_cap": None}


def profile_for(loaded: LoadedScenario) -> Profile:
    """The scenario's broker profile with its `broker.settings` overrides applied.

    Settings use the profile's field names; a duration field may be written with a unit and without
    its `_ns` suffix (`ack_timeout: 30s` sets `ack_timeout_ns`); `prefetch`, `prefetch_cap` and
    `max_deliveries` accept `unlimited`. A bad setting is a located scenario error, not a traceback.
    """
    sc = loaded.model
    profile = get_profile(sc.broker.profile)
    if not sc.broker.settings:
        return profile
    valid = field_names()
    fields: dict[str, Any] = {}
    problems = []
    for key, value in sc.broker.settings.items():
        name = key
        if name not in valid and f"{name}_ns" in valid:
            name = f"{name}_ns"
        if name not in valid:
            problems.append(loaded.where(("broker", "settings", key), f"`{key}` is not a profile setting",
                                         did_you_mean(key, valid + [v[:-3] for v in valid if v.endswith("_ns")])
                                         or "see docs/profiles.md for the fields of each profile"))
            continue
        if value == "unlimited" and name in _UNLIMITED:
            # the language's word for "no limit", as in a consumer's `prefetch` and a channel's `max_deliveries`
            value = _UNLIMITED[name]
        elif name.endswith("_ns") and value is not None and not isinstance(value, int):
            try:
                value = parse_duration(value)
            except UnitError as exc:
                problems.append(loaded.where(("broker", "settings", key), str(exc), exc.hint))
                continue
        if _TYPES.get(name) == "str" and isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # `version: 4.0` written without quotes
        problem = _type_problem(name, value)
        if problem:
            problems.append(loaded.where(("broker", "settings", key), f"`{key}` {problem}",
                                         "see docs/profiles.md for the fields of each profile"))
            continue
        fields[name] = value
    if not problems:
        try:
            return profile.with_overrides(**fields)
        except (ValueError, TypeError) as exc:
            problems.append(loaded.where(("broker", "settings"), str(exc)))
    raise ScenarioError(problems, loaded.text)


class _Unlocated:
    """A scenario model without its file: problems carry the key's path, not a line."""

    def __init__(self, model: m.Scenario) -> None:
        self.model = model
        self.text = None

    def where(self, path: Any, message: str, hint: str | None = None) -> Problem:
        return Problem("<scenario>", 0, 0, dotted(path), message, hint)


def model_profile(sc: m.Scenario) -> Profile:
    """`profile_for` of a bare model (a transport's topology): the same settings rules, unlocated errors."""
    return profile_for(_Unlocated(sc))  # type: ignore[arg-type]


_TYPES = {f.name: str(f.type) for f in dataclasses.fields(Profile)}


def _type_problem(name: str, value: Any) -> str | None:
    """Why `value` cannot be profile field `name` (by the field's declared type), or None."""
    kind = _TYPES.get(name, "")
    if value is None:
        return None if "None" in kind else "cannot be empty"
    if kind.startswith("int") and (isinstance(value, bool) or not isinstance(value, int)):
        extra = " or `unlimited`" if name in _UNLIMITED else ""
        return f"must be a whole number{extra}, found `{value}`"
    if kind == "str" and not isinstance(value, str):
        return f"must be a word, found `{value}`"
    return None


# ---------------------------------------------------------------------------------------------- the actors


def consumer_prefetch(spec: m.Consumer, profile: Profile) -> int:
    """The in-flight limit one instance of consumer `spec` asks the broker for (0 = unlimited).

    The one place of this rule (the engine subscribes with it, the dashboard shows it):

    * `prefetch: N` asks for N; `prefetch: unlimited` for no limit (RabbitMQ basic.qos 0);
    * without `prefetch`, the profile's default, as the broker's client does without a setting:
      unlimited for RabbitMQ (no basic.qos) and Redis (XREADGROUP without COUNT), 1000 for NATS
      (MaxAckPending), 1 for SQS (ReceiveMessage without MaxNumberOfMessages), 500 for Kafka
      (max.poll.records); never below `concurrency`, since each handler slot receives for itself
      (an SQS worker with 4 threads has 4 receives outstanding), and enough for two batches when
      the consumer batches, so that a batch can fill.

    The broker still applies its `prefetch_cap` (RabbitMQ quorum queues: 2000) to what is asked.
    """
    asked = spec.prefetch
    if asked == "unlimited":
        return 0
    if asked is not None:
        return asked
    default = profile.prefetch
    if default == 0:
        return 0
    prefetch = max(default, spec.concurrency)
    if spec.batch is not None:
        prefetch = max(prefetch, spec.batch.size * max(2, spec.concurrency))
    return prefetch


def core_retry(spec: m.RetryPolicy) -> CoreRetry:
    """Translate the scenario's retry object into the core's pure policy."""
    b = spec.backoff
    backoff = {"none": "immediate", "constant": "fixed", "linear": "linear", "exponential": "exponential"}[b.type]
    base = (b.delay if b.type in ("constant", "linear") else b.initial) or 0
    on_exhausted = spec.on_exhausted
    return CoreRetry(
        backoff=backoff,
        max_attempts=None if spec.max_attempts == "forever" else spec.max_attempts,
        base_ns=base,
        multiplier=b.multiplier,
        max_ns=b.max,
        jitter=b.jitter,
        retry_on=None if spec.retry_on == "any" else frozenset(spec.retry_on),
        non_retryable=frozenset(spec.non_retryable),
        on_exhausted=on_exhausted,
        mode=spec.mode,
    )


class Rule:
    """A compiled fail_if rule."""

    __slots__ = ("when", "probability", "error", "retryable", "crash", "reply_with_error")

    def __init__(self, spec: m.FailRule) -> None:
        self.when: Expression | None = compile_expression(spec.when) if spec.when else None
        self.probability = spec.probability
        self.error = spec.error
        self.retryable = spec.retryable
        self.crash = spec.crash
        self.reply_with_error = spec.reply_with_error


class Behaviour:
    """What a consumer does with one message type: timing, failures, effects, emits."""

    __slots__ = ("processing", "rules", "effects", "emits")

    def __init__(self, processing: Any, rules: list[m.FailRule], effects: list[m.Effect],
                 emits: list[m.Emit]) -> None:
        self.processing = duration_sampler(processing)
        self.rules = [Rule(r) for r in rules]
        self.effects = [CompiledEffect(e) for e in effects]
        self.emits = [(e, compile_payload(e.payload), compile_expression(e.when) if e.when else None)
                      for e in emits]


_MSG_FIELD = re.compile(r"^\s*msg\.([a-z_]+)\s*$")


def message_field(expr: Expression) -> Callable[[Message], Any] | None:
    """A direct reader for an expression that is only a field of the message (`msg.id`), else None.

    Such an expression reads a plain data field of a `Message` and cannot fail, so reading the
    attribute gives exactly what `expr.evaluate` gives, without building the names it is evaluated with.
    """
    found = _MSG_FIELD.match(expr.text)
    if found is None:
        return None
    name = found.group(1)
    if name not in DATA_ATTRIBUTES or name not in Message.__slots__:
        return None
    return attrgetter(name)
