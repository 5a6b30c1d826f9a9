"""Event and metric selectors, and the assertions of `expect: - that: ...`.

A selector names a trace kind or a metric and filters by labels::

    delivered{tag=poison, attempt=2}
    latency.e2e{consumer=billing, tag!=poison}
    state.inventory.stock

Label values are bare words (letters, digits and ``- _ . : # *``) or quoted
strings; ``*`` in a bare word is a wildcard. A value that looks like a number
compares as a number when the label's value is numeric, ``true``/``false``
compare with booleans, and a label that is absent never equals anything (so
``tag!=poison`` matches untagged events).

An assertion compares two arithmetic expressions over aggregates and numbers
with units::

    p(99, latency.e2e{consumer=billing, tag!=poison}) < 5s
    sum(state.inventory.stock) + sum(state.shipping.shipped) == 2050

Durations become nanoseconds, rates per second, sizes bytes, ``2%`` is 0.02.
An aggregate with no samples resolves to ``None`` and makes the assertion
unknown, never a silent pass.

This module sits in the lowest layer, so it reads trace events by their
field names (``kind``, ``channel``, ``actor``, ...) without importing
`evtool.core`.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from evtool.scenario.labels import (
    AGGREGATES,
    DATA_LABELS,
    EVENT_LABELS,
    FIELD_LABELS,
    METRIC_LABELS,
    METRICS,
    glob_matcher,
    label_problems,
    value_test,
)
from evtool.scenario.textcache import TextCache
from evtool.scenario.units import (
    DURATION_UNITS,
    RATE_UNITS,
    SIZE_UNITS,
    UnitError,
    parse_duration,
    parse_rate,
    parse_size,
)

__all__ = [
    "AGGREGATES",
    "DATA_LABELS",
    "EVENT_LABELS",
    "FIELD_LABELS",
    "METRICS",
    "Aggregate",
    "Assertion",
    "BinOp",
    "Compare",
    "METRIC_LABELS",
    "LabelFilter",
    "Neg",
    "Number",
    "Selector",
    "SelectorError",
    "glob_matcher",
    "label_problems",
    "parse_assertion",
    "parse_selector",
]

CompareOp = Literal["==", "!=", "<", "<=", ">", ">="]
UnitKind = Literal["duration", "rate", "size", "percent"]

_MAX_TEXT = 4_000
_MAX_DEPTH = 50


class SelectorError(ValueError):
    """A selector or assertion that cannot be read; ``column`` is 0-based into the text."""

    def __init__(self, message: str, column: int = 0, hint: str | None = None, text: str | None = None):
        super().__init__(message)
        self.message = message
        self.column = column
        self.hint = hint
        self.text = text

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} ({self.hint})"


# --- label filters and selectors ---------------------------------------------------------------

@dataclass(frozen=True)
class LabelFilter:
    """``label op value``: one condition of a selector (``tag!=poison``).

    ``quoted`` values are literal; a bare value containing ``*`` is a wildcard.
    """

    label: str
    op: Literal["=", "!="]
    value: str
    quoted: bool = False
    column: int = field(default=0, compare=False)
    _test: Callable[[Any], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        test = value_test(self.value, self.quoted)
        if self.op == "!=":
            object.__setattr__(self, "_test", lambda actual: not test(actual))
        else:
            object.__setattr__(self, "_test", test)

    def accepts(self, actual: Any) -> bool:
        """Whether a label value ``actual`` (None when absent) satisfies this filter."""
        return self._test(actual)

    def __str__(self) -> str:
        value = _quote(self.value) if self.quoted else self.value
        return f"{self.label}{self.op}{value}"


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _event_getter(label: str) -> Callable[[Any], Any]:
    """How to read ``label`` from a TraceEvent-like object."""
    attr = FIELD_LABELS.get(label)
    if attr is not None:
        return operator.attrgetter(attr)
    if label == "group":
        # A consumer group defaults to the consumer's name, and not every
        # event kind carries data.group, so fall back to the actor.
        def group(event: Any) -> Any:
            data = event.data
            if data and "group" in data:
                return data["group"]
            return event.actor

        return group

    def from_data(event: Any) -> Any:
        data = event.data
        return data.get(label) if data else None

    return from_data


@dataclass(frozen=True)
class Selector:
    """A trace kind or metric name with label filters: ``delivered{tag=poison}``.

    ``start``/``end`` are the 0-based column span in the text it was parsed
    from. `matches` tests a TraceEvent (kind and labels); `matches_labels`
    tests a metric sample's label mapping.
    """

    name: str
    filters: tuple[LabelFilter, ...] = ()
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)
    _event_pred: Callable[[Any], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_event_pred", self._build_event_predicate())

    def _build_event_predicate(self) -> Callable[[Any], bool]:
        name = self.name
        checks = [(_event_getter(f.label), f._test) for f in self.filters]
        if not checks:
            return lambda event: event.kind == name
        if len(checks) == 1:
            (get0, ok0), = checks
            return lambda event: event.kind == name and ok0(get0(event))

        def predicate(event: Any) -> bool:
            if event.kind != name:
                return False
            for get, ok in checks:
                if not ok(get(event)):
                    return False
            return True

        return predicate

    def matches(self, event: Any) -> bool:
        """Whether a TraceEvent has this selector's kind and passes every filter."""
        return self._event_pred(event)

    def matches_labels(self, labels: Mapping[str, Any]) -> bool:
        """Whether a metric sample with these labels passes every filter (the name is not checked)."""
        return all(f.accepts(labels.get(f.label)) for f in self.filters)

    def unknown_labels(self, known: frozenset[str] = EVENT_LABELS) -> list[LabelFilter]:
        """The filters whose label is not in ``known`` (for load-time checks)."""
        return [f for f in self.filters if f.label not in known]

    def __str__(self) -> str:
        if not self.filters:
            return self.name
        return self.name + "{" + ", ".join(str(f) for f in self.filters) + "}"


# --- the assertion AST --------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    """A literal; ``value`` is in base units (ns, per second, bytes, or a plain number)."""

    value: float
    unit_kind: UnitKind | None = None
    text: str = field(default="", compare=False)
    start: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Aggregate:
    """``func(selector...)``; ``q`` is the quantile of ``p(q, ...)``."""

    func: str
    selectors: tuple[Selector, ...]
    q: float | None = None
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)

    @property
    def selector(self) -> Selector:
        """The first (for most aggregates, the only) selector."""
        return self.selectors[0]

    def __str__(self) -> str:
        args = [str(s) for s in self.selectors]
        if self.q is not None:
            args.insert(0, f"{self.q:g}")
        return f"{self.func}({', '.join(args)})"


@dataclass(frozen=True)
class Neg:
    """Unary minus."""

    operand: Node


@dataclass(frozen=True)
class BinOp:
    """``left op right`` with op one of + - * /."""

    left: Node
    op: Literal["+", "-", "*", "/"]
    right: Node


Node = Number | Aggregate | Neg | BinOp


@dataclass(frozen=True)
class Compare:
    """``left op right``: the root of an assertion."""

    left: Node
    op: CompareOp
    right: Node


def _walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Neg):
        yield from _walk(node.operand)
    elif isinstance(node, BinOp):
        yield from _walk(node.left)
        yield from _walk(node.right)


def _compute(node: Node, resolve: Callable[[Aggregate], float | None]) -> float | None:
    """The value of ``node``; None when any aggregate is unknown or a division has a zero divisor."""
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Aggregate):
        value = resolve(node)
        return None if value is None else float(value)
    if isinstance(node, Neg):
        v = _compute(node.operand, resolve)
        return None if v is None else -v
    left = _compute(node.left, resolve)
    right = _compute(node.right, resolve)
    if left is None or right is None:
        return None
    if node.op == "+":
        return left + right
    if node.op == "-":
        return left - right
    if node.op == "*":
        return left * right
    if right == 0:
        return None
    return left / right


def _close(a: float, b: float) -> bool:
    """Equality that forgives float rounding but not a whole count."""
    if a == b:
        return True
    if float(a).is_integer() and float(b).is_integer():
        return False
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "==": _close,
    "!=": lambda a, b: not _close(a, b),
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a < b or _close(a, b),
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a > b or _close(a, b),
}


@dataclass(frozen=True)
class Assertion:
    """A parsed ``that:`` line: ``text`` as written and its `Compare` tree."""

    text: str
    compare: Compare

    def aggregates(self) -> list[Aggregate]:
        """Every aggregate, left to right."""
        return [
            n for side in (self.compare.left, self.compare.right) for n in _walk(side) if isinstance(n, Aggregate)
        ]

    def selectors(self) -> list[Selector]:
        """Every selector used, left to right (the loader checks their names and labels)."""
        return [s for agg in self.aggregates() for s in agg.selectors]

    def evaluate(
        self, resolve: Callable[[Aggregate], float | None]
    ) -> tuple[bool | None, float | None, float | None]:
        """(passed, left value, right value); passed is None when a needed value is unknown.

        ``resolve`` gives an aggregate's value, or None when it has no samples.
        """
        left = _compute(self.compare.left, resolve)
        right = _compute(self.compare.right, resolve)
        if left is None or right is None or math.isnan(left) or math.isnan(right):
            return None, left, right
        return _COMPARE[self.compare.op](left, right), left, right

    def __str__(self) -> str:
        return self.text


# --- the parser ---------------------------------------------------------------------------------

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_FUNC_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LABEL_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BARE_RE = re.compile(r"[A-Za-z0-9_\-.:#*]+")
_NUMBER_RE = re.compile(r"(?:\d(?:_?\d)*(?:\.\d(?:_?\d)*)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d+)?")
_UNIT_RE = re.compile(r"[A-Za-zµ]+")
_COMPOUND_TAIL_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|min|m|h|d)(?![A-Za-zµ]))+")
_RATE_UNIT_RE = re.compile(r"/(s|sec|min|m|h)(?![A-Za-z0-9_.{(])")
_COMPARE_OPS = ("==", "!=", "<=", ">=", "<", ">")


class _Parser:
    """A small recursive-descent parser over one string."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.depth = 0

    # -- low level --

    def error(self, message: str, column: int | None = None, hint: str | None = None) -> SelectorError:
        """A SelectorError at ``column`` (default: the current position)."""
        col = self.pos if column is None else column
        return SelectorError(message, max(0, min(col, len(self.text))), hint, text=self.text)

    def skip(self) -> None:
        """Skip whitespace."""
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos].isspace():
            pos += 1
        self.pos = pos

    def peek(self, s: str) -> bool:
        """Whether the text at the current position starts with ``s``."""
        return self.text.startswith(s, self.pos)

    def found(self) -> str:
        """A short description of what is at the current position, for messages."""
        rest = self.text[self.pos:].split()
        if not rest:
            return "the end of the text"
        return f"`{rest[0][:12]}`"

    def at_end(self) -> bool:
        """Whether only whitespace is left."""
        self.skip()
        return self.pos >= len(self.text)

    # -- selectors --

    def selector(self) -> Selector:
        """``name[{label op value, ...}]``."""
        self.skip()
        start = self.pos
        parts: list[str] = []
        while True:
            m = _IDENT_RE.match(self.text, self.pos)
            if m is None:
                if parts:
                    raise self.error(f"expected a name after `.`, found {self.found()}")
                raise self.error(
                    f"expected an event kind or metric name, found {self.found()}",
                    hint="e.g. delivered{tag=poison} or latency.e2e{consumer=billing}",
                )
            parts.append(m.group())
            self.pos = m.end()
            if self.peek(".") and _IDENT_RE.match(self.text, self.pos + 1):
                self.pos += 1
                continue
            if self.peek("."):
                self.pos += 1
                raise self.error(f"expected a name after `.`, found {self.found()}")
            break
        name = ".".join(parts)
        filters: list[LabelFilter] = []
        self.skip()
        if self.peek("{"):
            open_at = self.pos
            self.pos += 1
            self.skip()
            while not self.peek("}"):
                if self.pos >= len(self.text):
                    raise self.error("expected `}` to close the label list", hint=f"the list opens at column {open_at}")
                filters.append(self.label_filter())
                self.skip()
                if self.peek(","):
                    self.pos += 1
                    self.skip()
                    continue
                if not self.peek("}"):
                    raise self.error(
                        f"expected `}}` to close the label list (or `,` before the next filter), found {self.found()}"
                        if self.pos < len(self.text)
                        else "expected `}` to close the label list",
                    )
            self.pos += 1
        return Selector(name, tuple(filters), start, self.pos)

    def label_filter(self) -> LabelFilter:
        """``label=value`` or ``label!=value``."""
        column = self.pos
        m = _LABEL_RE.match(self.text, self.pos)
        if m is None:
            raise self.error(f"expected a label name, found {self.found()}", hint="e.g. tag=poison")
        label = m.group()
        self.pos = m.end()
        self.skip()
        op: Literal["=", "!="]
        if self.peek("!="):
            op, self.pos = "!=", self.pos + 2
        elif self.peek("=="):
            # Accepted: people write == out of habit and it cannot mean anything else here.
            op, self.pos = "=", self.pos + 2
        elif self.peek("="):
            op, self.pos = "=", self.pos + 1
        else:
            raise self.error(
                f"expected `=` or `!=` after the label `{label}`, found {self.found()}",
                hint=f"e.g. {label}=value",
            )
        self.skip()
        quoted = False
        if self.peek("'") or self.peek('"'):
            value = self.quoted_string()
            quoted = True
        else:
            mv = _BARE_RE.match(self.text, self.pos)
            if mv is None:
                raise self.error(
                    f"expected a value for `{label}`, found {self.found()}",
                    hint="quote values with other characters: tag='a b'",
                )
            value = mv.group()
            self.pos = mv.end()
        return LabelFilter(label, op, value, quoted, column)

    def quoted_string(self) -> str:
        """A '...' or "..." string with backslash escapes."""
        quote = self.text[self.pos]
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.error(f"this quoted value is never closed; expected `{quote}`", start)
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            self.pos += 1
            if ch == quote:
                return "".join(out)
            out.append(ch)

    # -- assertions --

    def assertion(self) -> Compare:
        """``sum op sum``."""
        left = self.sum()
        self.skip()
        op_at = self.pos
        op = next((o for o in _COMPARE_OPS if self.peek(o)), None)
        if op is None:
            if self.pos >= len(self.text):
                raise self.error("expected a comparison operator (==, !=, <, <=, >, >=)",
                                 hint="an assertion compares two sides, e.g. count(dead_lettered) == 3")
            hint = "use `==` to compare" if self.peek("=") else None
            raise self.error(f"expected a comparison operator (==, !=, <, <=, >, >=), found {self.found()}",
                             hint=hint)
        self.pos += len(op)
        right = self.sum()
        self.skip()
        if self.pos < len(self.text):
            if any(self.peek(o) for o in _COMPARE_OPS):
                raise self.error("only one comparison is allowed in an assertion",
                                 hint="write two `that:` lines instead")
            raise self.error(f"unexpected {self.found()} after the assertion")
        if isinstance(left, Number) and isinstance(right, Number):
            raise self.error("this assertion compares two numbers; one side should use an aggregate such as count(...)",
                             op_at)
        return Compare(left, op, right)  # type: ignore[arg-type]

    def sum(self) -> Node:
        """``term (('+' | '-') term)*``."""
        node = self.term()
        while True:
            self.skip()
            if self.peek("+") or self.peek("-"):
                op: Literal["+", "-"] = "+" if self.peek("+") else "-"
                self.pos += 1
                node = BinOp(node, op, self.term())
            else:
                return node

    def term(self) -> Node:
        """``factor (('*' | '/') factor)*``."""
        node = self.factor()
        while True:
            self.skip()
            if self.peek("*") or (self.peek("/") and not self.peek("//")):
                op: Literal["*", "/"] = "*" if self.peek("*") else "/"
                self.pos += 1
                node = BinOp(node, op, self.factor())
            else:
                return node

    def factor(self) -> Node:
        """A number, an aggregate, ``-factor`` or ``( sum )``."""
        self.skip()
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error("this assertion is nested too deeply")
        try:
            if self.peek("-"):
                self.pos += 1
                return Neg(self.factor())
            if self.peek("("):
                open_at = self.pos
                self.pos += 1
                node = self.sum()
                self.skip()
                if not self.peek(")"):
                    raise self.error(f"expected `)` to close the `(` at column {open_at}, found {self.found()}")
                self.pos += 1
                return node
            if _NUMBER_RE.match(self.text, self.pos):
                return self.number()
            if _FUNC_RE.match(self.text, self.pos):
                return self.aggregate()
            if self.pos >= len(self.text):
                raise self.error("the assertion ends too early; expected a number or an aggregate such as count(...)")
            raise self.error(f"expected a number or an aggregate such as count(...), found {self.found()}")
        finally:
            self.depth -= 1

    def number(self) -> Number:
        """A number with an optional unit: ``3``, ``0.02``, ``250ms``, ``20/s``, ``2KiB``, ``2%``."""
        start = self.pos
        m = _NUMBER_RE.match(self.text, self.pos)
        assert m is not None  # the caller checked
        digits = m.group().replace("_", "")
        self.pos = m.end()
        try:
            plain = float(digits)
        except ValueError:  # pragma: no cover - the regex only admits valid floats
            raise self.error(f"`{m.group()}` is not a number", start) from None
        if not math.isfinite(plain):
            raise self.error(f"`{m.group()}` is too large", start)
        if self.peek("%"):
            self.pos += 1
            return Number(plain / 100, "percent", self.text[start:self.pos], start)
        rate = _RATE_UNIT_RE.match(self.text, self.pos)
        if rate is not None:
            self.pos = rate.end()
            if plain == 0:  # `> 0/s` is a fine threshold even though a configured rate cannot be zero
                return Number(0.0, "rate", self.text[start:self.pos], start)
            try:
                value = parse_rate(f"{digits}{rate.group()}")
            except UnitError as exc:
                raise self.error(str(exc), start, exc.hint) from None
            return Number(value, "rate", self.text[start:self.pos], start)
        unit = _UNIT_RE.match(self.text, self.pos)
        if unit is None:
            value_n: float = int(digits) if digits.isdigit() else plain
            return Number(value_n, None, self.text[start:self.pos], start)
        self.pos = unit.end()
        written = f"{digits}{unit.group()}"
        try:
            ns = parse_duration(written)
        except UnitError:
            pass
        else:
            more = _COMPOUND_TAIL_RE.match(self.text, self.pos)  # `1m30s`, `1h30m`: the compound forms
            if more is None:
                return Number(ns, "duration", self.text[start:self.pos], start)
            try:
                ns = parse_duration(written + more.group())
            except UnitError as exc:
                raise self.error(str(exc), start, exc.hint) from None
            self.pos = more.end()
            return Number(ns, "duration", self.text[start:self.pos], start)
        try:
            return Number(parse_size(written), "size", self.text[start:self.pos], start)
        except UnitError:
            pass
        raise self.error(
            f"`{unit.group()}` is not a unit",
            unit.start(),
            f"durations: {DURATION_UNITS}; sizes: {SIZE_UNITS}; rates: {RATE_UNITS}; or N%",
        )

    def aggregate(self) -> Aggregate:
        """``func(args)`` with the arity `AGGREGATES` gives."""
        start = self.pos
        m = _FUNC_RE.match(self.text, self.pos)
        assert m is not None  # the caller checked
        func = m.group()
        self.pos = m.end()
        self.skip()
        if not self.peek("("):
            # A bare selector where a value belongs: the commonest mistake.
            if self.peek("{") or self.peek("."):
                self.pos = start
                sel = self.selector()
                raise self.error(
                    f"`{sel}` is a selector, not a value; wrap it in an aggregate",
                    start,
                    f"e.g. count({sel}) or max({sel})",
                )
            if func in AGGREGATES:
                raise self.error(f"expected `(` after `{func}`", hint=f"e.g. {func}(...)")
            raise self.error(
                f"`{func}` is not a value; expected a number or an aggregate such as count(...)",
                start,
                f"aggregates: {', '.join(AGGREGATES)}",
            )
        if func not in AGGREGATES:
            close = difflib.get_close_matches(func, list(AGGREGATES), n=1)
            hint = f"aggregates: {', '.join(AGGREGATES)}"
            if close:
                raise self.error(f"unknown aggregate `{func}`; did you mean `{close[0]}`?", start, hint)
            raise self.error(f"unknown aggregate `{func}`", start, hint)
        self.pos += 1
        n_selectors, takes_q, _ = AGGREGATES[func]
        q: float | None = None
        if takes_q:
            self.skip()
            q_at = self.pos
            mq = _NUMBER_RE.match(self.text, self.pos)
            if mq is None:
                raise self.error(
                    f"`p` takes a percentile first, found {self.found()}", hint="e.g. p(99, latency.e2e{consumer=billing})"
                )
            self.pos = mq.end()
            q = float(mq.group().replace("_", ""))
            if not 0 < q <= 100:
                raise self.error(f"the percentile must be above 0 and at most 100, not {mq.group()}", q_at)
            self.comma(func)
        selectors: list[Selector] = []
        for i in range(n_selectors):
            if i:
                self.comma(func)
            selectors.append(self.selector())
        self.skip()
        if self.peek(","):
            wanted = "one selector" if n_selectors == 1 else f"{n_selectors} selectors"
            raise self.error(f"`{func}` takes {wanted}" + (" after the percentile" if takes_q else ""))
        if not self.peek(")"):
            if self.pos >= len(self.text):
                raise self.error(f"expected `)` to close `{func}(`")
            raise self.error(f"expected `)` to close `{func}(`, found {self.found()}")
        self.pos += 1
        return Aggregate(func, tuple(selectors), q, start, self.pos)

    def comma(self, func: str) -> None:
        """Expect the `,` between arguments of ``func``."""
        self.skip()
        if not self.peek(","):
            n_selectors, takes_q, _ = AGGREGATES[func]
            usage = {"p": "p(99, latency.e2e{...})", "ratio": "ratio(request_timed_out{...}, request_sent{...})"}
            raise self.error(
                f"expected `,` between the arguments of `{func}`, found {self.found()}",
                hint=f"e.g. {usage.get(func, func + '(...)')}",
            )
        self.pos += 1


def _check_text(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise SelectorError(f"{what} must be text, not {type(text).__name__}", 0)
    if len(text) > _MAX_TEXT:
        raise SelectorError(f"this {what} is too long ({len(text)} characters; the limit is {_MAX_TEXT})", 0)
    if not text.strip():
        raise SelectorError(f"the {what} is empty", 0, text=text)
    return text


_SELECTORS: TextCache[str, Selector] = TextCache()
_ASSERTIONS: TextCache[str, Assertion] = TextCache()


def parse_selector(text: str) -> Selector:
    """Parse one event or metric selector; raise `SelectorError` with a column on failure.

    A text parsed before returns the same `Selector`: it is frozen (its predicate a closure over
    frozen filters), so the loader's checks of each lesson variation and the run share one parse.
    """
    if type(text) is str:
        return _SELECTORS.through(text, lambda: _parse_selector(text))
    return _parse_selector(text)


def _parse_selector(text: str) -> Selector:
    parser = _Parser(_check_text(text, "selector"))
    sel = parser.selector()
    if not parser.at_end():
        if parser.peek("("):
            raise parser.error("a selector has no `(`; label filters go in `{...}`", hint="e.g. delivered{tag=poison}")
        raise parser.error(f"unexpected {parser.found()} after the selector", hint="label filters go in `{...}`")
    return sel


def parse_assertion(text: str) -> Assertion:
    """Parse a ``that:`` assertion; raise `SelectorError` with a column on failure.

    Cached by text like `parse_selector` (an `Assertion` is a frozen tree of frozen nodes)."""
    if type(text) is str:
        return _ASSERTIONS.through(text, lambda: _parse_assertion(text))
    return _parse_assertion(text)


def _parse_assertion(text: str) -> Assertion:
    parser = _Parser(_check_text(text, "assertion"))
    return Assertion(text, parser.assertion())
