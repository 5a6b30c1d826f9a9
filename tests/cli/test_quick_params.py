"""Plain option values are converted without typer's per-parameter pydantic adapters (evtool.cli.coerce).

Typer 0.2x builds a pydantic `TypeAdapter` for every parameter it reads (about 100 ms for `evtool
run`). `QuickParam` converts the plain values itself and leaves every other value, and every bad
one, to typer's adapter, so the results and the messages stay typer's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evtool.cli.app import app
from evtool.cli.coerce import QuickParam
from evtool.cli.commands import _LAZY, BY_NAME, build, install_one

ROOT = Path(__file__).resolve().parents[2]


def _values(argv: list[str]) -> dict[str, Any]:
    """The values `evtool validate`'s parameters get for `argv` (the command is not run)."""
    cmd = build(BY_NAME["validate"])
    ctx = cmd.make_context("validate", list(argv))
    return dict(ctx.params)


def test_validate_values_are_plain_and_typed(tmp_path: Path) -> None:
    f = tmp_path / "a.yaml"
    f.write_text("x: 1\n", encoding="utf-8")
    params = _values([str(f), "batching", "--set", "a=1", "--set", "b=2", "--strict"])
    assert params == {"files": [f, Path("batching")], "set_": ["a=1", "b=2"], "json_out": False, "strict": True}
    assert all(type(p) is type(Path()) for p in params["files"])


def test_every_parameter_of_run_gets_a_quick_converter() -> None:
    cmd = build(BY_NAME["run"])
    params = [p for p in cmd.params if hasattr(p, "type_descriptor")]
    assert params and all(p._runtime_param is _LAZY for p in params)  # until a value is converted ...
    cmd.make_context("run", ["competing-consumers"])
    kinds = {p.name: type(p._runtime_param) for p in params if p.type_descriptor.annotation is not bool}
    assert set(kinds.values()) == {QuickParam}, kinds  # ... then the quick converter (a flag that is a bool
    # already is never converted, by typer's own rule)


@pytest.mark.parametrize(("argv", "message"), [
    (["--seed", "x"], "Input should be a valid integer"),
    (["--max-events", "0"], "greater than or equal to 1"),
])
def test_a_bad_value_gets_typers_own_message(argv: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["run", "competing-consumers", "--no-record", *argv])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_a_number_typed_as_text_is_converted() -> None:
    cmd = build(BY_NAME["run"])
    ctx = cmd.make_context("run", ["competing-consumers", "--seed", "-12", "--max-events", "5"])
    assert ctx.params["seed"] == -12 and ctx.params["max_events"] == 5
    ctx = cmd.make_context("run", ["competing-consumers", "--seed", "007"])  # left to typer's adapter
    assert ctx.params["seed"] == 7


def test_a_number_in_range_is_taken_and_one_out_of_range_gets_typers_message() -> None:
    cmd = build(BY_NAME["run"])
    param = next(p for p in cmd.params if p.name == "max_events")
    assert param.type_descriptor.parameter_info.min == 1
    ctx = cmd.make_context("run", ["competing-consumers", "--max-events", "3"])
    assert ctx.params["max_events"] == 3 and type(param._runtime_param) is QuickParam
    result = CliRunner().invoke(app, ["run", "competing-consumers", "--no-record", "--max-events", "-4"])
    assert result.exit_code == 2 and "greater than or equal to 1" in " ".join(result.output.split())


def test_install_leaves_a_parameter_that_already_converts_alone() -> None:
    cmd = build(BY_NAME["validate"])
    param = next(p for p in cmd.params if p.name == "strict")
    marker = object()
    param._runtime_param = marker
    install_one(param)
    assert param._runtime_param is marker


def _validate_batching(tmp_path: Path, **env: str) -> str:
    """`evtool validate batching` in a fresh interpreter; its output, then which heavy modules it imported."""
    code = ("import sys, runpy\n"
            "sys.argv = ['evtool', 'validate', 'batching']\n"
            "try:\n    runpy.run_module('evtool', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print('ADAPTERS', 'typer._adapters' in sys.modules)\n"
            "print('METADATA', 'importlib.metadata' in sys.modules)\n")
    full = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    full.update(PYTHONPATH=str(ROOT), NO_COLOR="1", **env)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, cwd=tmp_path,
                         check=False, timeout=120)
    assert "valid (batching)" in out.stdout, out.stdout + out.stderr
    return out.stdout


def test_validate_never_imports_typers_adapters_nor_package_metadata(tmp_path: Path) -> None:
    """typer's adapters pull in pydantic's TypeAdapter machinery, pydantic's plugin search reads every
    installed package's metadata: the command line needs neither."""
    out = _validate_batching(tmp_path)
    assert "ADAPTERS False" in out and "METADATA False" in out, out


def test_pydantics_own_plugin_switch_still_chooses_plugins(tmp_path: Path) -> None:
    """`PYDANTIC_DISABLE_PLUGINS=some-plugin` (pydantic's switch, naming plugins to leave out) keeps the search."""
    out = _validate_batching(tmp_path, PYDANTIC_DISABLE_PLUGINS="some-plugin")
    assert "METADATA True" in out, out
