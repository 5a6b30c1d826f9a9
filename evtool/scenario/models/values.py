"""Value models: duration distributions and key distributions."""


import re
import string
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from evtool.scenario.models.base import MAX_KEY_SPACE, Model, _custom
from evtool.scenario.types import Duration, PositiveDuration

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
    def _ordered(self) -> 'UniformDist':
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
    def _tail(self) -> 'LognormalDist':
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
    def _fields(self) -> 'KeyDist':
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


