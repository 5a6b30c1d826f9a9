"""Restricted expressions: the small language of `when:`, `key:`, `by:` and `value:`.

A scenario says things like ``msg.payload.amount < 0`` or
``msg.type + ':' + msg.payload.orderId``. These are read with Python's own
parser (``ast.parse(mode="eval")``) and then checked against a whitelist of
node types, so the grammar is familiar Python while the power is small: no
imports, no lambdas, no comprehensions, no method calls, no dunder
attributes, no ``**``. The checked tree is turned once into nested closures,
so evaluating an expression for each message costs a few hundred
nanoseconds and never goes through ``eval``.

``a.b`` means ``a["b"]`` when ``a`` is a mapping (payloads and state are
plain dicts), and otherwise a real attribute, but only one named in
`DATA_ATTRIBUTES` and never a callable.
"""

from __future__ import annotations

import ast
import difflib
import operator
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evtool.scenario.textcache import TextCache

__all__ = [
    "DATA_ATTRIBUTES",
    "MAX_RESULT",
    "DEFAULT_NAMES",
    "FUNCTIONS",
    "Expression",
    "ExpressionError",
    "ExpressionRuntimeError",
    "compile_expression",
    "value_weight",
]

# The names a scenario expression may use unless the caller narrows them.
DEFAULT_NAMES: frozenset[str] = frozenset({"msg", "state", "key", "attempt", "now", "params", "tag"})

# Pure built-ins an expression may call. Each entry: (function, min args, max args or None).
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int | None]] = {
    "len": (len, 1, 1),
    "min": (min, 1, None),
    "max": (max, 1, None),
    "abs": (abs, 1, 1),
    "round": (round, 1, 2),  # replaced by `_round` below, which bounds the digits
    "str": (str, 1, 1),
    "int": (int, 1, 1),
    "float": (float, 1, 1),
    "sum": (sum, 1, 1),
    "any": (any, 1, 1),
    "all": (all, 1, 1),
}

# Attributes that may be read from non-mapping objects (messages, events,
# records). Public data only; anything callable is refused at run time too.
DATA_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "id",
        "type",
        "key",
        "payload",
        "headers",
        "tag",
        "attempt",
        "seq",
        "channel",
        "reply_to",
        "correlation_id",
        "causation_id",
        "request_id",
        "published_at",
        "timestamp",
        "size",
        "version",
        "partition",
        "offset",
        "priority",
        "msg",
        "kind",
        "actor",
        "instance",
        "data",
        "t",
        "real",
        "imag",
    }
)

# Guards against expressions that build huge values ("x" * 10**9 style).
_MAX_REPEAT = 10_000
_MAX_TEXT = 4_000

MAX_RESULT = 100_000
"""The largest value an expression or a template may build, as `value_weight` measures it.

Bounding each operation is not enough: `'a' * 10000 * 10000` repeats 10,000 times twice, and
`[[0] * 10000] * 10000` is a small list whose `str()` or `==` walks 10^8 items. The weight counts
what printing or comparing the value would walk, so every later step on it is bounded too."""

MAX_INT_BITS = 4_096
"""The largest whole number an expression may build (about 1,200 digits; Python refuses to print 4,300)."""


def value_weight(value: Any, limit: int = MAX_RESULT) -> int:
    """Characters of text plus items of lists and mappings, counted through nesting and sharing.

    A list that holds the same inner list 10,000 times weighs 10,000 times the inner list: that
    is what `str()` or `==` would walk. Each distinct container is measured once (memoized by id),
    and the walk stops as soon as the total passes `limit`.
    """
    memo: dict[int, int] = {}

    def weigh(v: Any, depth: int) -> int:
        if type(v) is str:
            return len(v) + 1
        if isinstance(v, list | tuple | dict | set | frozenset):
            known = memo.get(id(v))
            if known is not None:
                return known
            if depth > 100:
                return limit + 1  # nested this deep: too large to print or compare cheaply
            total = 1
            items = (x for kv in v.items() for x in kv) if isinstance(v, dict) else v
            for item in items:
                total += weigh(item, depth + 1)
                if total > limit:
                    break
            memo[id(v)] = total
            return total
        if type(v) is int:
            return 1 + v.bit_length() // 64
        if isinstance(v, str):
            return len(v) + 1
        return 1

    return weigh(value, 0)


def _check_size(value: Any, what: str) -> Any:
    """`value` itself, or a failure when it weighs more than `MAX_RESULT`."""
    if value_weight(value) > MAX_RESULT:
        raise _Failure(f"{what} would be too large (the limit is {MAX_RESULT:,} characters or items)")
    return value


class ExpressionError(ValueError):
    """An expression that cannot be accepted, found when the scenario is loaded.

    ``column`` is the 0-based offset into the expression text of the
    offending part; ``hint`` is an optional suggestion for the author.
    """

    def __init__(self, message: str, column: int = 0, hint: str | None = None, text: str | None = None):
        super().__init__(message)
        self.message = message
        self.column = column
        self.hint = hint
        self.text = text

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} ({self.hint})"


class ExpressionRuntimeError(Exception):
    """An expression failed while being evaluated (a missing field, a type mismatch).

    The engine reports it as a handler error; ``text`` is the expression and
    ``detail`` says what went wrong.
    """

    def __init__(self, text: str, detail: str):
        super().__init__(f"in `{text}`: {detail}")
        self.text = text
        self.detail = detail


class _Failure(Exception):
    """Raised inside compiled closures; turned into ExpressionRuntimeError by `evaluate`."""


Evaluator = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True, eq=False)
class Expression:
    """A compiled, side-effect-free expression.

    ``text`` is the source as written; ``names_used`` the top-level names it
    reads (``msg``, ``state``, ...), so callers can tell whether it needs, say,
    the service state.
    """

    text: str
    names_used: frozenset[str]
    _fn: Evaluator = field(repr=False, compare=False)

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        """Evaluate against ``env`` (name -> value); raise ExpressionRuntimeError on failure."""
        try:
            return self._fn(env)
        except _Failure as exc:
            raise ExpressionRuntimeError(self.text, str(exc)) from None
        except (TypeError, ValueError, ArithmeticError, KeyError, IndexError, AttributeError) as exc:
            raise ExpressionRuntimeError(self.text, _describe(exc)) from None
        except RecursionError:
            raise ExpressionRuntimeError(self.text, "the value is nested too deeply") from None

    def __call__(self, env: Mapping[str, Any]) -> Any:
        """Same as `evaluate`."""
        return self.evaluate(env)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and other.text == self.text and other.names_used == self.names_used

    def __hash__(self) -> int:
        return hash((self.text, self.names_used))


def _describe(exc: BaseException) -> str:
    """A plain-English version of a Python exception raised during evaluation."""
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, KeyError):
        return f"no entry {exc.args[0]!r}" if exc.args else "missing entry"
    return str(exc) or type(exc).__name__


_COMPILED: TextCache[tuple[str, frozenset[str]], Expression] = TextCache()


def compile_expression(text: str, *, names: frozenset[str] = DEFAULT_NAMES) -> Expression:
    """Parse, check and compile ``text`` into an `Expression`.

    Only the names in ``names`` may appear (besides calls to `FUNCTIONS`).
    Raises `ExpressionError` with a 0-based column on anything outside the
    language. A text compiled before with the same names returns the same
    `Expression`: it is frozen and its evaluator keeps no state between calls,
    so each lesson variation the loader checks, and the run, share one compile.
    """
    if type(text) is str and type(names) is frozenset:
        return _COMPILED.through((text, names), lambda: _compile_expression(text, names))
    return _compile_expression(text, names)


def _compile_expression(text: str, names: frozenset[str]) -> Expression:
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be text, not {type(text).__name__}", 0)
    if len(text) > _MAX_TEXT:
        raise ExpressionError(f"this expression is too long ({len(text)} characters; the limit is {_MAX_TEXT})", 0)
    # Line breaks (YAML folded strings) become spaces so every offset stays a
    # single-line column; leading spaces would otherwise be "unexpected indent".
    src = text.replace("\r", " ").replace("\n", " ")
    stripped = src.lstrip()
    lead = len(src) - len(stripped)
    if not stripped.strip():
        raise ExpressionError("the expression is empty", 0, text=text)
    try:
        # Python's warnings ("invalid decimal literal" in `1and x`, `is` with a
        # literal) are mistakes in a scenario too: refuse instead of printing.
        with warnings.catch_warnings():
            warnings.simplefilter("error", SyntaxWarning)
            tree = ast.parse(stripped, mode="eval")
    except SyntaxError as exc:
        raise _syntax_error(text, stripped, lead, exc) from None
    except SyntaxWarning as exc:
        raise ExpressionError(f"could not read this expression: {exc}", 0, text=text) from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise ExpressionError(f"could not read this expression: {exc}", 0, text=text) from None
    compiler = _Compiler(text, stripped, lead, names)
    try:
        fn = compiler.compile(tree.body)
    except RecursionError:
        raise ExpressionError("this expression is nested too deeply", 0, text=text) from None
    return Expression(text=text, names_used=frozenset(compiler.used), _fn=fn)


def _syntax_error(text: str, src: str, lead: int, exc: SyntaxError) -> ExpressionError:
    """Turn Python's SyntaxError into an ExpressionError with a useful column and hint."""
    if not exc.offset:
        # Python reports offset 0 when the text stops in the middle of an expression.
        column = len(text.rstrip())
        return ExpressionError(
            "could not read this expression: it ends too early", column, "something is missing at the end", text=text
        )
    offset = exc.offset - 1
    column = min(lead + offset, len(text))
    hint = None
    if src[offset : offset + 1] == "=" and src[offset : offset + 2] != "==":
        hint = "use `==` to compare"
    return ExpressionError(f"could not read this expression: {exc.msg}", column, hint, text=text)


# --- run-time helpers used by the closures ---------------------------------------------------


def _get_attr(value: Any, attr: str, path: str) -> Any:
    """``value.attr`` as the language defines it (the slow path, after the dict fast path)."""
    if isinstance(value, Mapping):
        try:
            return value[attr]
        except KeyError:
            raise _Failure(f"`{path}` has no field `{attr}`") from None
    if value is None:
        raise _Failure(f"`{path}` is empty (None), so it has no field `{attr}`")
    if attr not in DATA_ATTRIBUTES:
        raise _Failure(f"`{path}` ({type(value).__name__}) has no readable field `{attr}`")
    try:
        result = getattr(value, attr)
    except AttributeError:
        raise _Failure(f"`{path}` ({type(value).__name__}) has no field `{attr}`") from None
    if callable(result):
        raise _Failure(f"`{path}.{attr}` is not a data field")
    return result


def _get_item(value: Any, index: Any, path: str) -> Any:
    """``value[index]`` for mappings and sequences only."""
    if isinstance(value, Mapping):
        try:
            return value[index]
        except KeyError:
            raise _Failure(f"`{path}` has no entry {index!r}") from None
        except TypeError:
            raise _Failure(f"{index!r} cannot be used as a key of `{path}`") from None
    if isinstance(value, Sequence):
        if isinstance(index, bool) or not isinstance(index, int | slice):
            raise _Failure(f"`{path}` is a list; its index must be a whole number, not {index!r}")
        try:
            return value[index]
        except IndexError:
            raise _Failure(f"`{path}` has no item at position {index}") from None
    if value is None:
        raise _Failure(f"`{path}` is empty (None), so it has no entry {index!r}")
    raise _Failure(f"`{path}` ({type(value).__name__}) cannot be indexed")


def _mul(a: Any, b: Any) -> Any:
    """Multiplication that refuses to build huge strings, lists or numbers."""
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, str | list | tuple) and isinstance(n, int):
            if n > _MAX_REPEAT:
                raise _Failure(f"repeating a text or list {n} times is too much (limit {_MAX_REPEAT})")
            if n > 0 and value_weight(seq, MAX_RESULT // n + 1) * n > MAX_RESULT:
                raise _Failure(f"repeating this {n} times would be too large "
                               f"(the limit is {MAX_RESULT:,} characters or items)")
    if type(a) is int and type(b) is int and a.bit_length() + b.bit_length() > MAX_INT_BITS:
        raise _Failure(f"the product would be a number of more than {MAX_INT_BITS:,} bits")
    return a * b


def _add(a: Any, b: Any) -> Any:
    """Addition that refuses to join texts or lists into a huge one."""
    if isinstance(a, str | list | tuple) and isinstance(b, str | list | tuple):
        if value_weight(a) + value_weight(b) > MAX_RESULT:
            raise _Failure(f"joining these would be too large (the limit is {MAX_RESULT:,} characters or items)")
    return a + b


def _round(x: Any, ndigits: Any = None) -> Any:
    """`round`, with the digits kept small (`round(5, -10**9)` would compute 10**(10**9))."""
    if ndigits is None:
        return round(x)
    if isinstance(ndigits, int) and not -400 <= ndigits <= 400:
        raise _Failure(f"round() to {ndigits} digits: the digits must be between -400 and 400")
    return round(x, ndigits)


FUNCTIONS["round"] = (_round, 1, 2)


def _mod(a: Any, b: Any) -> Any:
    """Remainder for numbers only (``'%s' % x`` formatting is refused)."""
    if isinstance(a, str | bytes):
        raise _Failure("`%` is the remainder of a division; text formatting with `%` is not supported")
    return a % b


_BINOPS: dict[type[ast.operator], tuple[Callable[[Any, Any], Any], str]] = {
    ast.Add: (_add, "+"),
    ast.Sub: (operator.sub, "-"),
    ast.Mult: (_mul, "*"),
    ast.Div: (operator.truediv, "/"),
    ast.FloorDiv: (operator.floordiv, "//"),
    ast.Mod: (_mod, "%"),
}

_CMPOPS: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}

# Plain-English names for refused node types.
_REFUSED: dict[type[ast.AST], str] = {
    ast.Lambda: "lambdas are not allowed in scenario expressions",
    ast.ListComp: "comprehensions are not allowed in scenario expressions",
    ast.SetComp: "comprehensions are not allowed in scenario expressions",
    ast.DictComp: "comprehensions are not allowed in scenario expressions",
    ast.GeneratorExp: "generator expressions are not allowed in scenario expressions",
    ast.NamedExpr: "assignment (`:=`) is not allowed in scenario expressions",
    ast.Await: "`await` is not allowed in scenario expressions",
    ast.Yield: "`yield` is not allowed in scenario expressions",
    ast.YieldFrom: "`yield` is not allowed in scenario expressions",
    ast.Starred: "`*` unpacking is not allowed in scenario expressions",
    ast.Dict: "dict literals are not allowed in scenario expressions",
    ast.Set: "set literals are not allowed in scenario expressions",
}


class _Compiler:
    """Turns a checked AST into closures; raises ExpressionError on refused nodes."""

    def __init__(self, text: str, src: str, lead: int, names: frozenset[str]):
        self.text = text
        self.src_bytes = src.encode("utf-8")
        self.lead = lead
        self.names = names
        self.used: set[str] = set()

    # -- positions --

    def column(self, node: ast.AST, byte_offset: int | None = None) -> int:
        """The 0-based character column in the original text of ``node`` (or of a byte offset)."""
        offset = byte_offset if byte_offset is not None else getattr(node, "col_offset", 0)
        return self.lead + len(self.src_bytes[:offset].decode("utf-8", errors="ignore"))

    def source(self, node: ast.AST) -> str:
        """The source text of ``node`` (used in run-time messages)."""
        start = getattr(node, "col_offset", 0)
        end = getattr(node, "end_col_offset", None) or len(self.src_bytes)
        return self.src_bytes[start:end].decode("utf-8", errors="replace")

    def operator_offset(self, node: ast.BinOp, symbol: str) -> int:
        """The byte offset of a binary operator (the AST does not record it)."""
        start = node.left.end_col_offset or node.col_offset
        found = self.src_bytes.find(symbol.encode(), start, node.right.col_offset)
        return found if found >= 0 else node.col_offset

    def fail(self, message: str, node: ast.AST, hint: str | None = None, byte_offset: int | None = None) -> ExpressionError:
        """Build the ExpressionError for ``node``."""
        return ExpressionError(message, self.column(node, byte_offset), hint, text=self.text)

    # -- dispatch --

    def compile(self, node: ast.AST) -> Evaluator:
        """Compile one node into a closure taking the environment."""
        method = getattr(self, f"_c_{type(node).__name__}", None)
        if method is None:
            message = _REFUSED.get(type(node))
            if message is None:
                message = f"`{self.source(node)}` uses a construct ({type(node).__name__}) that scenario expressions do not allow"
            raise self.fail(message, node)
        fn: Evaluator = method(node)
        return fn

    def _c_Constant(self, node: ast.Constant) -> Evaluator:
        value = node.value
        if value is not None and not isinstance(value, bool | int | float | str):
            raise self.fail(f"constants of type {type(value).__name__} are not allowed", node)
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
            raise self.fail("this number is too large", node)
        return lambda env: value

    def _c_Name(self, node: ast.Name) -> Evaluator:
        name = node.id
        if name not in self.names:
            known = sorted(self.names)
            hint = None
            close = difflib.get_close_matches(name, known + sorted(FUNCTIONS), n=1)
            if close:
                hint = f"did you mean `{close[0]}`?"
            if name in FUNCTIONS:
                message = f"`{name}` is a function; call it like `{name}(...)`"
            else:
                message = f"`{name}` is not a known name here; names you can use: {', '.join(known)}"
            raise self.fail(message, node, hint)
        self.used.add(name)

        def get_name(env: Mapping[str, Any]) -> Any:
            try:
                return env[name]
            except KeyError:
                raise _Failure(f"`{name}` is not available here") from None

        return get_name

    def _c_Attribute(self, node: ast.Attribute) -> Evaluator:
        attr = node.attr
        end = node.end_col_offset or len(self.src_bytes)
        attr_offset = end - len(attr.encode("utf-8"))
        if attr.startswith("_"):
            raise self.fail(
                f"`{attr}` cannot be read: names starting with `_` are private",
                node,
                "use fields of the message, its payload or the service state",
                byte_offset=attr_offset,
            )
        inner = self.compile(node.value)
        path = self.source(node.value)

        def get_attr(env: Mapping[str, Any]) -> Any:
            value = inner(env)
            # Fast path: payloads and state are plain dicts.
            if type(value) is dict:
                try:
                    return value[attr]
                except KeyError:
                    raise _Failure(f"`{path}` has no field `{attr}`") from None
            return _get_attr(value, attr, path)

        return get_attr

    def _c_Subscript(self, node: ast.Subscript) -> Evaluator:
        inner = self.compile(node.value)
        index = self.compile(node.slice)
        path = self.source(node.value)

        def get_item(env: Mapping[str, Any]) -> Any:
            value = inner(env)
            key = index(env)
            if type(value) is dict:
                try:
                    return value[key]
                except KeyError:
                    raise _Failure(f"`{path}` has no entry {key!r}") from None
                except TypeError:
                    raise _Failure(f"{key!r} cannot be used as a key of `{path}`") from None
            return _get_item(value, key, path)

        return get_item

    def _c_Slice(self, node: ast.Slice) -> Evaluator:
        parts = [self.compile(p) if p is not None else None for p in (node.lower, node.upper, node.step)]

        def make_slice(env: Mapping[str, Any]) -> slice:
            lo, hi, st = (p(env) if p is not None else None for p in parts)
            for v in (lo, hi, st):
                if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                    raise _Failure(f"slice bounds must be whole numbers, not {v!r}")
            return slice(lo, hi, st)

        return make_slice

    def _c_Compare(self, node: ast.Compare) -> Evaluator:
        left = self.compile(node.left)
        ops: list[Callable[[Any, Any], bool]] = []
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            if isinstance(op, ast.Is | ast.IsNot) and not any(
                isinstance(o, ast.Constant) and o.value is None for o in operands[i : i + 2]
            ):
                # Identity of numbers and texts is an implementation detail; only `is None` means something.
                raise self.fail("`is` / `is not` may only compare with None; use == or !=", operands[i + 1],
                                "write `x == 1` or `x is None`")
            fn = _CMPOPS.get(type(op))
            if fn is None:  # pragma: no cover - every Python comparison is listed
                raise self.fail("this comparison is not supported", node)
            ops.append(fn)
        rights = [self.compile(c) for c in node.comparators]
        if len(ops) == 1:
            op0, right0 = ops[0], rights[0]
            if isinstance(node.comparators[0], ast.Constant):
                const = node.comparators[0].value
                return lambda env: op0(left(env), const)
            return lambda env: op0(left(env), right0(env))
        pairs = list(zip(ops, rights, strict=True))

        def chain(env: Mapping[str, Any]) -> bool:
            a = left(env)
            for op, right in pairs:
                b = right(env)
                if not op(a, b):
                    return False
                a = b
            return True

        return chain

    def _c_BoolOp(self, node: ast.BoolOp) -> Evaluator:
        values = [self.compile(v) for v in node.values]
        if isinstance(node.op, ast.And):

            def all_of(env: Mapping[str, Any]) -> Any:
                result: Any = True
                for v in values:
                    result = v(env)
                    if not result:
                        return result
                return result

            return all_of

        def any_of(env: Mapping[str, Any]) -> Any:
            result: Any = False
            for v in values:
                result = v(env)
                if result:
                    return result
            return result

        return any_of

    def _c_UnaryOp(self, node: ast.UnaryOp) -> Evaluator:
        operand = self.compile(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda env: not operand(env)
        if isinstance(node.op, ast.USub):
            return lambda env: -operand(env)
        if isinstance(node.op, ast.UAdd):
            return lambda env: +operand(env)
        raise self.fail("the `~` operator is not allowed", node)

    def _c_BinOp(self, node: ast.BinOp) -> Evaluator:
        entry = _BINOPS.get(type(node.op))
        if entry is None:
            symbol = {ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<",
                      ast.RShift: ">>", ast.MatMult: "@"}.get(type(node.op), "?")
            hint = "use and / or" if symbol in ("&", "|") else None
            raise self.fail(
                f"the `{symbol}` operator is not allowed; use + - * / // %", node, hint,
                byte_offset=self.operator_offset(node, symbol),
            )
        fn = entry[0]
        left = self.compile(node.left)
        right = self.compile(node.right)
        return lambda env: fn(left(env), right(env))

    def _c_IfExp(self, node: ast.IfExp) -> Evaluator:
        test = self.compile(node.test)
        body = self.compile(node.body)
        orelse = self.compile(node.orelse)
        return lambda env: body(env) if test(env) else orelse(env)

    def _c_List(self, node: ast.List) -> Evaluator:
        items = [self.compile(e) for e in node.elts]
        if all(isinstance(e, ast.Constant) for e in node.elts):
            return lambda env: [i(env) for i in items]  # constants only: its size is in the text
        return lambda env: _check_size([i(env) for i in items], "this list")

    def _c_Tuple(self, node: ast.Tuple) -> Evaluator:
        items = [self.compile(e) for e in node.elts]
        if all(isinstance(e, ast.Constant) for e in node.elts):
            return lambda env: tuple(i(env) for i in items)
        return lambda env: _check_size(tuple(i(env) for i in items), "this tuple")

    def _c_JoinedStr(self, node: ast.JoinedStr) -> Evaluator:
        parts: list[Evaluator] = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                text = value.value
                parts.append(lambda env, text=text: text)
            elif isinstance(value, ast.FormattedValue):
                if value.conversion != -1 or value.format_spec is not None:
                    raise self.fail(
                        "format specs and conversions (`:...`, `!r`) are not allowed in f-strings",
                        node,
                        "write `{value}` only, or use round(...) / str(...)",
                    )
                inner = self.compile(value.value)
                parts.append(lambda env, inner=inner: _checked_str(inner(env)))
            else:  # pragma: no cover - JoinedStr holds only these two
                raise self.fail("this f-string is not supported", node)
        def joined(env: Mapping[str, Any]) -> str:
            out = []
            size = 0
            for p in parts:
                piece = p(env)
                size += len(piece)
                if size > MAX_RESULT:
                    raise _Failure(f"this f-string would be too long (the limit is {MAX_RESULT:,} characters)")
                out.append(piece)
            return "".join(out)

        return joined

    def _c_Call(self, node: ast.Call) -> Evaluator:
        func = node.func
        allowed = ", ".join(sorted(FUNCTIONS))
        if not isinstance(func, ast.Name):
            offset = None
            if isinstance(func, ast.Attribute) and func.end_col_offset is not None:
                offset = func.end_col_offset - len(func.attr.encode("utf-8"))
            raise self.fail(
                f"`{self.source(func)}(...)` cannot be called; functions you can use: {allowed}", node,
                "methods cannot be called", byte_offset=offset,
            )
        entry = FUNCTIONS.get(func.id)
        if entry is None:
            close = difflib.get_close_matches(func.id, sorted(FUNCTIONS), n=1)
            hint = f"did you mean `{close[0]}`?" if close else None
            raise self.fail(f"`{func.id}` is not a function you can call; functions you can use: {allowed}", node, hint)
        if node.keywords:
            raise self.fail(f"`{func.id}` takes no named arguments here", node.keywords[0])
        fn, lo, hi = entry
        n = len(node.args)
        if n < lo or (hi is not None and n > hi):
            wanted = str(lo) if hi == lo else (f"{lo} or {hi}" if hi is not None else f"at least {lo}")
            raise self.fail(f"`{func.id}` takes {wanted} argument{'s' if wanted != '1' else ''}, not {n}", node)
        args = [self.compile(a) for a in node.args]
        if func.id == "str":
            only = args[0]
            return lambda env: _checked_str(only(env))
        if len(args) == 1:
            a0 = args[0]
            return lambda env: fn(a0(env))
        return lambda env: fn(*[a(env) for a in args])


def _checked_str(value: Any) -> str:
    """``str()`` of plain data only, so an object's custom __str__ never runs, and of bounded size."""
    if type(value) is str:
        return value
    if value is None or isinstance(value, bool | int | float | str | list | tuple | dict | set | frozenset):
        if value_weight(value) > MAX_RESULT:
            raise _Failure(f"str() of this value would be too long (the limit is {MAX_RESULT:,} characters)")
        try:
            return str(value)
        except ValueError as exc:  # an integer past Python's 4,300-digit limit
            raise _Failure(f"str() of this value: {exc}") from None
    raise _Failure(f"str() of a {type(value).__name__} is not allowed")
