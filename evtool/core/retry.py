"""Retry policies: small pure objects that turn a failure into a decision.

A policy never sleeps, schedules or publishes. The engine calls
`RetryPolicy.decide` with the attempt that just failed and acts on the
returned `RetryDecision` according to the policy's `mode`:

``in_place``   the handler retries inside the same delivery (the lease keeps running)
``redeliver``  the engine nacks with ``delay_ns``; the broker's delivery counter keeps counting,
               so a broker-side ``max_deliveries`` still fires
``republish``  the engine acks and publishes a fresh copy ``delay_ns`` later; the broker counter
               restarts at 1, so a broker dead-letter limit never fires (dramatiq_sqs #10/#42,
               research §0.3)

`max_attempts` counts every delivery including the first: ``max_attempts=3``
means one try and two retries.

Backoff kinds: ``immediate`` (0), ``fixed`` (``base_ns``), ``linear``
(``base_ns * attempt``), ``exponential`` (``base_ns * multiplier ** (attempt - 1)``),
each capped by ``max_ns``. Jitter follows the AWS Architecture Blog
"Exponential Backoff And Jitter": ``full`` = uniform(0, d), ``equal`` =
d/2 + uniform(0, d/2), ``decorrelated`` = min(cap, uniform(base, previous * 3)).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

BACKOFFS = ("immediate", "fixed", "linear", "exponential")
# the scenario language's names for the same kinds
BACKOFF_ALIASES = {"none": "immediate", "constant": "fixed"}
JITTERS = ("none", "full", "equal", "decorrelated")
MODES = ("in_place", "redeliver", "republish")
ON_EXHAUSTED = ("dead_letter", "drop", "park", "requeue", "fallback", "error", "compensate")
ACTIONS = ("retry", "exhausted", "not_retryable")
# an uncapped exponential delay stops growing here (about 146 years of virtual time)
_FOREVER_NS = 2**62
# decisions without jitter are kept for attempts up to here (a policy retrying forever keeps a bounded table)
_MEMO_ATTEMPTS = 64


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What to do after a failed attempt.

    action        retry | exhausted | not_retryable
    delay_ns      how long to wait before the next attempt (0 unless action is retry)
    attempt       the attempt that just failed (1 = the first delivery)
    mode          in_place | redeliver | republish (copied from the policy)
    on_exhausted  dead_letter | drop | park | requeue: what to do when action is not retry
    """

    action: str
    delay_ns: int
    attempt: int
    mode: str
    on_exhausted: str

    @property
    def retry(self) -> bool:
        """True when another attempt should be made."""
        return self.action == "retry"


@dataclass(frozen=True)
class RetryPolicy:
    """A backoff schedule plus a limit, an error filter and what to do at the end.

    backoff       immediate | fixed | linear | exponential (``none`` and ``constant`` are accepted as
                  the scenario language's names for immediate and fixed)
    max_attempts  all deliveries allowed, the first included; None = unlimited
    base_ns       the first delay (fixed delay, linear step, exponential start)
    multiplier    exponential growth factor
    max_ns        cap on any delay (None = no cap)
    jitter        none | full | equal | decorrelated
    retry_on      error names that may be retried (None = every error)
    non_retryable error names never retried (checked first)
    on_exhausted  dead_letter | drop | park | requeue | fallback | error | compensate (carried, not acted on)
    mode          in_place | redeliver | republish
    """

    backoff: str = "exponential"
    max_attempts: int | None = 3
    base_ns: int = 1_000_000_000
    multiplier: float = 2.0
    max_ns: int | None = None
    jitter: str = "none"
    retry_on: frozenset[str] | None = None
    non_retryable: frozenset[str] = field(default_factory=frozenset)
    on_exhausted: str = "dead_letter"
    mode: str = "redeliver"

    def __post_init__(self) -> None:
        if self.backoff in BACKOFF_ALIASES:
            object.__setattr__(self, "backoff", BACKOFF_ALIASES[self.backoff])
        _check("backoff", self.backoff, BACKOFFS)
        _check("jitter", self.jitter, JITTERS)
        _check("mode", self.mode, MODES)
        _check("on_exhausted", self.on_exhausted, ON_EXHAUSTED)
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1 or None, got {self.max_attempts}")
        if self.base_ns < 0:
            raise ValueError(f"base_ns must be >= 0, got {self.base_ns}")
        if self.max_ns is not None and self.max_ns < 0:
            raise ValueError(f"max_ns must be >= 0, got {self.max_ns}")
        if self.multiplier < 1.0:
            raise ValueError(f"multiplier must be >= 1, got {self.multiplier}")
        # Without jitter a decision depends on (attempt, error, retryable) alone and is immutable: each is
        # made once and handed out again (`decide`). Not a field: equality, repr and replace ignore it.
        object.__setattr__(self, "_decided", {})

    def base_delay_ns(self, attempt: int) -> int:
        """The delay after failed `attempt` before jitter, capped by `max_ns`."""
        b = self.backoff
        if b == "immediate":
            d = 0
        elif b == "fixed":
            d = self.base_ns
        elif b == "linear":
            d = self.base_ns * attempt
        else:
            try:
                d_f = self.base_ns * self.multiplier ** (attempt - 1)
            except OverflowError:
                d_f = float(_FOREVER_NS)
            d = _FOREVER_NS if d_f >= _FOREVER_NS else int(d_f)
        cap = self.max_ns
        return d if cap is None or d <= cap else cap

    def delay_ns(self, attempt: int, rng: random.Random, previous_delay_ns: int | None = None) -> int:
        """The jittered delay after failed `attempt`; always within ``[0, max_ns]``.

        `previous_delay_ns` feeds decorrelated jitter; when unknown it is taken
        as the un-jittered delay of the attempt before.
        """
        d = self.base_delay_ns(attempt)
        j = self.jitter
        if j == "none" or d == 0:
            return d
        if j == "full":
            return rng.randint(0, d)
        if j == "equal":
            half = d // 2
            return half + rng.randint(0, d - half)
        # decorrelated: sleep = min(cap, uniform(base, previous * 3))
        prev = previous_delay_ns if previous_delay_ns is not None else (
            self.base_delay_ns(attempt - 1) if attempt > 1 else self.base_ns)
        lo = self.base_ns
        hi = max(lo, prev * 3)
        v = rng.randint(lo, hi)
        cap = self.max_ns
        return v if cap is None or v <= cap else cap

    def retryable(self, error: str | None, retryable: bool = True) -> bool:
        """Whether an error of this name may be retried at all."""
        if not retryable:
            return False
        if error is not None and error in self.non_retryable:
            return False
        if self.retry_on is not None and (error is None or error not in self.retry_on):
            return False
        return True

    def decide(self, attempt: int, error: str | None, retryable: bool, rng: random.Random,
               previous_delay_ns: int | None = None) -> RetryDecision:
        """Decide what follows failed `attempt` (1 = the first delivery)."""
        if attempt < 1:
            raise ValueError(f"attempt counts from 1, got {attempt}")
        if self.jitter == "none" and attempt <= _MEMO_ATTEMPTS:
            decided: dict[tuple[int, str | None, bool], RetryDecision] = self._decided  # type: ignore[attr-defined]
            key = (attempt, error, retryable)
            found = decided.get(key)
            if found is None:
                found = decided[key] = self._decide(attempt, error, retryable, None, None)
            return found
        return self._decide(attempt, error, retryable, rng, previous_delay_ns)

    def _decide(self, attempt: int, error: str | None, retryable: bool, rng: random.Random | None,
                previous_delay_ns: int | None) -> RetryDecision:
        if not self.retryable(error, retryable):
            return RetryDecision("not_retryable", 0, attempt, self.mode, self.on_exhausted)
        if self.max_attempts is not None and attempt >= self.max_attempts:
            return RetryDecision("exhausted", 0, attempt, self.mode, self.on_exhausted)
        return RetryDecision("retry", self.delay_ns(attempt, rng, previous_delay_ns), attempt,  # type: ignore[arg-type]
                             self.mode, self.on_exhausted)


def _check(name: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
