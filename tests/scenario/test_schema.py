"""The JSON Schema of `evtool schema`: accepts every valid fixture, rejects invalid ones.

The schema describes the file as written (durations are strings with units),
so it is checked against the raw YAML data, never against pydantic's output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fixture_files import INVALID_FILES, VALID_FILES, expected
from pydantic import BaseModel
from typer.testing import CliRunner

from evtool.cli.app import app
from evtool.scenario import models as m
from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import load_scenario
from evtool.scenario.schema import json_schema
from evtool.scenario.yamlsource import parse_yaml


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = json_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _raw(path: Path) -> Any:
    data, _ = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    return data


def test_there_are_fixtures() -> None:
    names = {p.name for p in VALID_FILES}
    assert {"retries-dlq-poison.yaml", "partitioned-ordering.yaml", "request-reply-timeout.yaml",
            "order-saga.yaml", "minimal.yaml", "everything.yaml"} <= names
    assert len(INVALID_FILES) >= 10


@pytest.mark.parametrize("path", VALID_FILES, ids=[p.name for p in VALID_FILES])
def test_schema_accepts_valid_fixture(path: Path, validator: jsonschema.Draft7Validator) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(_raw(path))]
    assert errors == []


@pytest.mark.parametrize("path", INVALID_FILES, ids=[p.name for p in INVALID_FILES])
def test_schema_judges_invalid_fixture(path: Path, validator: jsonschema.Draft7Validator) -> None:
    exp = expected(path)
    if exp.schema == "unparsable":
        with pytest.raises(ScenarioError):
            _raw(path)
        return
    errors = list(validator.iter_errors(_raw(path)))
    if exp.schema == "accepts":
        assert errors == [], "this problem is beyond a schema; only `evtool validate` finds it"
    else:
        assert errors, "the schema should reject this file"
        # The schema's complaint concerns the same part of the document as the loader's.
        top = exp.path.split(".")[0]
        assert any(list(e.absolute_path)[:1] in ([top], []) for e in errors), [e.message for e in errors]


def test_schema_accepts_parameter_references(validator: jsonschema.Draft7Validator) -> None:
    data = {"evtool": "1", "id": "p", "run": {"seed": 1, "duration": "${length}"},
            "channels": {"q": {"kind": "queue", "capacity": "${cap}"}}}
    assert list(validator.iter_errors(data)) == []
    data["run"]["duration"] = "${not a name}"
    assert list(validator.iter_errors(data))


def test_schema_rejects_bare_numbers_for_units(validator: jsonschema.Draft7Validator) -> None:
    base = {"evtool": "1", "id": "p", "run": {"seed": 1, "duration": "10s"}, "channels": {"q": {"kind": "queue"}}}
    assert list(validator.iter_errors(base)) == []
    for bad in (30, "30", "30 parsecs", "-5s"):
        data = json.loads(json.dumps(base))
        data["run"]["duration"] = bad
        assert list(validator.iter_errors(data)), bad


def test_schema_command_writes_the_same_schema(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    result = CliRunner().invoke(app, ["schema", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8")) == json_schema()
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"] == "evtool scenario, language version 1"


def _models_in(value: Any, seen: set[type]) -> None:
    if isinstance(value, BaseModel):
        seen.add(type(value))
        for name in type(value).model_fields:
            _models_in(getattr(value, name), seen)
    elif isinstance(value, dict):
        for v in value.values():
            _models_in(v, seen)
    elif isinstance(value, list | tuple):
        for v in value:
            _models_in(v, seen)


def test_everything_fixture_uses_every_model() -> None:
    """So the schema test above covers every model: a new model must appear in everything.yaml."""
    everything = next(p for p in VALID_FILES if p.name == "everything.yaml")
    seen: set[type] = set()
    _models_in(load_scenario(everything).model, seen)
    abstract = {m.Model, m.DeliveryChannel, m.FaultBase, m.ProbabilisticFault, m.CheckBase}
    every = {cls for cls in vars(m).values()
             if isinstance(cls, type) and issubclass(cls, BaseModel) and cls.__module__.startswith(m.__name__ + ".")} - abstract
    assert sorted(c.__name__ for c in every - seen) == []
    assert len(every) > 50, "the models were not found: the test would pass vacuously"
