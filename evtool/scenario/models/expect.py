"""`expect:` and `alerts:`: the checks and assertions a run is judged by."""


from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator

from evtool.scenario.models.base import Model, _custom
from evtool.scenario.types import Duration, Name, PositiveDuration

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
    by: str | None = Field(None, description="msg.id, or the consumer's `business_key`; default: the "
                           "business key when the consumer declares one, else msg.id")


class NoDuplicatesCheck(CheckBase):
    """No message handled twice (delivery level)."""

    check: Literal["no_duplicates"]
    consumer: Name


class PerKeyOrderCheck(CheckBase):
    """Per key, each new sequence number is processed after the previous one."""

    check: Literal["per_key_order"]
    consumer: Name
    key: str | None = Field(None, description="msg.key, or the consumer's `ordering.key`; default: the "
                            "consumer's ordering when it declares one, else msg.key")
    seq: str | None = Field(None, description="msg.seq, or the consumer's `ordering.seq`")
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


