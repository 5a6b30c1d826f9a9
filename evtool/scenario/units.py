"""Quantities with units: durations, rates and sizes.

Every duration, rate and size in a scenario carries a unit. A bare number
where a unit is needed is an error that names the accepted units, because
tools that guess (PerfTest's µs against ms, OMB's minutes) mislead users.
Durations become integer nanoseconds: the engine's clock has no floats.
"""

from __future__ import annotations

import math
import re

from evtool.scenario.textcache import TextCache

NS_PER: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "min": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
}
DURATION_UNITS = "ns, us, ms, s, m (or min), h, d; compound forms such as 1m30s or 1h30m"

RATE_PER: dict[str, float] = {"s": 1.0, "sec": 1.0, "min": 1 / 60, "m": 1 / 60, "h": 1 / 3600}
RATE_UNITS = "N/s, N/min, N/h, or `max`"

SIZE_BYTES: dict[str, int] = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
SIZE_UNITS = "B, KB, MB, GB, KiB, MiB, GiB"

_NUMBER = r"(?P<num>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)"
_DURATION_RE = re.compile(rf"^\s*{_NUMBER}\s*(?P<unit>ns|us|µs|ms|s|min|m|h|d)\s*$")
_PART = r"(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:ns|us|µs|ms|s|min|m|h|d)"
_COMPOUND_RE = re.compile(rf"^\s*(?:{_PART}){{2,}}\s*$")
_PART_RE = re.compile(r"(?P<num>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?P<unit>ns|us|µs|ms|s|min|m|h|d)")
DURATION_PATTERN = rf"^\s*(([0-9]+(\.[0-9]+)?|\.[0-9]+)\s*(ns|us|µs|ms|s|min|m|h|d)|({_PART}){{2,}})\s*$"
"""The JSON Schema pattern of a duration: one number and unit, or a compound such as `1h30m`."""
_RATE_RE = re.compile(rf"^\s*{_NUMBER}\s*/\s*(?P<unit>s|sec|min|m|h)\s*$")
_SIZE_RE = re.compile(rf"^\s*{_NUMBER}\s*(?P<unit>[kKmMgG]?i?[bB])\s*$")

MAX_NS = 2**63
"""Durations must fit a signed 64-bit integer of nanoseconds (the run store's columns)."""
MAX_BYTES = 2**63

MAX_RATE = math.inf
"""`rate: max`: publish the next message as soon as the previous one is accepted."""

MAX_FINITE_RATE = 1e9
"""One message per nanosecond, the clock's resolution; anything faster is `max`."""


class UnitError(ValueError):
    """A quantity without its unit, with an unknown unit, or out of range."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def _is_bare_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_NUMBER_TEXT = re.compile(r"\s*[0-9]+(?:\.[0-9]+)?\s*")


def _bare(value: object) -> object | None:
    """A number written without a unit (`30`, or the text `"30"`, as `--duration 30` and `--set` give it), as
    written; None for anything else."""
    if _is_bare_number(value):
        return value
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value):
        return value.strip()
    return None


_DURATIONS: TextCache[tuple[str, bool], int] = TextCache(4096)
"""Durations read before (a lesson and its variations repeat the same few dozen texts)."""


def parse_duration(value: object, *, allow_zero: bool = True) -> int:
    """Parse `250ms`, `1.5s`, `2m` into integer nanoseconds."""
    if type(value) is str:
        return _DURATIONS.through((value, allow_zero), lambda: _parse_duration(value, allow_zero))
    return _parse_duration(value, allow_zero)


def _parse_duration(value: object, allow_zero: bool) -> int:
    bare = _bare(value)
    if bare is not None:
        raise UnitError(
            f"a duration needs a unit, found the bare number {bare}",
            f"write it with a unit, e.g. `{bare}ms` or `{bare}s`; units: {DURATION_UNITS}",
        )
    if not isinstance(value, str):
        raise UnitError(f"expected a duration such as `250ms`, found {type(value).__name__}")
    m = _DURATION_RE.match(value)
    positive = value.strip().removeprefix("-")
    if not m and (_DURATION_RE.match(positive) or _COMPOUND_RE.match(positive)) and value.strip().startswith("-"):
        raise UnitError(f"`{value}` is negative; a duration is zero or more", "time only runs forward here")
    if m:
        amount = float(m["num"]) * NS_PER[m["unit"]]
    elif _COMPOUND_RE.match(value):
        amount = _compound(value)
    elif re.match(rf"^\s*(?:{_PART})+[0-9.]+\s*$", value):
        raise UnitError(f"`{value}` is not a duration: its last number has no unit",
                        f"every part takes a unit, e.g. `1m30s`; units: {DURATION_UNITS}")
    else:
        raise UnitError(
            f"`{value}` is not a duration",
            f"write a number and a unit, e.g. `250ms`, `30s`, `2m`, `1m30s`; units: {DURATION_UNITS}",
        )
    if not amount < MAX_NS:
        raise UnitError(f"`{value}` is too long", "durations go up to about 292 years (2^63 nanoseconds)")
    ns = round(amount)
    if ns == 0 and not allow_zero:
        raise UnitError(f"`{value}` is zero; this duration must be greater than zero")
    return ns


def _compound(value: str) -> float:
    """`1h30m`, `1m30s`, `2s500ms`: parts from the largest unit to the smallest, each unit once."""
    total = 0.0
    previous: tuple[str, int] | None = None
    for part in _PART_RE.finditer(value.strip()):
        unit, size = part["unit"], NS_PER[part["unit"]]
        if previous is not None and size == previous[1]:
            raise UnitError(f"`{value}` is not a duration: it has two `{unit}` parts",
                            "write each unit once, from the largest to the smallest, e.g. `1h30m` or `1m30s`")
        if previous is not None and size > previous[1]:
            raise UnitError(
                f"`{value}` is not a duration: `{unit}` comes after `{previous[0]}`",
                "write the parts from the largest unit to the smallest, each once, e.g. `1h30m` or `1m30s`",
            )
        previous = (unit, size)
        total += float(part["num"]) * size
    return total


def parse_rate(value: object) -> float:
    """Parse `20/s`, `3000/min` or `max` into messages per second (`max` is infinity)."""
    bare = _bare(value)
    if bare is not None:
        raise UnitError(
            f"a rate needs a unit, found the bare number {bare}",
            f"write `{bare}/s` (per second) or `{bare}/min`; `max` means as fast as possible",
        )
    if not isinstance(value, str):
        raise UnitError(f"expected a rate such as `20/s`, found {type(value).__name__}")
    if value.strip() == "max":
        return MAX_RATE
    m = _RATE_RE.match(value)
    if not m and _RATE_RE.match(value.strip().removeprefix("-")):
        raise UnitError(f"`{value}` is negative; a rate is above zero", "write e.g. `20/s`, or `max`")
    if not m:
        raise UnitError(f"`{value}` is not a rate", f"write e.g. `20/s` or `300/min`; units: {RATE_UNITS}")
    per_s = float(m["num"]) * RATE_PER[m["unit"]]
    if not per_s <= MAX_FINITE_RATE:
        raise UnitError(f"`{value}` is too large to be a rate (the limit is {MAX_FINITE_RATE:.0e}/s, one message "
                        "per nanosecond)", "write `max` for as fast as possible")
    if per_s <= 0:
        raise UnitError(
            f"`{value}` is a rate of zero",
            "a rate must be above zero; write `max` for as fast as possible (0 never means max here)",
        )
    return per_s


def parse_size(value: object) -> int:
    """Parse `4KiB`, `1MB` into bytes."""
    if _is_bare_number(value):
        raise UnitError(
            f"a size needs a unit, found the bare number {value!r}",
            f"write e.g. `{value}B` or `{value}KiB`; units: {SIZE_UNITS}",
        )
    if not isinstance(value, str):
        raise UnitError(f"expected a size such as `4KiB`, found {type(value).__name__}")
    m = _SIZE_RE.match(value)
    if not m and _SIZE_RE.match(value.strip().removeprefix("-")):
        raise UnitError(f"`{value}` is negative; a size is zero or more", f"units: {SIZE_UNITS}")
    if not m or m["unit"].lower() not in SIZE_BYTES:
        raise UnitError(f"`{value}` is not a size", f"units: {SIZE_UNITS}")
    amount = float(m["num"]) * SIZE_BYTES[m["unit"].lower()]
    if not amount < MAX_BYTES:
        raise UnitError(f"`{value}` is too large", "sizes go up to 2^63 bytes")
    return round(amount)


def format_duration(ns: int) -> str:
    """Render nanoseconds in the largest unit that keeps it readable (`1.5s`, `250ms`)."""
    if ns == 0:
        return "0s"
    for unit, size in (("h", NS_PER["h"]), ("m", NS_PER["m"]), ("s", NS_PER["s"]), ("ms", NS_PER["ms"]),
                       ("us", NS_PER["us"])):
        if abs(ns) >= size:
            v = ns / size
            text = f"{v:.3f}".rstrip("0").rstrip(".")
            return f"{text}{unit}"
    return f"{ns}ns"


def format_rate(per_s: float) -> str:
    """Render a rate as `N/s` (or `max`)."""
    if math.isinf(per_s):
        return "max"
    text = f"{per_s:.3f}".rstrip("0").rstrip(".")
    return f"{text}/s"
