"""The built package: a wheel installed in a fresh virtual environment runs every lesson from another folder
(with the same trace digests as this checkout), ships the draft-07 scenario schema, the pytest plugin and the
metadata; the source distribution holds the docs and the tests.

Building needs setuptools>=77 from the package index (pip's build isolation) and installing needs the
dependencies from it, so this test takes about a minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from evtool import api
from evtool.scenario.lessons import list_lessons
from evtool.scenario.schema import json_schema

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _run(*cmd: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
         timeout: int = 600) -> subprocess.CompletedProcess[str]:
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, f"{cmd}: {res.returncode}\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


def _tracked_copy(src: Path) -> Path:
    """A clean copy of the tracked files in `src`, so nothing local (build/, .evtool/, built modules) leaks into
    what is built from it."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout (e.g. an unpacked sdist): the wheel is built from the tracked files")
    for f in filter(None, listed.stdout.split("\0")):
        if (ROOT / f).is_file():
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            (src / f).write_bytes((ROOT / f).read_bytes())
    return src


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("pkg")
    src = _tracked_copy(tmp / "src")
    dist = tmp / "dist"
    # EVTOOL_COMPILE=0: the pure package (the compiled build and its fallback are the tests at the end; .ci/run
    # installs the compiled build and runs the suite on it)
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, src,
         env={**os.environ, "EVTOOL_COMPILE": "0"})
    venv = tmp / "venv"
    _run(sys.executable, "-m", "venv", venv)
    py = venv / "bin" / "python"
    wheel = next(dist.glob("evtool-*.whl"))
    _run(py, "-m", "pip", "install", "-q", wheel)
    _run(py, "-m", "pip", "install", "-q", "setuptools>=77")
    code = ("import sys, setuptools.build_meta as b; print(b.build_sdist(sys.argv[1]))")
    sdist = dist / _run(py, "-c", code, dist, cwd=src).stdout.strip().splitlines()[-1]
    return {"wheel": wheel, "sdist": sdist, "venv": venv, "work": tmp}


def _env(built: dict[str, Path]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVTOOL_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{built['venv'] / 'bin'}:{env.get('PATH', '')}"
    env["EVTOOL_CONFIG"] = ""
    return env


def test_wheel_contents_and_metadata(built: dict[str, Path]) -> None:
    with zipfile.ZipFile(built["wheel"]) as z:
        names = set(z.namelist())
        meta = Parser().parsestr(z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
        entry_points = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
        shipped = json.loads(z.read("evtool/schemas/scenario.schema.json"))
    assert {"evtool/py.typed", "evtool/api.py", "evtool/pytest_plugin.py", "evtool/report/run.schema.json",
            "evtool/lessons/retries-dlq-poison.yaml", "evtool/tui/app.tcss"} <= names
    assert {f"evtool/schemas/{k}.schema.json" for k in ("report", "runs", "show", "config")} <= names
    assert not any(n.startswith("tests/") for n in names)
    assert shipped["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert shipped == json_schema(), "the shipped schema is the one `evtool schema` writes"
    assert meta["License-Expression"] == "MIT"
    assert "Framework :: Pytest" in meta.get_all("Classifier")
    assert any(u.startswith("Homepage, ") for u in meta.get_all("Project-URL"))
    requires = meta.get_all("Requires-Dist")
    assert any(r.startswith("aiormq") and 'extra == "brokers"' in r for r in requires)
    assert any(r.startswith("textual<9,>=8.2.8") or r.startswith("textual>=8.2.8,<9") for r in requires)
    assert "[pytest11]\nevtool = evtool.pytest_plugin" in entry_points
    assert "[console_scripts]\nevtool = evtool.cli:main" in entry_points


def test_sdist_holds_docs_and_tests(built: dict[str, Path]) -> None:
    with tarfile.open(built["sdist"]) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    assert {"docs/api.md", "docs/scenario-language.md", "tests/api/test_api.py", "tests/test_architecture.py",
            "LICENSE", "MANIFEST.in", "evtool-scenario.schema.json", "evtool/lessons/retries-dlq-poison.yaml",
            "evtool/schemas/scenario.schema.json"} <= names
    assert not any(n.endswith((".pyc", ".db")) for n in names)


def test_every_lesson_runs_from_another_folder(built: dict[str, Path]) -> None:
    elsewhere = built["work"] / "elsewhere"
    elsewhere.mkdir()
    env = _env(built)
    res = subprocess.run(["evtool", "run", "retries-dlq-poison", "-q", "--no-record"], cwd=elsewhere, env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "PASSED" in res.stdout
    # the first 5 virtual seconds of each (the whole of partitioned-ordering alone takes ~15 s of CPU)
    code = ("import json; from evtool import api; from evtool.scenario.lessons import list_lessons; "
            "print(json.dumps({i.id: api.run(i.id, keep_trace=False, duration='5s').digest "
            "for i in list_lessons()}))")
    digests = json.loads(_run(built["venv"] / "bin" / "python", "-c", code, cwd=elsewhere, env=env).stdout)
    here = {i.id: api.run(i.id, keep_trace=False, duration="5s").digest for i in list_lessons()}
    assert len(digests) == len(here) >= 18
    assert digests == here, "the installed wheel runs each lesson exactly as this checkout does"
    assert not (elsewhere / ".evtool").exists()


def test_schema_and_new_work_in_the_users_folder(built: dict[str, Path]) -> None:
    """`evtool new` writes the schema beside the scenario and points the modeline at it: yaml-language-server
    resolves a relative `$schema=` path from the YAML file's folder ("relative paths is calculated from yaml
    file path", https://github.com/redhat-developer/vscode-yaml/issues/587; relative paths supported since
    https://github.com/redhat-developer/yaml-language-server/pull/499)."""
    import jsonschema

    folder = built["work"] / "project"
    folder.mkdir()
    env = _env(built)
    _run("evtool", "new", "orders", "--from", "retries-dlq-poison", cwd=folder, env=env)
    text = (folder / "orders.yaml").read_text()
    assert text.splitlines()[0] == "# yaml-language-server: $schema=evtool-scenario.schema.json"
    schema = json.loads((folder / "evtool-scenario.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    import yaml

    jsonschema.Draft7Validator(schema).validate(yaml.safe_load(text))
    written = _run("evtool", "schema", cwd=folder, env=env).stdout
    assert json.loads(written) == schema
    _run("evtool", "run", "orders.yaml", "-q", "--no-record", cwd=folder, env=env)


def test_transport_without_its_extra(built: dict[str, Path]) -> None:
    env = _env(built)
    res = subprocess.run(["evtool", "run", "retries-dlq-poison", "--transport", "rabbitmq", "--no-record"],
                         cwd=built["work"], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert "pip install 'evtool[brokers]'" in res.stderr and "No module named" not in res.stderr


def _wheel_files(wheel: Path) -> tuple[str, set[str]]:
    """The wheel's tag line and the names it holds."""
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        info = z.read(next(n for n in names if n.endswith(".dist-info/WHEEL"))).decode()
    return next(line for line in info.splitlines() if line.startswith("Tag: ")), names


def test_a_plain_build_is_pure_python(built: dict[str, Path]) -> None:
    """EVTOOL_COMPILE=0: only Python files, tagged as such, nothing compiled."""
    tag, names = _wheel_files(built["wheel"])
    assert tag == "Tag: py3-none-any"
    assert not [n for n in names if n.endswith((".so", ".pyd", ".c"))]
    assert {"evtool/sim/engine.py", "evtool/sim/engine.pxd", "evtool/core/broker.py"} <= names


def test_a_build_that_cannot_compile_installs_the_pure_package(tmp_path: Path) -> None:
    """Unset EVTOOL_COMPILE and no working C compiler (CC=false): the wheel is the pure package, tagged
    py3-none-any, and the build says why; with EVTOOL_COMPILE=1 the same build fails."""
    src = _tracked_copy(tmp_path / "src")
    env = {k: v for k, v in os.environ.items() if k != "EVTOOL_COMPILE"}
    env["CC"] = "false"
    res = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", tmp_path / "dist", src, env=env)
    assert "the compiled build failed" in res.stdout + res.stderr
    assert "installing the pure-Python package" in res.stdout + res.stderr
    tag, names = _wheel_files(next((tmp_path / "dist").glob("evtool-*.whl")))
    assert tag == "Tag: py3-none-any"
    assert not [n for n in names if n.endswith((".so", ".pyd"))]

    required = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "dist2",
                               src], env={**env, "EVTOOL_COMPILE": "1"}, capture_output=True, text=True,
                              timeout=600)
    assert required.returncode != 0
    assert not list((tmp_path / "dist2").glob("evtool-*.whl"))


def test_an_unknown_evtool_compile_value_is_refused(tmp_path: Path) -> None:
    src = _tracked_copy(tmp_path / "src")
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", src],
                         env={**os.environ, "EVTOOL_COMPILE": "yes"}, capture_output=True, text=True, timeout=600)
    assert res.returncode != 0
    assert "EVTOOL_COMPILE='yes': use 1 (compile, or fail), 0 (pure Python) or leave it unset" in res.stderr


def test_the_backend_asks_for_cython_only_where_it_may_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wheel build asks for Cython unless EVTOOL_COMPILE=0; an editable install only with EVTOOL_COMPILE=1
    (it stays pure, so that an edit to a `.py` file is what runs)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("evtool_build_under_test", ROOT / "_build" / "evtool_build.py")
    assert spec is not None and spec.loader is not None
    backend = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(backend)
    cython = "cython>=3.0,<4"
    assert backend.CYTHON == cython
    seen = {}
    for value in ("", "0", "1"):
        monkeypatch.setenv("EVTOOL_COMPILE", value)
        seen[value] = (backend._compiled(editable=False), backend._compiled(editable=True))
    assert seen == {"": ([cython], []), "0": ([], []), "1": ([cython], [cython])}
