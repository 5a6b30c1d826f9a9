"""The optional compiled build of the core and the engine (`EVTOOL_COMPILE=1 pip install .`, setup.py).

Cython compiles the modules of `evtool.COMPILED_MODULES` from their own `.py` source, with the `.pxd`
declarations beside each (Cython's pure-Python mode). The declarations must follow the source, which the
first tests check on every install; where a compiled build is present, every lesson, variation and
benchmark reference must give the same digest and verdicts compiled and pure (EVTOOL_PURE=1).
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import evtool
from evtool import COMPILED_MODULES
from evtool.sim import compiled_status

ROOT = Path(evtool.__file__).resolve().parent
BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "lesson_digests.py"


def declared(pxd: Path) -> dict[str, tuple[set[str], bool]]:
    """cdef class name -> (declared attributes, has an instance __dict__)."""
    out: dict[str, tuple[set[str], bool]] = {}
    current = None
    for line in pxd.read_text().splitlines():
        m = re.match(r"cdef class (\w+)", line)
        if m:
            current = m.group(1)
            out[current] = (set(), False)
            continue
        if current is None:
            continue
        if re.match(r"\s+cdef dict __dict__", line):
            out[current] = (out[current][0], True)
        elif (m := re.match(r"\s+cdef public object (.+)", line)):
            out[current][0].update(a.strip() for a in m.group(1).split("#")[0].split(","))
        elif line and not line.startswith(" "):
            current = None
    return out


def source_classes(py: Path) -> dict[str, tuple[set[str] | None, set[str]]]:
    """class name -> (its __slots__ or None, every `self.x` it assigns)."""
    out: dict[str, tuple[set[str] | None, set[str]]] = {}
    for node in ast.walk(ast.parse(py.read_text())):
        if not isinstance(node, ast.ClassDef):
            continue
        slots: set[str] | None = None
        assigned: set[str] = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Assign) and getattr(sub.targets[0], "id", "") == "__slots__":
                slots = {e.value for e in sub.value.elts}  # type: ignore[attr-defined]
            targets = (sub.targets if isinstance(sub, ast.Assign) else [sub.target]
                       if isinstance(sub, (ast.AnnAssign, ast.AugAssign)) else [])
            for t in targets:
                for x in ast.walk(t):
                    if isinstance(x, ast.Attribute) and isinstance(x.value, ast.Name) and x.value.id == "self":
                        assigned.add(x.attr)
        out[node.name] = (slots, assigned)
    return out


def module_path(name: str) -> Path:
    return ROOT.joinpath(*name.split(".")[1:]).with_suffix(".py")


def test_every_compiled_module_has_its_source() -> None:
    for name in COMPILED_MODULES:
        assert module_path(name).is_file(), name
    # every declaration file belongs to a module the build compiles
    for pxd in ROOT.rglob("*.pxd"):
        name = "evtool." + ".".join(pxd.relative_to(ROOT).with_suffix("").parts)
        assert name in COMPILED_MODULES, f"{pxd} declares a module setup.py does not compile"


@pytest.mark.parametrize("name", [n for n in COMPILED_MODULES if module_path(n).with_suffix(".pxd").exists()])
def test_declarations_follow_the_source(name: str) -> None:
    """A class with __slots__ declares exactly its slots; a class with an instance __dict__ declares only
    attributes its source assigns (the rest live in the dict). Drift would fail the compiled build, or
    make it behave differently from the pure one."""
    py = module_path(name)
    classes = source_classes(py)
    for cls, (attrs, has_dict) in declared(py.with_suffix(".pxd")).items():
        assert cls in classes, f"{py.name}: {cls} is declared but not defined"
        slots, assigned = classes[cls]
        if has_dict:
            assert attrs <= assigned | (slots or set()), f"{cls}: declares {sorted(attrs - assigned)}"
        else:
            assert slots is not None, f"{cls}: an extension type without __dict__ needs __slots__ in the source"
            # a subclass declares only its own slots (cdef class Sub(Base))
            assert attrs == slots, f"{cls}: declared {sorted(attrs ^ slots)} differ from __slots__"


def test_evtool_pure_runs_the_source() -> None:
    """EVTOOL_PURE=1 loads each compiled module from its `.py` source, compiled build or not."""
    code = ("import importlib, evtool, evtool.sim as s; "
            "print(s.compiled_status(), all(importlib.import_module(n).__file__.endswith('.py') "
            "for n in evtool.COMPILED_MODULES))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "EVTOOL_PURE": "1"})
    assert out.stdout.split() == ["pure", "True"]


def test_status_names_what_is_in_use() -> None:
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    built = [n for n in COMPILED_MODULES if str(importlib.import_module(n).__file__).endswith(suffixes)]
    from evtool.trace.digest import COMPILED

    if COMPILED and len(built) == len(COMPILED_MODULES):
        expected = "compiled"
    elif COMPILED or built:
        expected = "partly compiled"
    else:
        expected = "pure"
    assert compiled_status() == expected


@pytest.mark.skipif(not os.environ.get("EVTOOL_EXPECT_COMPILED"), reason="only where a compiled build is expected")
def test_the_compiled_build_is_what_runs() -> None:
    """EVTOOL_EXPECT_COMPILED=1 (.ci/run, after installing the compiled build): the tests run on it, not on a
    pure source tree that happens to come first on the path."""
    assert compiled_status() == "compiled", (compiled_status(), evtool.__file__)


@pytest.mark.skipif(compiled_status() == "pure", reason="no compiled build here (EVTOOL_COMPILE=1 pip install .)")
def test_compiled_and_pure_give_the_same_digests_and_verdicts() -> None:
    """Every lesson, each of its variations and the benchmark references: the same digest, event count,
    outcome and verdicts on the compiled engine as on the pure one."""
    runs = {}
    for pure in (False, True):
        env = {k: v for k, v in os.environ.items() if k != "EVTOOL_PURE"}
        if pure:
            env["EVTOOL_PURE"] = "1"
        out = subprocess.run([sys.executable, str(BENCH), "--messages", "2000"], capture_output=True, text=True,
                             check=True, env=env)
        lines = out.stdout.splitlines()
        assert lines[0] == ("engine: pure" if pure else "engine: compiled"), lines[0]
        runs[pure] = lines[1:]
    assert len(runs[False]) > 20
    assert runs[False] == runs[True]


def test_version_says_which_engine_runs() -> None:
    """`evtool --version` names the engine a run uses, as `compiled_status` finds it (a user's bug report
    then says whether the compiled build is in use)."""
    from typer.testing import CliRunner

    from evtool.cli.app import app

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    engine = {"compiled": "compiled engine", "pure": "pure-Python engine"}.get(compiled_status())
    assert engine is not None and f"({engine}, Python " in result.output, result.output
