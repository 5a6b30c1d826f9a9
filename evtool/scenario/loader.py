"""Load a scenario file: read, substitute parameters, apply --set, validate, cross-check.

The result is a `LoadedScenario`: the validated model plus where it came
from (path, text, hash, locations), so later layers can point at the file
too. Every failure is a `ScenarioError` listing all problems, sorted by line.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evtool.scenario.errors import Problem, ScenarioError, did_you_mean, known_list
from evtool.scenario.models import Scenario
from evtool.scenario.pydantic_problems import convert
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
        problems.extend(p for p in convert(exc, data, loc, set_paths)
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
