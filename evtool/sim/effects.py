"""Service state and the effects a successful handler applies to it.

A consumer's `state` is a plain dict shared by its instances (think: the
service's database). Effects name a path into it, such as `revenue` or
`stock[msg.payload.sku]`, and change it atomically when a handler succeeds.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

from evtool.scenario import models as m
from evtool.scenario.expressions import Expression, compile_expression

_PATH_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[(.*)\])?\s*$")

Env = Mapping[str, Any]


def _value_fn(raw: Any) -> Callable[[Env], Any]:
    if isinstance(raw, str):
        expr: Expression = compile_expression(raw)
        return expr.evaluate
    return lambda env: raw


class CompiledEffect:
    """One effect, compiled: an operation on a path with a value."""

    __slots__ = ("op", "name", "index", "value", "text", "reads_names", "const_inc")

    def __init__(self, spec: m.Effect) -> None:
        for op in ("set", "inc", "dec", "add", "remove", "append"):
            target = getattr(spec, op)
            if target is not None:
                self.op = op
                self.text = target
                break
        match = _PATH_RE.match(self.text)
        if not match:
            raise ValueError(f"`{self.text}` is not a state path (write `name` or `name[expression]`)")
        self.name = match.group(1)
        self.index: Expression | None = compile_expression(match.group(2)) if match.group(2) else None
        raw = spec.by if self.op in ("inc", "dec") else spec.value
        if raw is None and self.op in ("inc", "dec"):
            raw = 1
        self.value = _value_fn(raw)
        self.reads_names = self.index is not None or isinstance(raw, str)
        """Whether applying it reads the names (msg, state, ...): `inc: handled` does not."""
        self.const_inc: Any = raw if self.op == "inc" and self.index is None and not isinstance(raw, str) else None
        """`inc: counter` by a constant (the common effect): the amount, which a handler adds inline; else None."""

    def apply(self, state: dict[str, Any], env: Env) -> None:
        """Apply to `state` with the names in `env`."""
        value = self.value(env)
        if self.op == "inc" and self.index is None and type(state) is dict:  # `inc: counter`, the common effect
            state[self.name] = state.get(self.name, 0) + value
            return
        if self.index is None:
            container: Any = state
            slot: Any = self.name
        else:
            container = state.setdefault(self.name, {})
            slot = self.index.evaluate(env)
        op = self.op
        if op == "set":
            container[slot] = value
        elif op == "inc":
            container[slot] = container.get(slot, 0) + value if isinstance(container, dict) else value
        elif op == "dec":
            container[slot] = container.get(slot, 0) - value if isinstance(container, dict) else -value
        else:
            seq = container.setdefault(slot, []) if isinstance(container, dict) else container[slot]
            if op == "add":
                if value not in seq:
                    seq.append(value)
            elif op == "remove":
                if value in seq:
                    seq.remove(value)
            else:
                seq.append(value)


def initial_state(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of the declared initial state."""
    return copy.deepcopy(dict(spec))
