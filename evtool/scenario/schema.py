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


DRAFT_07 = "http://json-schema.org/draft-07/schema#"
"""The draft yaml-language-server (the YAML support of VS Code, Neovim, Helix, ...) supports fully."""


def _to_draft07(node: Any) -> Any:
    """pydantic's draft 2020-12 output in draft-07 terms: `$defs` -> `definitions` (and every `$ref` to them),
    `prefixItems` -> `items` as a list (then `items` -> `additionalItems`), and a `$ref` with other keywords
    beside it wrapped in `allOf` (draft-07 ignores a `$ref`'s siblings)."""
    if isinstance(node, list):
        return [_to_draft07(v) for v in node]
    if isinstance(node, str) and node.startswith("#/$defs/"):  # also the discriminator mappings
        return node.replace("#/$defs/", "#/definitions/", 1)
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$defs":
            out["definitions"] = {k: _to_draft07(v) for k, v in value.items()}
        elif key in ("properties", "definitions", "patternProperties"):
            out[key] = {k: _to_draft07(v) for k, v in value.items()}
        else:
            out[key] = _to_draft07(value)
    if "prefixItems" in out:
        extra = out.pop("items", None)
        out["items"] = out.pop("prefixItems")
        if extra is not None:
            out["additionalItems"] = extra
    if "$ref" in out and len(out) > 1:
        ref = out.pop("$ref")
        out["allOf"] = [{"$ref": ref}, *out.get("allOf", [])]
    return out


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft-07) of scenario files."""
    schema = Scenario.model_json_schema(by_alias=True)
    _allow_parameters(schema)
    schema.setdefault("$defs", {})["ParameterRef"] = dict(PARAMETER_REF)
    schema = _to_draft07(schema)
    schema = {"$schema": DRAFT_07, "$id": "https://evtool.dev/schema/scenario-1.json",
              "title": "evtool scenario, language version 1", **{k: v for k, v in schema.items()
                                                                   if k not in ("$schema", "$id", "title")}}
    return schema
