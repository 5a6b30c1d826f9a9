"""The broker profile a scenario asks for, with its `broker.settings` overrides."""

from __future__ import annotations

from typing import Any

from evtool.core.profiles import Profile, field_names, get_profile
from evtool.scenario.errors import ScenarioError, did_you_mean
from evtool.scenario.loader import LoadedScenario
from evtool.scenario.units import UnitError, parse_duration


def profile_for(loaded: LoadedScenario) -> Profile:
    """The scenario's broker profile with its `broker.settings` overrides applied.

    Settings use the profile's field names; a duration field may be written with a unit and without
    its `_ns` suffix (`ack_timeout: 30s` sets `ack_timeout_ns`). A bad setting is a located scenario
    error, not a traceback.
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
        if name.endswith("_ns") and value is not None and not isinstance(value, int):
            try:
                value = parse_duration(value)
            except UnitError as exc:
                problems.append(loaded.where(("broker", "settings", key), str(exc), exc.hint))
                continue
        fields[name] = value
    if not problems:
        try:
            return profile.with_overrides(**fields)
        except (ValueError, TypeError) as exc:
            problems.append(loaded.where(("broker", "settings"), str(exc)))
    raise ScenarioError(problems, loaded.text)
