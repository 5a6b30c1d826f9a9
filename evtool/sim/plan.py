"""The scenario turned into what the actors run: prefetch, retry policies and compiled behaviours.

One translation from the language (`scenario.models`) to the core's pure objects and the consumer's
compiled rules, so that following an option from the scenario to the broker reads top to bottom here.
"""

from __future__ import annotations

from typing import Any

from evtool.core.profiles import Profile
from evtool.core.retry import RetryPolicy as CoreRetry
from evtool.scenario import models as m
from evtool.scenario.expressions import Expression, compile_expression
from evtool.scenario.templates import compile_payload
from evtool.sim.effects import CompiledEffect
from evtool.sim.sampling import duration_sampler

__all__ = ["Behaviour", "Rule", "consumer_prefetch", "core_retry"]


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
