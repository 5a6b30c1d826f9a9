"""Payload templates: `{{ uuid() }}`, `{{ key }}`, `{{ rand.uniform(5, 500) | round(2) }}`.

A small, sandboxed template language for producer payloads and emitted
messages. Each `{{ … }}` holds one expression over a few names (`key`,
`seq`, `n`, `now`, `producer`, `instance`, `msg`, `params`) and a few
functions bound to the component's seeded random stream, so the same seed
gives the same payloads. A value that is exactly one `{{ … }}` keeps the
expression's type (`{{ rand.randint(1, 5) }}` is an integer).
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from evtool.scenario.errors import did_you_mean
from evtool.scenario.expressions import MAX_INT_BITS, MAX_RESULT, value_weight
from evtool.scenario.textcache import TextCache

TEMPLATE_NAMES = frozenset({"key", "seq", "n", "now", "producer", "instance", "msg", "params", "tag"})

_SEGMENT = re.compile(r"\{\{(.*?)\}\}", re.S)
_MAX_TEXT = 4_000
"""The longest template text; payload templates are short."""
_MAX_REPEAT = 10_000
"""`'x' * n` and `[..] * n` may not repeat more often than this."""


def _too_large(what: str) -> TemplateRuntimeError:
    return TemplateRuntimeError(f"{what} would be too large (the limit is {MAX_RESULT:,} characters or items)")


def _mul(a: Any, b: Any) -> Any:
    """Multiplication that refuses to build huge strings, lists or numbers (each step and the result)."""
    for seq, n in ((a, b), (b, a)):
        if isinstance(seq, str | list | tuple) and isinstance(n, int):
            if n > _MAX_REPEAT:
                raise TemplateRuntimeError(f"repeating a text or list {n} times is too much (limit {_MAX_REPEAT})")
            if n > 0 and value_weight(seq, MAX_RESULT // n + 1) * n > MAX_RESULT:
                raise _too_large(f"repeating this {n} times")
    if type(a) is int and type(b) is int and a.bit_length() + b.bit_length() > MAX_INT_BITS:
        raise TemplateRuntimeError(f"the product would be a number of more than {MAX_INT_BITS:,} bits")
    return a * b


def _add(a: Any, b: Any) -> Any:
    """Addition that refuses to join texts or lists into a huge one."""
    if isinstance(a, str | list | tuple) and isinstance(b, str | list | tuple) and \
            value_weight(a) + value_weight(b) > MAX_RESULT:
        raise _too_large("joining these")
    return a + b


def _str(value: Any) -> str:
    """`str()` of a value of bounded size (a list repeating a list prints as a huge text)."""
    if type(value) is str:
        return value
    if value_weight(value) > MAX_RESULT:
        raise _too_large("the text of this value")
    try:
        return str(value)
    except ValueError as exc:  # an integer past Python's 4,300-digit limit
        raise TemplateRuntimeError(f"str(): {exc}") from None


def _round(x: Any, ndigits: Any = None) -> Any:
    """`round`, with the digits kept small (`round(5, -10**9)` would compute 10**(10**9))."""
    if ndigits is None:
        return round(x)
    if isinstance(ndigits, int) and not -400 <= ndigits <= 400:
        raise TemplateRuntimeError(f"round() to {ndigits} digits: the digits must be between -400 and 400")
    return round(x, ndigits)


def _mod(a: Any, b: Any) -> Any:
    """Remainder for numbers only (`'%s' % x` formatting could build huge strings)."""
    if isinstance(a, str | bytes):
        raise TemplateRuntimeError("`%` is the remainder of a division; text formatting with `%` is not supported")
    return a % b


class TemplateError(ValueError):
    """A template that does not parse; `column` is an offset into the template text."""

    def __init__(self, message: str, column: int = 0, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.hint = hint


class TemplateRuntimeError(RuntimeError):
    """A template failed while rendering (a missing field, a bad argument)."""


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:32]}"


def _choice(rng: random.Random, *options: Any, weights: list[float] | None = None) -> Any:
    if len(options) == 1 and isinstance(options[0], list | tuple):
        options = tuple(options[0])
    if not options:
        raise TemplateRuntimeError("choice() needs at least one option")
    if weights is not None:
        return rng.choices(options, weights=weights, k=1)[0]
    return options[rng.randrange(len(options))]


_RAND_FUNCS: dict[str, Callable[..., Any]] = {
    "uniform": lambda rng, a, b: rng.uniform(a, b),
    "randint": lambda rng, a, b: rng.randint(a, b),
    "random": lambda rng: rng.random(),
    "choice": _choice,
    "gauss": lambda rng, mu, sigma: rng.gauss(mu, sigma),
}
_FUNCS: dict[str, Callable[..., Any]] = {
    "uuid": _uuid,
    "choice": _choice,
    "randint": _RAND_FUNCS["randint"],
    "uniform": _RAND_FUNCS["uniform"],
}
_PURE: dict[str, Callable[..., Any]] = {
    "round": _round,
    "str": _str,
    "int": int,
    "float": float,
    "upper": lambda s: _str(s).upper(),
    "lower": lambda s: _str(s).lower(),
    "len": len,
    "abs": abs,
    "min": min,
    "max": max,
}
_ALL_FUNCS = sorted({*_FUNCS, *_PURE, *(f"rand.{k}" for k in _RAND_FUNCS)})

Env = Mapping[str, Any]
Node = Callable[[Env, random.Random], Any]


def _split_filters(text: str) -> list[tuple[str, int]]:
    """Split `a | round(2)` at top-level pipes, keeping each part's offset."""
    parts: list[tuple[str, int]] = []
    depth = 0
    quote: str | None = None
    start = 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append((text[start:i], start))
            start = i + 1
    parts.append((text[start:], start))
    return parts


_MAX_DEPTH = 64
"""The deepest expression tree a template may hold (rendering recurses once per level)."""


class _Compiler:
    def __init__(self, base: int) -> None:
        self.base = base
        self.depth = 0

    def fail(self, node: ast.AST | None, message: str, hint: str | None = None) -> TemplateError:
        col = getattr(node, "col_offset", 0) if node is not None else 0
        return TemplateError(message, self.base + col, hint)

    def compile(self, node: ast.AST) -> Node:
        self.depth += 1
        try:
            if self.depth > _MAX_DEPTH:
                raise self.fail(node, f"this expression nests more than {_MAX_DEPTH} levels deep",
                                "a payload template holds a short expression")
            return self._compile(node)
        finally:
            self.depth -= 1

    def _compile(self, node: ast.AST) -> Node:
        if isinstance(node, ast.Constant):
            value = node.value
            return lambda env, rng: value
        if isinstance(node, ast.Name):
            name = node.id
            if name not in TEMPLATE_NAMES:
                raise self.fail(node, f"`{name}` is not a known name",
                                did_you_mean(name, TEMPLATE_NAMES) or f"names: {', '.join(sorted(TEMPLATE_NAMES))}")

            def get_name(env: Env, rng: random.Random) -> Any:
                try:
                    return env[name]
                except KeyError:
                    raise TemplateRuntimeError(f"`{name}` has no value here") from None
            return get_name
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                raise self.fail(node, f"`{node.attr}` cannot be read")
            inner = self.compile(node.value)
            attr = node.attr

            def get_attr(env: Env, rng: random.Random) -> Any:
                obj = inner(env, rng)
                if isinstance(obj, Mapping):
                    if attr in obj:
                        return obj[attr]
                    raise TemplateRuntimeError(f"no field `{attr}`")
                if hasattr(obj, "__slots__") and attr in getattr(obj, "__slots__", ()):
                    return getattr(obj, attr)
                raise TemplateRuntimeError(f"no field `{attr}`")
            return get_attr
        if isinstance(node, ast.Subscript):
            inner = self.compile(node.value)
            index = self.compile(node.slice)

            def subscript(env: Env, rng: random.Random) -> Any:
                obj, key = inner(env, rng), index(env, rng)
                if not isinstance(obj, Mapping | list | tuple | str):
                    raise TemplateRuntimeError(f"a {type(obj).__name__} cannot be indexed")
                try:
                    return obj[key]
                except (KeyError, IndexError, TypeError) as exc:
                    raise TemplateRuntimeError(f"no entry {key!r}: {type(exc).__name__}") from None
            return subscript
        if isinstance(node, ast.List | ast.Tuple):
            items = [self.compile(e) for e in node.elts]

            def build(env: Env, rng: random.Random) -> list[Any]:
                out = [f(env, rng) for f in items]
                if value_weight(out) > MAX_RESULT:
                    raise _too_large("this list")
                return out
            return build
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.Div | ast.Mod):
            left, right = self.compile(node.left), self.compile(node.right)
            op = {ast.Add: _add, ast.Sub: lambda a, b: a - b, ast.Mult: _mul,
                  ast.Div: lambda a, b: a / b, ast.Mod: _mod}[type(node.op)]

            def binop(env: Env, rng: random.Random) -> Any:
                try:
                    return op(left(env, rng), right(env, rng))
                except TemplateRuntimeError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a type mismatch or a division by zero in user data
                    raise TemplateRuntimeError(f"{type(exc).__name__}: {exc}") from None
            return binop
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            operand = self.compile(node.operand)

            def negate(env: Env, rng: random.Random) -> Any:
                value = operand(env, rng)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise TemplateRuntimeError(f"`-` needs a number, not {type(value).__name__}")
                return -value
            return negate
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.fail(node, f"`{type(node).__name__}` is not allowed in a template",
                        "templates hold names, fields, literals and calls such as uuid() or rand.randint(1, 5)")

    def call(self, node: ast.Call, piped: Node | None = None) -> Node:
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "rand":
            name = f"rand.{func.attr}"
            impl = _RAND_FUNCS.get(func.attr)
            uses_rng = True
        elif isinstance(func, ast.Name):
            name = func.id
            impl = _FUNCS.get(name) or _PURE.get(name)
            uses_rng = name in _FUNCS
        else:
            raise self.fail(node, "only named functions can be called")
        if impl is None:
            raise self.fail(node, f"unknown function `{name}`",
                            did_you_mean(name, _ALL_FUNCS) or f"functions: {', '.join(_ALL_FUNCS)}")
        args = [self.compile(a) for a in node.args]
        if piped is not None:
            args.insert(0, piped)
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise self.fail(node, "`**` is not allowed")
            kwargs[kw.arg] = self.compile(kw.value)

        def run(env: Env, rng: random.Random) -> Any:
            a = [f(env, rng) for f in args]
            k = {n: f(env, rng) for n, f in kwargs.items()}
            try:
                return impl(rng, *a, **k) if uses_rng else impl(*a, **k)
            except TemplateRuntimeError:
                raise
            except Exception as exc:  # noqa: BLE001 - report any bad argument as a template error
                raise TemplateRuntimeError(f"{name}(): {exc}") from None
        return run


def _compile_expression(text: str, base: int) -> Node:
    parts = _split_filters(text)
    node: Node | None = None
    for part, offset in parts:
        src = part.strip()
        lead = len(part) - len(part.lstrip())
        comp = _Compiler(base + offset + lead)
        if not src:
            raise TemplateError("empty expression", base + offset, "write a name or a call, e.g. {{ uuid() }}")
        try:
            tree = ast.parse(src, mode="eval").body
        except SyntaxError as exc:
            raise TemplateError(f"not a valid expression: {exc.msg}", base + offset + lead + max(
                (exc.offset or 1) - 1, 0)) from None
        except (RecursionError, MemoryError):
            raise TemplateError("this expression nests too deeply", base + offset + lead) from None
        try:
            if node is None:
                node = comp.compile(tree)
            else:
                if isinstance(tree, ast.Name):
                    tree = ast.Call(func=tree, args=[], keywords=[], col_offset=tree.col_offset)
                if not isinstance(tree, ast.Call):
                    raise comp.fail(tree, "after `|` comes a function, e.g. `| round(2)`")
                node = comp.call(tree, piped=node)
        except RecursionError:
            raise TemplateError("this expression nests too deeply", base + offset + lead) from None
    assert node is not None
    return node


@dataclass(frozen=True)
class Template:
    """A compiled template string."""

    text: str
    _parts: tuple[str | Node, ...]
    _whole: bool

    def render(self, env: Env, rng: random.Random) -> Any:
        """Render with the names in `env`, drawing randomness from `rng`."""
        if self._whole:
            fn = self._parts[0]
            assert callable(fn)
            value = fn(env, rng)
            if type(value) is not str and value_weight(value) > MAX_RESULT:
                raise _too_large("the rendered value")
            return value
        out = []
        size = 0
        for p in self._parts:
            piece = p if isinstance(p, str) else _str(p(env, rng))
            size += len(piece)
            if size > MAX_RESULT:
                raise _too_large("the rendered text")
            out.append(piece)
        return "".join(out)


_COMPILED: TextCache[str, Template] = TextCache()


def compile_template(text: str) -> Template:
    """Compile a string with `{{ … }}` segments.

    A text compiled before returns the same `Template`: it is frozen and its nodes keep no state between
    renders (randomness comes from the `rng` passed in), so loader checks and runs share one compile."""
    if type(text) is str:
        return _COMPILED.through(text, lambda: _compile_template(text))
    return _compile_template(text)


def _compile_template(text: str) -> Template:
    if len(text) > _MAX_TEXT:
        raise TemplateError(f"this template is too long ({len(text)} characters; the limit is {_MAX_TEXT})")
    parts: list[str | Node] = []
    pos = 0
    for m in _SEGMENT.finditer(text):
        if m.start() > pos:
            parts.append(text[pos:m.start()])
        parts.append(_compile_expression(m.group(1), m.start(1)))
        pos = m.end()
    if "{{" in text[pos:]:
        raise TemplateError("`{{` is not closed by `}}`", text.index("{{", pos))
    if pos < len(text):
        parts.append(text[pos:])
    whole = len(parts) == 1 and not isinstance(parts[0], str)
    return Template(text, tuple(parts), whole)


def compile_payload(value: Any) -> Callable[[Env, random.Random], Any]:
    """Compile a whole payload (nested dicts and lists of templates) into one render function."""
    if isinstance(value, str) and "{{" in value:
        t = compile_template(value)
        return t.render
    if isinstance(value, dict):
        items = [(k, compile_payload(v)) for k, v in value.items()]
        return lambda env, rng: {k: f(env, rng) for k, f in items}
    if isinstance(value, list):
        elems = [compile_payload(v) for v in value]
        return lambda env, rng: [f(env, rng) for f in elems]
    return lambda env, rng: value
