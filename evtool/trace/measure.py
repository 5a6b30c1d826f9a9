"""What a check observed, as a person writes it: `p99 924 ms, limit 5 s`, `ratio 0.00277, limit 0.02`.

Three significant digits and a space before the unit; more digits only when the value and its limit
would otherwise read the same (`700.4 ms` against `700 ms`), so a verdict never looks contradictory.
"""

from __future__ import annotations

import math

_DURATION_UNITS = (("d", 86_400e9), ("h", 3_600e9), ("min", 60e9), ("s", 1e9), ("ms", 1e6), ("µs", 1e3))


def _digits(v: float, digits: int) -> str:
    """`v` with `digits` significant digits, no exponent, no trailing zeros."""
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else str(v)
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(v))))
    text = f"{v:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def duration(ns: float | None, digits: int = 3) -> str:
    """Nanoseconds in the largest unit that keeps the number at one or more: `924 ms`, `17.8 s`, `2 min`."""
    if ns is None:
        return "no data"
    if ns == 0:
        return "0 s"
    for unit, size in _DURATION_UNITS:
        if abs(ns) >= size:
            return f"{_digits(ns / size, digits)} {unit}"
    return f"{_digits(ns, digits)} ns"


def number(v: float | None, digits: int = 3) -> str:
    """A count as an integer (`1,129` is not used: the value is copied into expressions), else 3 digits."""
    if v is None:
        return "no data"
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return _digits(float(v), max(digits, len(str(int(abs(v))))))


def pair(left: float | None, right: float | None, *, durations: bool) -> tuple[str, str]:
    """Both sides of a comparison, with as many digits as it takes for different values to read differently."""
    fmt = duration if durations else number
    lv, rv = fmt(left), fmt(right)
    if left is None or right is None or left == right:
        return lv, rv
    for digits in (4, 6, 9, 12):
        if lv != rv:
            break
        lv, rv = fmt(left, digits), fmt(right, digits)
    return lv, rv
