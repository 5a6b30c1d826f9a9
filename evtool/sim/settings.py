"""The broker profile a scenario asks for, with its `broker.settings` overrides."""

from __future__ import annotations

import dataclasses
from typing import Any

from evtool.core.profiles import Profile, field_names, get_profile
from evtool.scenario.errors import ScenarioError, did_you_mean
from evtool.scenario.loader import LoadedScenario
from evtool.scenario.units import UnitError, parse_duration

# profile fields that accept `unlimited`, and the profile value that means it
_UNLIMITED: dict[str, int | None] = {"prefetch": 0, "max_deliveries": None, "prefetch_cap": None}


def profile_for(loaded: LoadedScenario) -> Profile:
    """The scenario's broker profile with its `broker.settings` overrides applied.

    Settings use the profile's field names; a duration field may be written with a unit and without
    its `_ns` suffix (`ack_timeout: 30s` sets `ack_timeout_ns`); `prefetch`, `prefetch_cap` and
    `max_deliveries` accept `unlimited`. A bad setting is a located scenario error, not a traceback.
    """
    sc = loaded.model
    profile = get_profile(sc.broker.profile)
    if not sc.broker.settings:
        return profile
    valid = field_names()
    fields: dict[str, Any] = {}
    problems = []
    for key, value in sc.broker.settings.items():
        name = key
        if name not in valid and f"{name}_ns" in valid:
            name = f"{name}_ns"
        if name not in valid:
            problems.append(loaded.where(("broker", "settings", key), f"`{key}` is not a profile setting",
                                         did_you_mean(key, valid + [v[:-3] for v in valid if v.endswith("_ns")])
                                         or "see docs/profiles.md for the fields of each profile"))
            continue
        if value == "unlimited" and name in _UNLIMITED:
            # the language's word for "no limit", as in a consumer's `prefetch` and a channel's `max_deliveries`
            value = _UNLIMITED[name]
        elif name.endswith("_ns") and value is not None and not isinstance(value, int):
            try:
                value = parse_duration(value)
            except UnitError as exc:
                problems.append(loaded.where(("broker", "settings", key), str(exc), exc.hint))
                continue
        if _TYPES.get(name) == "str" and isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # `version: 4.0` written without quotes
        problem = _type_problem(name, value)
        if problem:
            problems.append(loaded.where(("broker", "settings", key), f"`{key}` {problem}",
                                         "see docs/profiles.md for the fields of each profile"))
            continue
        fields[name] = value
    if not problems:
        try:
            return profile.with_overrides(**fields)
        except (ValueError, TypeError) as exc:
            problems.append(loaded.where(("broker", "settings"), str(exc)))
    raise ScenarioError(problems, loaded.text)


_TYPES = {f.name: str(f.type) for f in dataclasses.fields(Profile)}


def _type_problem(name: str, value: Any) -> str | None:
    """Why `value` cannot be profile field `name` (by the field's declared type), or None."""
    kind = _TYPES.get(name, "")
    if value is None:
        return None if "None" in kind else "cannot be empty"
    if kind.startswith("int") and (isinstance(value, bool) or not isinstance(value, int)):
        extra = " or `unlimited`" if name in _UNLIMITED else ""
        return f"must be a whole number{extra}, found `{value}`"
    if kind == "str" and not isinstance(value, str):
        return f"must be a word, found `{value}`"
    return None
