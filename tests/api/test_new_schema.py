"""`evtool new` puts the scenario schema beside the new file (yaml-language-server resolves a relative `$schema=`
from the YAML file's folder: https://github.com/redhat-developer/vscode-yaml/issues/587), updates an older
evtool schema, and leaves someone else's file of that name alone."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from evtool.cli.app import app
from evtool.cli.new import SCHEMA_NAME, packaged_schema
from evtool.scenario.schema import json_schema


def new(*args: str) -> str:
    res = CliRunner().invoke(app, ["new", *args])
    assert res.exit_code == 0, res.output
    return res.output


def test_packaged_schema_is_current() -> None:
    assert json.loads(packaged_schema()) == json_schema(), \
        "run: evtool schema -o evtool/schemas/scenario.schema.json"


def test_schema_written_beside_and_modeline_points_at_it(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    out = new(str(tmp_path / "sub" / "a"))
    assert f"wrote {tmp_path / 'sub' / SCHEMA_NAME}" in out
    text = (tmp_path / "sub" / "a.yaml").read_text()
    assert text.splitlines()[0] == f"# yaml-language-server: $schema={SCHEMA_NAME}"
    assert text.count("yaml-language-server") == 1
    assert (tmp_path / "sub" / SCHEMA_NAME).read_text() == packaged_schema()
    second = new(str(tmp_path / "sub" / "b"), "--from", "pubsub-fanout")
    assert "wrote" in second and SCHEMA_NAME not in second.split("\n", 1)[1]  # already current: not rewritten
    assert (tmp_path / "sub" / "b.yaml").read_text().splitlines()[0] == f"# yaml-language-server: $schema={SCHEMA_NAME}"


def test_older_evtool_schema_is_updated_other_files_are_kept(tmp_path: Path) -> None:
    (tmp_path / SCHEMA_NAME).write_text(json.dumps({"title": "evtool scenario, language version 1", "old": True}))
    assert "updated" in new(str(tmp_path / "a"))
    assert (tmp_path / SCHEMA_NAME).read_text() == packaged_schema()
    other = tmp_path / "other"
    other.mkdir()
    (other / SCHEMA_NAME).write_text('{"title": "something else"}')
    new(str(other / "b"))
    assert (other / SCHEMA_NAME).read_text() == '{"title": "something else"}'
    first = (other / "b.yaml").read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=file://") and first.endswith("scenario.schema.json")
