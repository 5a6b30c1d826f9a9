"""Every `--json` document carries format and version and validates against its committed schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from evtool import api
from evtool.cli.app import app
from evtool.report.jsondoc import KINDS, SCHEMA_DIR, schema

SMALL = """\
evtool: "1"
id: small
run: {seed: 2, duration: 5s}
channels:
  orders: {kind: queue, dead_letter: orders.dlq}
  orders.dlq: {kind: queue, role: dead_letter}
producers:
  checkout: {to: orders, message: OrderPlaced, arrival: {process: poisson, rate: 10/s}, key: {dist: uniform, space: 3, format: "k-{n}"}}
consumers:
  billing:
    from: orders
    processing: 10ms
    fail_if: [{probability: 0.2, error: Boom}]
    retry: {max_attempts: 2, on_exhausted: dead_letter}
expect:
  - {name: nothing-lost, check: no_loss, channel: orders}
  - {name: quick, that: "p(99, latency.e2e) < 1ms"}
"""


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVTOOL_CONFIG", "")
    monkeypatch.setenv("EVTOOL_DB", str(tmp_path / "runs.db"))
    (tmp_path / "small.yaml").write_text(SMALL)

    def invoke(*args: str, code: int | None = 0) -> dict[str, Any]:
        res = CliRunner().invoke(app, list(args))
        if code is not None:
            assert res.exit_code == code, res.output
        return json.loads(res.stdout)

    return invoke


def check(kind: str, doc: dict[str, Any]) -> None:
    assert doc["format"] == f"evtool.{kind}" and doc["version"] == 1
    assert list(doc)[:2] == ["format", "version"]
    jsonschema.validate(doc, schema(kind), cls=jsonschema.Draft202012Validator)


def test_every_schema_is_valid_and_committed() -> None:
    names = sorted(p.name for p in SCHEMA_DIR.glob("*.schema.json"))
    assert names == sorted([*(f"{k}.schema.json" for k in KINDS), "scenario.schema.json"])
    for kind in KINDS:
        jsonschema.Draft202012Validator.check_schema(schema(kind))


def test_run_and_problems(cli: Any, tmp_path: Path) -> None:
    check("report", cli("run", "small.yaml", "--json", "--no-record", code=1))
    check("report", cli("run", "retries-dlq-poison", "--json", "--no-record"))
    (tmp_path / "bad.yaml").write_text(SMALL.replace("10ms", "10"))
    doc = cli("run", "bad.yaml", "--json", code=2)
    check("problems", doc)
    assert doc["problems"][0]["path"] == "consumers.billing.processing"


def test_store_commands(cli: Any, tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    a = api.run("small.yaml", record=True, db=db)
    b = api.run("small.yaml", seed=5, record=True, db=db)
    runs = cli("runs", "--json")
    check("runs", runs)
    assert [r["id"] for r in runs["runs"]] == [b.run_id, a.run_id]
    show = cli("show", str(a.run_id), "--json")
    check("show", show)
    assert show["report"]["digest"] == a.digest and show["report"]["checks"][1]["status"] == "fail"
    dead = cli("inspect", str(a.run_id), "--kind", "dead_lettered", "--json")
    check("inspect", dead)
    assert dead["events"] and all(e["kind"] == "dead_lettered" for e in dead["events"])
    msg = dead["events"][0]["msg"]
    life = cli("inspect", str(a.run_id), "--message", msg, "--json")
    check("inspect", life)
    assert {e["kind"] for e in life["events"]} >= {"published", "delivered", "dead_lettered"}
    check("inspect", cli("inspect", str(a.run_id), "--key", "k-1", "--json"))
    one = cli("inspect", str(a.run_id), "--kind", "published", "--limit", "3", "--json")
    assert len(one["events"]) == 3 and one["truncated"] is True
    d = cli("diff", str(a.run_id), str(b.run_id), "--json")
    check("diff", d)
    assert d["a"]["seed"] == 2 and d["b"]["seed"] == 5
    assert any(r["changed"] for r in d["sections"]["counts"])


def test_lessons_explain_validate_config(cli: Any) -> None:
    check("lessons", cli("lessons", "--json"))
    ex = cli("explain", "retries-dlq-poison", "--json")
    check("explain", ex)
    assert ex["consumers"]["billing"]["from"] == "orders"
    check("explain", cli("explain", "small.yaml", "--json"))
    check("validate", cli("validate", "small.yaml", "retries-dlq-poison", "--json"))
    check("config", cli("config", "--json"))


@pytest.mark.broker
def test_compare(cli: Any, rabbitmq_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVTOOL_RABBITMQ_URL", rabbitmq_url)
    doc = cli("run", "small.yaml", "--json", "--compare", "local,rabbitmq", "--set", "run.duration=2s", code=None)
    check("compare", doc)
    assert [c["target"] for c in doc["compare"]][-1] == "rabbitmq"


def test_schemas_reject_what_is_wrong(cli: Any) -> None:
    """The schemas are not vacuous: a document without its version, with a check verdict that does not exist,
    or with a count that is not a number is refused."""
    doc = cli("run", "small.yaml", "--json", "--no-record", code=1)
    for broken in (
        {k: v for k, v in doc.items() if k != "version"},
        {**doc, "checks": [{**doc["checks"][0], "status": "maybe"}]},
        {**doc, "summary": {**doc["summary"], "counts": {"published": "many"}}},
        {**doc, "format": "evtool.runs"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema("report"), cls=jsonschema.Draft202012Validator)


def test_incomplete_run_documents(cli: Any, tmp_path: Path) -> None:
    """A run whose process ended without a result: show and runs still give valid documents."""
    import subprocess
    import sys

    code = ("import os, sys; from evtool import api; from evtool.api import _header; from evtool.store import Recorder; "
            "r = Recorder(sys.argv[1]); r.start(_header(api.load('small.yaml')._loaded, 2, 'local', 'full')); "
            "os._exit(0)")
    import os

    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root}
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "runs.db")], cwd=tmp_path, env=env, check=True,
                   timeout=60)
    show = cli("show", "--json")
    check("show", show)
    assert show["outcome"] == "incomplete" and show["report"] is None and show["progress"]["events"] == 0
    runs = cli("runs", "--json")
    check("runs", runs)
    assert runs["runs"][0]["outcome"] == "incomplete"
