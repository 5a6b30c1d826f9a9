"""pydantic's validation errors as the scenario language's problems: a path of the document (never a member
name pydantic gives a union), the value found, what was expected in the language's words, and a hint.

`convert` is what the loader calls when a scenario does not validate (`evtool.scenario.loader`).
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from evtool.scenario.errors import Problem, did_you_mean, known_list
from evtool.scenario.models import CHECK_NAMES, DIST_NAMES, Scenario
from evtool.scenario.vocabulary import foreign_hint
from evtool.scenario.yamlsource import Locations, Path_, dotted

_DISCRIMINATORS = ("kind", "type", "process", "action", "check", "dist")


def _clean_loc(loc: tuple[Any, ...], data: Any, *, missing: bool = False) -> tuple[Path_, bool]:
    """Map pydantic's loc (with union tags) onto a real document path.

    Returns the path and whether its last element exists in the data.
    """
    out: list[str | int] = []
    node = data
    exists = True
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, dict) and isinstance(part, str):
            key = {"from_": "from", "for_": "for"}.get(part, part)
            nxt = loc[i + 1] if not last else None
            if key in node and _is_tag(key) and isinstance(nxt, str) and nxt in node \
                    and not (isinstance(node[key], dict) and nxt in node[key]):
                # a union member named like a key of this mapping: the `that` member of an expectation, whose
                # `during` is this mapping's key, not a key inside the `that:` text
                continue
            if key in node:
                out.append(key)
                node = node[key]
                continue
            if _is_tag(part) and not (last and missing):
                continue  # a union tag such as 'queue' or 'function-after[...]'
            out.append(key)
            exists = False
            break
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            out.append(part)
            node = node[part]
            continue
        if isinstance(part, str) and _is_tag(part):
            continue
        out.append(part)
        exists = False
        break
    return tuple(out), exists


def _is_tag(part: str) -> bool:
    # pydantic names a constrained member of a union after its type: `Annotated[int, Field(ge=1)]` is
    # 'constrained-int' (and 'constrained-str', 'constrained-float', ...)
    return ("[" in part and "]" in part) or part in _TAG_NAMES or part.startswith("constrained-")


def _discriminator_values() -> set[str]:
    """Every `kind:`/`type:`/`action:`/... value: pydantic puts them in error locations."""
    import evtool.scenario.models as models

    values: set[str] = set()
    for obj in vars(models).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            for disc in _DISCRIMINATORS:
                info = obj.model_fields.get(disc)
                if info is not None and typing.get_origin(info.annotation) is typing.Literal:
                    values.update(a for a in typing.get_args(info.annotation) if isinstance(a, str))
    return values


# Union member tags as pydantic writes them in `loc`; a new channel kind or fault action
# is picked up from the models.
_TAG_NAMES = _discriminator_values() | {
    "shorthand", "pattern", "that", "int", "str", "float", "bool", "list", "dict", "none", "literal",
    "is-instance", "Variation", "Duration",
}


def _value_at(data: Any, path: Path_) -> Any:
    node = data
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
    return node


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return f"`{value}`" if len(value) <= 80 else f"`{value[:60]}…` ({len(value):,} characters)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"`{value!r}`" if not isinstance(value, bool) else f"`{str(value).lower()}`"


def _choices(expected: Any) -> list[str]:
    return re.findall(r"'([^']*)'", str(expected))


def _one_of(choices: list[str]) -> str:
    quoted = [f"`{c}`" for c in choices]
    return quoted[0] if len(quoted) == 1 else "one of " + ", ".join(quoted)


@dataclass
class _Item:
    """One converted pydantic error before it is located."""

    where: Path_
    path: Path_
    message: str
    hint: str | None
    key_error: bool = False
    expected: str | None = None  # a phrase ("a whole number") when this is a plain type mismatch
    found: Any = None


_EXPECTED = {
    "int_type": "a whole number", "int_parsing": "a whole number", "int_from_float": "a whole number",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "string_type": "text", "dict_type": "a mapping of keys",
    "model_type": "a mapping of keys", "model_attributes_type": "a mapping of keys", "list_type": "a list",
}


def convert(exc: ValidationError, data: Any, loc: Locations, set_paths: dict[Path_, str]) -> list[Problem]:
    items = [_item(err, data) for err in exc.errors(include_url=False)]
    items = _merge_union_branches(items)
    problems: list[Problem] = []
    seen: set[tuple[Path_, str]] = set()
    for it in items:
        key = (tuple(it.where), it.message)
        if key in seen:
            continue
        seen.add(key)
        problems.append(_locate(loc, tuple(it.where), it.message, it.hint, it.key_error, set_paths, it.path))
    return problems


def _item(err: Any, data: Any) -> _Item:
    """Turn one pydantic error into a message with a path, a hint and what was expected."""
    etype = err["type"]
    path, exists = _clean_loc(tuple(err["loc"]), data, missing=etype == "missing")
    ctx = err.get("ctx") or {}
    found = _value_at(data, path) if exists else None
    hint: str | None = ctx.get("hint") or None
    if etype == "missing":
        hint = hint or _missing_hint(str(path[-1])) or _field_hint(data, path)
        return _Item(path[:-1], path, f"missing required key `{path[-1]}`", hint, key_error=True)
    if etype == "extra_forbidden":
        allowed = _allowed_keys(data, path[:-1])
        suggestion = foreign_hint(path[-1]) or (did_you_mean(str(path[-1]), allowed) if allowed else None)
        hint = suggestion or (f"keys allowed here: {known_list(allowed, 30)}" if allowed else None)
        return _Item(path, path, f"unknown key `{path[-1]}`", hint, key_error=True)
    if etype == "literal_error":
        choices = _choices(ctx.get("expected", ""))
        message = f"expected {_one_of(choices)}; found {_fmt(found)}"
        hint = foreign_hint(found) or (did_you_mean(str(found), choices) if isinstance(found, str) else None) or hint
        return _Item(path, path, message, hint, expected=_one_of(choices), found=found)
    if etype == "union_tag_invalid":
        disc = str(ctx.get("discriminator", "")).strip("'")
        tags = _choices(ctx.get("expected_tags", ""))
        tag = ctx.get("tag")
        where = path + ((disc,) if isinstance(found, dict) and disc in found else ())
        return _Item(where, where, f"unknown {disc} `{tag}`; expected {_one_of(tags)}",
                     foreign_hint(tag) or did_you_mean(str(tag), tags))
    if etype == "union_tag_not_found":
        disc = str(ctx.get("discriminator", "")).strip("'")
        return _Item(path, path, f"missing `{disc}`", _missing_hint(disc), key_error=True)
    if etype == "evtool_dist":
        return _tagged_union_item(path, found, "dist", DIST_NAMES, str(err["msg"]),
                                  "e.g. `30ms`, or {dist: exponential, mean: 30ms}")
    if etype == "evtool_expect":
        return _tagged_union_item(path, found, "check", CHECK_NAMES, str(err["msg"]),
                                  "e.g. `check: no_loss`, or `that: count(dead_lettered) == 0`", alt="that")
    if etype.startswith("evtool_"):
        where = path
        at = ctx.get("at")
        if at:
            sub = tuple(at.split("."))
            if _value_at(data, path + sub) is not None:
                where = path + sub
        return _Item(where, where, str(ctx.get("message") or err["msg"]), hint, expected=ctx.get("expected"),
                     found=found)
    if etype in _EXPECTED:
        expected = _EXPECTED[etype]
        if etype == "string_type" and found is not None and not isinstance(found, dict | list):
            shown = str(found).lower() if isinstance(found, bool) else str(found)
            hint = hint or f'quote it: "{shown}"'
        if etype == "list_type":
            hint = hint or "write `[a, b]` or one `- item` per line"
        return _Item(path, path, f"expected {expected}, found {_fmt(found)}", hint, expected=expected, found=found)
    if etype == "int_parsing_size":
        return _Item(path, path, f"{_fmt(found)} is far too large a number here", hint or "write a smaller number",
                     expected="a whole number", found=found)
    if etype == "finite_number":
        return _Item(path, path, f"expected a finite number, found {_fmt(found)}",
                     "`.inf` and `.nan` make no sense here; write a number", expected="a finite number", found=found)
    if etype in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = {"greater_than_equal": "at least", "greater_than": "greater than",
                 "less_than_equal": "at most", "less_than": "less than"}[etype]
        limit = next(iter(v for k, v in ctx.items() if k in ("ge", "gt", "le", "lt")), "?")
        return _Item(path, path, f"must be {bound} {limit}, found {_fmt(found)}", hint)
    if etype == "too_short":
        n = ctx.get("min_length", 1)
        return _Item(path, path, f"needs at least {n} {'entry' if n == 1 else 'entries'}, found none", hint)
    if etype == "value_error":
        return _Item(path, path, str(ctx.get("error") or err["msg"]).removeprefix("Value error, "), hint)
    return _Item(path, path, str(err["msg"]), hint)


def _tagged_union_item(path: Path_, found: Any, disc: str, names: tuple[str, ...], generic: str,
                       example: str, alt: str | None = None) -> _Item:
    """A value of a union told apart by `disc` (`dist:`, `check:`) that matched no member."""
    if isinstance(found, dict) and isinstance(found.get(disc), str):
        tag = found[disc]
        where = (*path, disc)
        return _Item(where, where, f"unknown {disc} `{tag}`; expected {_one_of(list(names))}",
                     did_you_mean(tag, names) or example)
    if isinstance(found, dict):
        # No `dist:`/`check:` key: perhaps it is misspelt.
        close = [k for k in found if isinstance(k, str) and did_you_mean(k, [disc, *([alt] if alt else [])])]
        hint = (did_you_mean(close[0], [disc, *([alt] if alt else [])]) if close else None) or example
        what = f"`{disc}: NAME`" + (f" or `{alt}: ...`" if alt else "")
        return _Item(path, path, f"missing {what}", hint, key_error=True)
    return _Item(path, path, f"{generic}; found {_fmt(found)}", example)


def _merge_union_branches(items: list[_Item]) -> list[_Item]:
    """One problem per value: `expected a whole number or `forever`` instead of one line per union branch."""
    by_path: dict[Path_, list[_Item]] = {}
    for it in items:
        by_path.setdefault(it.path, []).append(it)
    out: list[_Item] = []
    done: set[Path_] = set()
    for it in items:
        group = by_path[it.path]
        deeper = any(o.path[: len(it.path)] == it.path and len(o.path) > len(it.path) for o in items)
        if it.expected is not None and deeper and not it.key_error:
            # A union member that fits the shape (a mapping) reported the real problem inside it;
            # the other members' "expected text" would only be noise.
            continue
        typed = [g for g in group if g.expected is not None]
        limits = [g for g in group if g.expected is None and not g.key_error]
        if typed and len(limits) == 1:
            # One member's limit ("must be at least 1") and the other members' literals (`unlimited`): the value
            # has the right type for the first, so its limit is the problem; the literals are the way out
            if it in typed:
                continue
            alts = list(dict.fromkeys(g.expected for g in typed if g.expected))
            head, sep, tail = it.message.partition(", found ")
            message = it.message if all(a in it.message for a in alts) else f"{head} (or {' or '.join(alts)}){sep}{tail}"
            out.append(_Item(it.where, it.path, message, it.hint, found=it.found))
            continue
        if len(typed) > 1 and it in typed:
            if it.path in done:
                continue
            done.add(it.path)
            phrases = list(dict.fromkeys(g.expected for g in typed if g.expected))
            hint = next((g.hint for g in typed if g.hint), None)
            message = f"expected {', '.join(phrases[:-1])} or {phrases[-1]}; found {_fmt(it.found)}"
            out.append(_Item(it.where, it.path, message, hint, expected=None, found=it.found))
            continue
        out.append(it)
    return out


def _locate(loc: Locations, where: Path_, message: str, hint: str | None, key_error: bool,
            set_paths: dict[Path_, str], path: Path_) -> Problem:
    for set_path, text in set_paths.items():
        if path[: len(set_path)] == set_path:
            return Problem("--set", 1, 1, dotted(path), f"{message} (from `--set {text}=...`)", hint)
    line, col = loc.find(where, key=key_error)
    return Problem(loc.file, line, col, dotted(path), message, hint)


def _field_hint(data: Any, path: Path_) -> str | None:
    """For a missing key: the field's description, or the values it takes."""
    model = _model_at(Scenario, data, path[:-1])
    if model is None:
        return None
    name = {"from": "from_", "for": "for_"}.get(str(path[-1]), str(path[-1]))
    info = model.model_fields.get(name)
    if info is None:
        return None
    if info.description:
        return info.description
    args = [a for a in typing.get_args(info.annotation) if isinstance(a, str)]
    if typing.get_origin(info.annotation) is typing.Literal and args:
        return f"{path[-1]}: {' | '.join(args)}"
    return None


def _missing_hint(key: str) -> str | None:
    return {
        "evtool": 'every scenario starts with `evtool: "1"`',
        "id": "give the scenario a stable id, e.g. `id: retries-dlq`",
        "run": "e.g. `run: {seed: 42, duration: 2m}`",
        "seed": "e.g. `seed: 42`",
        "duration": "e.g. `duration: 2m` (the load phase)",
        "channels": "declare at least one channel, e.g. `channels: {orders: {kind: queue}}`",
        "on_exhausted": "say what happens after the last attempt: dead_letter, drop, park or requeue",
        "kind": "a channel's kind: queue, grouped_queue, topic, log or router",
        "process": "an arrival process: constant, poisson, burst, stages or once",
        "action": "a fault action: crash, restart, pause, slow, scale, broker_restart, drop, duplicate, delay, poison",
        "type": "say which type this is",
        "from": "the channel this consumer reads, e.g. `from: orders`",
        "to": "the channel to publish to, e.g. `to: orders`",
        "arrival": "e.g. `arrival: {process: poisson, rate: 20/s}`",
        "dist": "a distribution: constant, uniform, exponential, normal or lognormal",
    }.get(key)


# --------------------------------------------------------------------------- allowed keys


def _allowed_keys(data: Any, path: Path_) -> list[str]:
    """The keys the model accepts at `path` (for did-you-mean on unknown keys)."""
    model = _model_at(Scenario, data, path)
    if model is None:
        return []
    names = []
    for name, info in model.model_fields.items():
        names.append(info.alias or name)
    return names


def _model_at(annotation: Any, data: Any, path: Path_) -> type[BaseModel] | None:
    node = data
    ann = annotation
    for part in path:
        ann = _pick(ann, node)
        if ann is None:
            return None
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            field_name = {"from": "from_", "for": "for_"}.get(str(part), str(part))
            info = ann.model_fields.get(field_name)
            if info is None:
                return None
            ann = info.annotation
        else:
            origin = typing.get_origin(ann)
            args = typing.get_args(ann)
            if origin is dict:
                ann = args[1]
            elif origin is list:
                ann = args[0]
            else:
                return None
        node = node.get(part) if isinstance(node, dict) else (node[part] if isinstance(node, list)
                                                               and isinstance(part, int) and part < len(node)
                                                               else None)
    ann = _pick(ann, node)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    return None


def _pick(ann: Any, node: Any) -> Any:
    """Unwrap Annotated/Optional/unions, choosing the member that fits `node`."""
    for _ in range(10):
        origin = typing.get_origin(ann)
        if origin is typing.Annotated:
            ann = typing.get_args(ann)[0]
            continue
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            members = [typing.get_args(a)[0] if typing.get_origin(a) is typing.Annotated else a
                       for a in typing.get_args(ann)]
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            containers = [m for m in members if typing.get_origin(m) in (dict, list)]
            if isinstance(node, dict) and models:
                if len(models) == 1:
                    return models[0]
                for m in models:
                    for disc in _DISCRIMINATORS:
                        info = m.model_fields.get(disc)
                        if info is not None and disc in node and node[disc] in typing.get_args(info.annotation):
                            return m
                    if "that" in node and "that" in m.model_fields:
                        return m
                return None
            if containers:
                ann = containers[0]
                continue
            return None
        return ann
    return ann
