"""Value types shared by the scenario models: durations, rates, sizes, names.

Each is an annotated type whose validator turns the YAML text into the
engine's representation (integer nanoseconds, messages per second, bytes)
and whose JSON Schema tells an editor what to write.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AllowInfNan, BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from evtool.scenario import units

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]*$")


def _unit_error(exc: units.UnitError, expected: str) -> PydanticCustomError:
    # `expected` lets the loader merge this with the other branches of a union
    # (`for: 30s` or `for: end`) into one message.
    return PydanticCustomError("evtool_unit", "{message}",
                               {"message": str(exc), "hint": exc.hint or "", "expected": expected})


def _to_duration(value: Any) -> int:
    try:
        return units.parse_duration(value)
    except units.UnitError as exc:
        raise _unit_error(exc, "a duration such as `30s`") from None


def _to_positive_duration(value: Any) -> int:
    try:
        return units.parse_duration(value, allow_zero=False)
    except units.UnitError as exc:
        raise _unit_error(exc, "a duration above zero such as `30s`") from None


def _to_rate(value: Any) -> float:
    try:
        return units.parse_rate(value)
    except units.UnitError as exc:
        raise _unit_error(exc, "a rate such as `20/s`") from None


def _to_size(value: Any) -> int:
    try:
        return units.parse_size(value)
    except units.UnitError as exc:
        raise _unit_error(exc, "a size such as `4KiB`") from None


def _to_name(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("evtool_name", "expected a name, found {found}",
                                  {"found": type(value).__name__, "hint": "names are words such as `orders.dlq`",
                                   "expected": "a name"})
    if not _NAME_RE.match(value):
        raise PydanticCustomError(
            "evtool_name", "`{value}` is not a valid name",
            {"value": value, "hint": "start with a letter; then letters, digits, `_`, `-`, `.` or `:`",
             "expected": "a name"},
        )
    return value


_DURATION_SCHEMA = {"type": "string", "pattern": units.DURATION_PATTERN,
                    "description": "a duration with a unit: 250ms, 30s, 2m, 1h, or a compound such as 1m30s"}

Duration = Annotated[int, BeforeValidator(_to_duration), WithJsonSchema(_DURATION_SCHEMA)]
"""A duration in integer nanoseconds, written with a unit (`250ms`)."""

PositiveDuration = Annotated[int, BeforeValidator(_to_positive_duration), WithJsonSchema(_DURATION_SCHEMA)]
"""A duration above zero."""

Rate = Annotated[
    float,
    AllowInfNan(True),  # `max` is infinity; the text `.inf` is refused by parse_rate
    BeforeValidator(_to_rate),
    WithJsonSchema({"type": "string", "pattern": r"^(max|\s*([0-9]+(\.[0-9]+)?|\.[0-9]+)\s*/\s*(s|sec|min|m|h)\s*)$",
                    "description": "a rate: 20/s, 300/min, or max"}),
]
"""Messages per second (`20/s`); `max` is infinity."""

Size = Annotated[
    int,
    BeforeValidator(_to_size),
    WithJsonSchema({"type": "string", "pattern": r"^\s*[0-9.]+\s*([kKmMgG]i?)?[bB]\s*$",
                    "description": "a size: 512B, 4KiB, 1MB"}),
]
"""A size in bytes (`4KiB`)."""

Name = Annotated[
    str,
    BeforeValidator(_to_name),
    WithJsonSchema({"type": "string", "pattern": _NAME_RE.pattern}),
]
"""A component or channel name."""

Level = Literal["beginner", "intermediate", "advanced"]
