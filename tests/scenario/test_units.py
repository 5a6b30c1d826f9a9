"""Durations, rates and sizes: always with a unit, never negative, never unbounded."""

from __future__ import annotations

import math

import pytest

from evtool.scenario.units import (
    UnitError,
    format_duration,
    format_rate,
    parse_duration,
    parse_rate,
    parse_size,
)


@pytest.mark.parametrize(("text", "ns"), [
    ("250ms", 250_000_000), ("1.5s", 1_500_000_000), ("2m", 120_000_000_000), ("2min", 120_000_000_000),
    ("500us", 500_000), ("500µs", 500_000), ("7ns", 7), ("1h", 3_600_000_000_000), ("1d", 86_400_000_000_000),
    (" 0s ", 0), (".5s", 500_000_000),
])
def test_durations(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize(("value", "message", "hint"), [
    (30, "needs a unit, found the bare number 30", "`30ms` or `30s`"),
    (1.5, "needs a unit", "units: ns, us, ms"),
    ("30", "needs a unit, found the bare number 30", "`30ms` or `30s`"),   # as `--duration 30` gives it
    (" 2.5 ", "needs a unit, found the bare number 2.5", "`2.5ms` or `2.5s`"),
    ("30 parsecs", "is not a duration", "units"),
    ("-5s", "is negative", "forward"),
    ("1e400s", "is not a duration", "units"),
    ("999999d", "is too long", "292 years"),
    (True, "expected a duration", None),
    ([1], "expected a duration", None),
])
def test_bad_durations(value: object, message: str, hint: str | None) -> None:
    with pytest.raises(UnitError) as info:
        parse_duration(value)
    assert message in str(info.value)
    if hint:
        assert hint in (info.value.hint or "")


def test_zero_duration_where_positive_is_needed() -> None:
    assert parse_duration("0s") == 0
    with pytest.raises(UnitError, match="zero"):
        parse_duration("0ms", allow_zero=False)


def test_rates() -> None:
    assert parse_rate("20/s") == 20
    assert parse_rate("300/min") == 5
    assert parse_rate("3600/h") == 1
    assert math.isinf(parse_rate("max"))
    for bad, message in ((20, "bare number 20"), ("0/s", "rate of zero"), ("-1/s", "negative"),
                         ("20", "bare number 20"), ("20 a second", "not a rate"),
                         ("1" + "0" * 400 + "/s", "too large")):
        with pytest.raises(UnitError, match=message):
            parse_rate(bad)


def test_sizes() -> None:
    assert parse_size("512B") == 512
    assert parse_size("4KiB") == 4096
    assert parse_size("1MB") == 1_000_000
    assert parse_size("2GiB") == 2 * 1024**3
    for bad, message in ((4096, "bare number 4096"), ("4 parsecs", "not a size"), ("-1KB", "negative"),
                         ("1" + "0" * 400 + "GiB", "too large")):
        with pytest.raises(UnitError, match=message):
            parse_size(bad)


def test_formatting_round_trips() -> None:
    for text in ("1.5s", "250ms", "2m", "1h", "500us", "7ns", "0s"):
        assert format_duration(parse_duration(text)) == text
    assert format_rate(20.0) == "20/s"
    assert format_rate(math.inf) == "max"


def test_a_duration_read_again_gives_the_same_answer_and_errors_are_not_remembered() -> None:
    from evtool.scenario import units

    assert units.parse_duration("1m30s") == units.parse_duration("1m30s") == 90_000_000_000
    assert units.parse_duration("0s") == 0
    for _ in range(2):
        with pytest.raises(units.UnitError, match="greater than zero"):
            units.parse_duration("0s", allow_zero=False)
        with pytest.raises(units.UnitError, match="not a duration"):
            units.parse_duration("soon")
    assert ("soon", True) not in units._DURATIONS
