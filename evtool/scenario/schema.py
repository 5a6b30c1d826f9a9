"""The JSON Schema of the scenario language (for editors and other tools).

It describes the file as written, before the loader does anything: durations,
rates and sizes are strings with units, and any value may instead be a
parameter reference such as `${dispatch}` (substituted before validation).
The cross-reference checks (does this channel exist?) are beyond a schema;
`evtool validate` does them.
"""

from __future__ import annotations

from typing import Any

from evtool.scenario.models import Scenario

PARAMETER_REF = {
    "type": "string",
    "pattern": r"^\s*\$\{[A-Za-z_][A-Za-z0-9_]*\}\s*$",
    "description": "a parameter reference, replaced by the parameter's value before validation",
}
_KEEP_OUTSIDE = ("title", "description", "default")


def _or_parameter(schema: Any) -> Any:
    """`schema`, or a `${name}` reference (annotations stay on the outside for editors)."""
    if not isinstance(schema, dict) or schema is True or schema == {}:
        return schema
    outer = {k: schema[k] for k in _KEEP_OUTSIDE if k in schema}
    inner = {k: v for k, v in schema.items() if k not in _KEEP_OUTSIDE}
    return {**outer, "anyOf": [inner, {"$ref": "#/$defs/ParameterRef"}]}


def _allow_parameters(node: Any) -> None:
    """Let every property value, map value and list item be a `${name}` reference."""
    if isinstance(node, dict):
        for value in node.values():
            _allow_parameters(value)
        props = node.get("properties")
        if isinstance(props, dict):
            for name in list(props):
                props[name] = _or_parameter(props[name])
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            node["additionalProperties"] = _or_parameter(extra)
        items = node.get("items")
        if isinstance(items, dict) and items:
            node["items"] = _or_parameter(items)
    elif isinstance(node, list):
        for value in node:
            _allow_parameters(value)


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of scenario files."""
    schema = Scenario.model_json_schema(by_alias=True)
    _allow_parameters(schema)
    schema.setdefault("$defs", {})["ParameterRef"] = dict(PARAMETER_REF)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://evtool.dev/schema/scenario-1.json"
    schema["title"] = "evtool scenario, language version 1"
    return schema
