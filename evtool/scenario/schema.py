"""The JSON Schema of the scenario language (for editors and other tools)."""

from __future__ import annotations

from typing import Any

from evtool.scenario.models import Scenario


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of scenario files."""
    schema = Scenario.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://evtool.dev/schema/scenario-1.json"
    schema["title"] = "evtool scenario, language version 1"
    return schema
