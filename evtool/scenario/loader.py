"""Load a scenario file: read, substitute parameters, apply --set, validate, cross-check.

The result is a `LoadedScenario`: the validated model plus where it came
from (path, text, hash, locations), so later layers can point at the file
too. Every failure is a `ScenarioError` listing all problems, sorted by line.
"""

from __future__ import annotations

import hashlib
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from evtool.scenario.errors import Problem, ScenarioError, did_you_mean, known_list
from evtool.scenario.models import CHECK_NAMES, DIST_NAMES, Scenario
from evtool.scenario.vocabulary import foreign_hint
from evtool.scenario.yamlsource import Locations, Path_, cow_item, dotted, parse_yaml, read_text

_PARAM_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario and its provenance."""

    model: Scenario
    path: str
    text: str
    sha256: str
    locations: Locations
    overrides: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[Problem, ...] = ()

    def where(self, path: Path_, message: str, hint: str | None = None) -> Problem:
        """A problem located at `path` in this scenario's file (for later layers)."""
        line, col = self.locations.find(path)
        return Problem(self.path, line, col, dotted(path), message, hint)


def load_scenario(path: str | Path, overrides: list[str] | dict[str, Any] | None = None) -> LoadedScenario:
    """Read and validate a scenario file; raise ScenarioError with every problem."""
    p = Path(path)
    text = read_text(p)
    return load_text(text, str(path), overrides)


def load_text(text: str, file: str = "<scenario>", overrides: list[str] | dict[str, Any] | None = None,
              ) -> LoadedScenario:
    """Validate scenario text (the file name is only used in messages)."""
    return _load_text(text, file, overrides, check_variations=True)


def _load_text(text: str, file: str, overrides: list[str] | dict[str, Any] | None, *,
               check_variations: bool, shared: bool = False) -> LoadedScenario:
    # `shared`: the document is the parser's kept one; `_substitute` builds new containers, `_apply_sets`
    # copies what it writes into, the scenario returned is only looked at (tests/scenario/test_variation_sharing)
    data, loc = parse_yaml(text, file, shared=shared)
    if not isinstance(data, dict):
        found = "a list" if isinstance(data, list) else f"the value {data!r}"
        raise ScenarioError([Problem(file, 1, 1, "", f"a scenario is a mapping of keys, found {found}",
                                     'start with `evtool: "1"` and `id: my-scenario`')], text)
    sets = _parse_sets(overrides)
    problems: list[Problem] = []
    params = _resolve_parameters(data, sets, loc, problems)
    unresolved: set[Path_] = set()
    if "${" in text:  # most files use no parameter: the walk would only rebuild a fresh copy
        data = _substitute(data, params, (), loc, problems, unresolved)
    data = dict(data) if shared and isinstance(data, dict) and "${" not in text else data
    set_paths = _apply_sets(data, {k: v for k, v in sets.items() if k not in params}, loc, problems,
                            copy_on_write=shared)
    model: Scenario | None = None
    try:
        model = Scenario.model_validate(data)
    except ValidationError as exc:
        # A value whose `${name}` did not resolve was already reported; its type error would be noise.
        problems.extend(p for p in _convert(exc, data, loc, set_paths)
                        if not any(_under(p.path, dotted(u)) for u in unresolved))
    warnings: list[Problem] = []
    if model is not None and not problems:
        from evtool.scenario.refs import check_references

        found = check_references(model, data, loc)
        if not any(p.severity == "error" for p in found):
            from evtool.scenario.loops import check_loops, check_totals

            found.extend(check_loops(model, loc))  # needs every name resolved
            found.extend(check_totals(model, loc))
        problems.extend(p for p in found if p.severity == "error")
        warnings.extend(p for p in found if p.severity == "warning")
        if check_variations and not problems:
            problems.extend(_check_variations(model, text, file, sets, loc))
    elif problems and isinstance(data, dict):
        # The full cross-reference check needs a valid model: check the parts that did validate
        # (the broken entries left out, their names still known), so every problem comes in one round.
        problems.extend(_partial_references(data, loc, problems))
    if problems:
        raise ScenarioError(problems, text)
    assert model is not None
    return LoadedScenario(
        model=model,
        path=file,
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        locations=loc,
        overrides=dict(sets),
        parameters=params,
        warnings=tuple(sorted(warnings)),
    )


_NAMED_SECTIONS = ("channels", "producers", "consumers", "patterns", "schemas", "parameters")
_LIST_SECTIONS = ("faults", "expect", "alerts")
_STAND_INS: dict[str, Any] = {"evtool": "1", "id": "scenario", "run": {"seed": 0, "duration": "1s"}}


def _partial_references(data: dict[str, Any], loc: Locations, problems: list[Problem]) -> list[Problem]:
    """Reference problems in the parts of a broken scenario that validate on their own.

    Each entry of a named section with a model error is left out (its name stays known, so a
    reference to it is no error); a list section with an error is left out whole (its indexes
    must keep pointing at the file); a broken top-level value gets a stand-in or is dropped.
    """
    from copy import deepcopy

    from evtool.scenario.refs import check_raw_channel_references, check_references

    partial = deepcopy(data)
    known: dict[str, set[str]] = {s: set() for s in _NAMED_SECTIONS}
    skipped: list[str] = []
    model: Scenario | None = None
    for _ in range(8):
        try:
            model = Scenario.model_validate(partial)
            break
        except ValidationError as exc:
            changed = False
            for err in exc.errors(include_url=False):
                where = tuple(err["loc"])
                head = where[0] if where else None
                if head == "channels" and len(where) > 1 and isinstance(partial.get(head), dict) \
                        and partial[head].get(where[1]) != {"kind": "queue"}:
                    partial[head][where[1]] = {"kind": "queue"}  # a stand-in: the name must stay a channel
                    known[head].add(str(where[1]))
                    skipped.append(f"{head}.{where[1]}")
                    changed = True
                elif head in _NAMED_SECTIONS and len(where) > 1 and isinstance(partial.get(head), dict) \
                        and where[1] in partial[head] and head != "channels":
                    if head == "patterns":  # a request-reply's requester and responder are consumers by name
                        raw = partial[head][where[1]]
                        known["consumers"].update(
                            raw[role]["name"] for role in ("requester", "responder") if isinstance(raw, dict)
                            and isinstance(raw.get(role), dict) and isinstance(raw[role].get("name"), str))
                    del partial[head][where[1]]
                    known[head].add(str(where[1]))
                    skipped.append(f"{head}.{where[1]}")
                    changed = True
                elif head in _LIST_SECTIONS and head in partial:
                    # its entries' names stay known: a lesson's `fails: [NAME]` or a `during: fault:NAME`
                    # naming one is no error of its own
                    entries = partial[head] if isinstance(partial[head], list) else []
                    known.setdefault(str(head), set()).update(
                        e["name"] for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str))
                    del partial[head]
                    skipped.append(str(head))
                    changed = True
                elif isinstance(head, str) and head in _STAND_INS and partial.get(head) != _STAND_INS[head]:
                    partial[head] = deepcopy(_STAND_INS[head])
                    skipped.append(head)
                    changed = True
                elif isinstance(head, str) and head in partial and head not in _STAND_INS \
                        and head != "channels":
                    del partial[head]
                    skipped.append(head)
                    changed = True
            if not changed:
                break
    reported = {p.path for p in problems}

    def fresh(p: Problem) -> bool:
        return p.severity == "error" and p.path not in reported and not any(
            p.path == s or p.path.startswith(s + ".") for s in skipped)

    if model is None:
        return [p for p in check_raw_channel_references(data, loc) if fresh(p)]
    return [p for p in check_references(model, data, loc, also_known=known) if fresh(p)]


def _check_variations(model: Scenario, text: str, file: str, sets: dict[str, Any],
                      loc: Locations) -> list[Problem]:
    """Each `lesson.try_next` variation must load too, or the lesson suggests a broken experiment."""
    from evtool.scenario.models import Variation

    problems: list[Problem] = []
    if model.lesson is None:
        return problems
    for i, variation in enumerate(model.lesson.try_next):
        if not isinstance(variation, Variation) or not variation.set:
            continue
        try:
            _load_text(text, file, {**sets, **variation.set}, check_variations=False, shared=True)
        except ScenarioError as err:
            first = err.errors[0] if err.errors else err.problems[0]
            where = ("lesson", "try_next", i, "set")
            line, col = loc.find(where)
            message = re.sub(r" \(from `--set [^`]*`\)$", "", first.message)
            what = f"{first.path}: " if first.path and not message.startswith("`") else ""
            problems.append(Problem(file, line, col, dotted(where),
                                    f"this variation does not load: {what}{message}", first.hint))
    return problems


# --------------------------------------------------------------------------- --set and parameters


def _parse_sets(overrides: list[str] | dict[str, Any] | None) -> dict[str, Any]:
    if overrides is None:
        return {}
    if isinstance(overrides, dict):
        return dict(overrides)
    out: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ScenarioError([Problem("--set", 1, 1, "", f"`{item}` is not `path=value`",
                                         "e.g. --set consumers.billing.retry.max_attempts=2")])
        key, _, raw = item.partition("=")
        key = key.strip()
        if not key:
            raise ScenarioError([Problem("--set", 1, 1, "", f"`{item}` has no path before `=`")])
        if key in out and key.endswith("[+]"):
            # `--set faults[+]=a --set faults[+]=b` appends twice: number the repeats
            key = f"{key[:-3]}[+{sum(k.startswith(key[:-3] + '[+') for k in out) + 1}]"
        out[key] = parse_value(raw)
    return out


def parse_value(raw: str) -> Any:
    """A --set value read as a YAML scalar or flow collection (`2`, `true`, `30s`, `[a, b]`)."""
    if raw.strip() == "":
        return ""
    try:
        value, _ = parse_yaml(raw, "--set")
    except ScenarioError:
        return raw
    return value


def _resolve_parameters(data: dict[str, Any], sets: dict[str, Any], loc: Locations,
                        problems: list[Problem]) -> dict[str, Any]:
    raw = data.get("parameters") or {}
    if not isinstance(raw, dict):
        return {}
    params: dict[str, Any] = {}
    for name, spec in raw.items():
        if isinstance(spec, dict) and "default" in spec:
            params[name] = spec["default"]
            allowed = spec.get("values")
            if isinstance(allowed, list) and allowed and spec["default"] not in allowed:
                line, col = loc.find(("parameters", name, "default"))
                problems.append(Problem(loc.file, line, col, f"parameters.{name}.default",
                                        f"the default `{spec['default']}` is not one of the parameter's `values`",
                                        f"allowed: {', '.join(map(str, allowed))}"))
    for key, value in sets.items():
        if key in raw:
            spec = raw[key]
            allowed = spec.get("values") if isinstance(spec, dict) else None
            if isinstance(allowed, list) and allowed and value not in allowed:
                # Keep the default so the rest of the file is checked as it would run.
                choices = [str(a) for a in allowed]
                suggestion = did_you_mean(str(value), choices) if isinstance(value, str) else None
                problems.append(Problem("--set", 1, 1, f"parameters.{key}",
                                        f"`{value}` is not an allowed value of parameter `{key}`",
                                        (suggestion + " " if suggestion else "") + f"allowed: {', '.join(choices)}"))
                continue
            params[key] = value
    return params


def _under(path: str, prefix: str) -> bool:
    """Whether the dotted `path` is `prefix` or lies inside it."""
    return path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[")


def _substitute(value: Any, params: dict[str, Any], path: Path_, loc: Locations, problems: list[Problem],
                unresolved: set[Path_]) -> Any:
    if isinstance(value, dict):
        if path == () and "parameters" in value:
            return {k: (v if k == "parameters" else _substitute(v, params, (k,), loc, problems, unresolved))
                    for k, v in value.items()}
        return {k: _substitute(v, params, (*path, k), loc, problems, unresolved) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, params, (*path, i), loc, problems, unresolved) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        whole = _PARAM_RE.fullmatch(value.strip())
        for m in _PARAM_RE.finditer(value):
            if m.group(1) not in params:
                line, col = loc.find(path)
                col += m.start() + (1 if path in loc.quoted else 0)
                problems.append(Problem(loc.file, line, col, dotted(path),
                                        f"unknown parameter `${{{m.group(1)}}}`",
                                        did_you_mean(m.group(1), params) or
                                        (f"the parameters are: {known_list(params)}" if params else
                                         f"declare it first: `parameters: {{{m.group(1)}: {{default: ...}}}}`")))
                unresolved.add(path)
                return value
        if whole:
            return params[whole.group(1)]
        return _PARAM_RE.sub(lambda m: str(params[m.group(1)]), value)
    return value


class _Append:
    """`[+]` in a --set path: a new item at the end of the list."""

    def __repr__(self) -> str:
        return "[+]"


APPEND = _Append()


def _split_set_path(text: str) -> list[str | int | _Append]:
    parts: list[str | int | _Append] = []
    for chunk in text.split("."):
        m = re.fullmatch(r"([^\[\]]*)((?:\[(?:\d+|\+\d*)\])*)", chunk)
        if not m:
            parts.append(chunk)
            continue
        if m.group(1):
            parts.append(m.group(1))
        parts.extend(APPEND if i.startswith("+") else int(i) for i in re.findall(r"\[(\d+|\+\d*)\]", m.group(2)))
    return parts


_NAMED_MAPS = {"channels": "channel", "producers": "producer", "consumers": "consumer", "patterns": "pattern",
               "schemas": "schema", "parameters": "parameter"}


def _apply_sets(data: dict[str, Any], sets: dict[str, Any], loc: Locations,
                problems: list[Problem], *, copy_on_write: bool = False) -> dict[Path_, str]:
    """Apply --set overrides in place; return each set path and its original text. With `copy_on_write`, each
    container on an override's path is copied before it is changed (what `data` holds may be shared)."""
    applied: dict[Path_, str] = {}
    top_keys = [info.alias or name for name, info in Scenario.model_fields.items()]
    params = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
    for text, value in sets.items():
        parts = _split_set_path(text)
        if not parts or (isinstance(parts[0], str) and parts[0] not in top_keys):
            head = str(parts[0]) if parts else text
            options = [*top_keys, *params]
            problems.append(Problem("--set", 1, 1, text, f"`{head}` is neither a parameter nor a top-level key",
                                    did_you_mean(head, options) or
                                    f"parameters: {known_list(params)}; or a path such as consumers.NAME.instances"))
            continue
        node: Any = data
        path: list[str | int] = []
        i = 0
        ok = True
        while i < len(parts):
            part = parts[i]
            last = i == len(parts) - 1
            if isinstance(part, _Append):
                if not isinstance(node, list):
                    problems.append(Problem("--set", 1, 1, dotted(tuple(path)),
                                            f"`{text}`: `[+]` appends to a list, and `{dotted(tuple(path))}` "
                                            "is not one"))
                    ok = False
                    break
                node.append(value if last else {})
                part = len(node) - 1
                if not last:
                    node = node[part]
                    applied.setdefault((*path, part), text)
                path.append(part)
                i += 1
                continue
            if isinstance(part, int):
                if not isinstance(node, list) or part >= len(node):
                    problems.append(Problem("--set", 1, 1, dotted(tuple(path)),
                                            f"`{text}`: there is no item [{part}] here"))
                    ok = False
                    break
                if last:
                    node[part] = value
                else:
                    node = cow_item(node, part) if copy_on_write else node[part]
                path.append(part)
                i += 1
                continue
            if not isinstance(node, dict):
                problems.append(Problem("--set", 1, 1, dotted(tuple(path)),
                                        f"`{text}`: `{dotted(tuple(path))}` is not a mapping"))
                ok = False
                break
            # Keys may contain dots (`orders.dlq`): take the longest existing key first.
            key = part
            consumed = 1
            for j in range(len(parts), i, -1):
                chunk = parts[i:j]
                if all(isinstance(c, str) for c in chunk):
                    candidate = ".".join(str(c) for c in chunk)
                    if candidate in node:
                        key, consumed = candidate, j - i
                        break
            last = i + consumed == len(parts)
            path.append(key)
            if last:
                if value is None and key in node:
                    node[key] = None
                else:
                    node[key] = value
            else:
                if key not in node and len(path) == 2 and path[0] in _NAMED_MAPS:
                    # A misspelt component name would otherwise quietly add a new one.
                    what = _NAMED_MAPS[str(path[0])]
                    problems.append(Problem("--set", 1, 1, dotted(tuple(path)), f"`{text}`: no {what} named `{key}`",
                                            did_you_mean(str(key), node) or
                                            f"the {what}s defined are: {known_list(node)}"))
                    ok = False
                    break
                nxt = node.get(key)
                if nxt is None or (not isinstance(nxt, dict | list)):
                    nxt = [] if isinstance(parts[i + consumed], _Append) else {}
                    node[key] = nxt
                    # What is missing from a mapping this override created is the override's problem.
                    applied.setdefault(tuple(path), text)
                elif copy_on_write:
                    nxt = cow_item(node, key)
                node = nxt
            i += consumed
        if ok:
            applied[tuple(path)] = text
    return applied


# --------------------------------------------------------------------------- pydantic errors -> problems

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


def _convert(exc: ValidationError, data: Any, loc: Locations, set_paths: dict[Path_, str]) -> list[Problem]:
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
