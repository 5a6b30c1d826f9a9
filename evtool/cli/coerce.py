"""Command-line values converted without building a pydantic TypeAdapter per parameter.

Typer converts every parameter's value through a pydantic `TypeAdapter` built the first time the
parameter is read: that imports pydantic's schema machinery and builds a core schema for each of
the twenty-odd options of `evtool run`, about 100 ms before any work starts, whatever the options
given. The values evtool's commands take are plain (`str`, `int`, `bool`, `float`, `Path`, lists
of those): `quick` converts those the way typer's adapters do, and hands anything else (a
constrained number, a float typed as text, a value it does not recognise, any value that raises)
to typer's own adapter, built then, so every message about a bad value is typer's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer._coercion import RuntimeParam, build_runtime_param

_MISS = object()
_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")


def _leaf(annotation: Any, info: Any, value: Any, param: Any, ctx: Any) -> Any:
    """`value` as typer's adapter for `annotation` returns it, or `_MISS` where that is not certain."""
    kind = type(value)
    if getattr(info, "parser", None) is not None or getattr(info, "click_type", None) is not None:
        return _MISS
    if annotation is str:
        return value if kind is str else _MISS
    if annotation is bool:
        return value if kind is bool else _MISS
    if annotation is int or annotation is float:
        if info.clamp:
            return _MISS
        if kind is annotation:
            number = value
        elif annotation is int and kind is str and _INT.fullmatch(value):
            number = int(value)
        else:
            return _MISS
        if (info.min is not None and not number >= info.min) or (info.max is not None and not number <= info.max):
            return _MISS  # out of range: typer's adapter says so
        return number
    if annotation is Path and info.path_type is None:
        if kind is str and value:
            value = Path(value)
        elif not isinstance(value, Path):
            return _MISS
        from typer._param_types import coerce_cli_path

        return coerce_cli_path(value, info, path_type=Path, param=param, ctx=ctx)
    return _MISS


@dataclass(frozen=True)
class QuickParam(RuntimeParam):
    """Typer's runtime conversion of one parameter, its adapter built only for a value `_leaf` does not take."""

    descriptor: Any

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        done = _MISS
        try:
            done = self._quick(value, param, ctx)
        except Exception:  # noqa: BLE001 - typer's own adapter says what is wrong, in its words
            done = _MISS
        if done is not _MISS:
            return done
        real = build_runtime_param(self.descriptor)
        param._runtime_param = real
        return real._coerce_value(value, param=param, ctx=ctx)

    def _quick(self, value: Any, param: Any, ctx: Any) -> Any:
        annotation = self.annotation
        info = self.parameter_info
        origin = getattr(annotation, "__origin__", None)
        if origin is list:
            (item,) = annotation.__args__
            items = value if isinstance(value, (list, tuple)) else [value]
            out = [_leaf(item, info, v, param, ctx) for v in items]
            return _MISS if any(v is _MISS for v in out) else out
        if origin is not None:
            return _MISS
        return _leaf(annotation, info, value, param, ctx)


def quick_param(descriptor: Any) -> Any:
    """The converter of a parameter with this type descriptor: a `QuickParam`, or typer's own for files."""
    if descriptor.file_annotation is not None:
        return build_runtime_param(descriptor)
    return QuickParam(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation,
                      descriptor=descriptor)
