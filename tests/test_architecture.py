"""The layers stay honest, and the command line starts light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold() -> None:
    """import-linter: arrows point down only; headless layers never import textual or typer."""
    exe = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 3 kept, 0 broken" in proc.stdout
    assert "evtool.trace never imports evtool.sim KEPT" in proc.stdout


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module of the package by dotted name: its file and whether it is a package."""
    mods = {}
    for f in (ROOT / "evtool").rglob("*.py"):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        mods[".".join(parts[:-1] if is_pkg else parts)] = (f, is_pkg)
    return mods


def import_graph() -> dict[str, set[str]]:
    """Module -> the evtool modules it imports, read with `ast`: every import counts, at module level,
    under `if TYPE_CHECKING:` and inside functions alike (a deferred import is still an arrow)."""
    mods = _modules()

    def known(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for mod, (path, is_pkg) in mods.items():
        pkg = mod if is_pkg else mod.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(t for a in node.names if (t := known(a.name)))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base_parts = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join(base_parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                for a in node.names:
                    full = f"{base}.{a.name}"
                    target = full if full in mods else known(base)
                    if target:
                        deps.add(target)
        deps.discard(mod)
        graph[mod] = deps
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    cycles.append(sorted(comp))
    return cycles


def test_import_cycle_finder_finds_a_cycle() -> None:
    """The finder below is not vacuous: a two-module circle and a three-module one are found."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c", "a"}, "f": {"a"}}
    assert sorted(import_cycles(graph)) == [["a", "b"], ["c", "d", "e"]]
    assert import_graph()["evtool.sim.engine"] >= {"evtool.sim.plan", "evtool.sim.view"}


def test_no_import_cycles() -> None:
    """No circle anywhere in evtool, counting TYPE_CHECKING and function-level imports."""
    assert import_cycles(import_graph()) == []


def test_cli_start_imports_nothing_heavy() -> None:
    """`evtool --help` must not import textual, pydantic, yaml or aiosqlite (start-up time)."""
    code = ("import sys; import evtool.cli.app; "
            "print(sorted(m for m in ('textual', 'pydantic', 'yaml', 'aiosqlite', 'evtool.sim.engine') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_core_is_pure() -> None:
    """The core uses no wall clock, no global random and no I/O: time and randomness are handed in."""
    import re

    banned = re.compile(r"\b(random\.(random|randint|uniform|choice|choices|seed|shuffle|gauss|expovariate)\(|"
                        r"time\.(time|perf_counter|monotonic|sleep)\(|datetime\.now|open\(|asyncio\.|socket\.)")
    for f in (ROOT / "evtool" / "core").glob("*.py"):
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            assert not banned.search(code), f"{f.name}:{n}: {line.strip()}"


def test_committed_schema_is_current() -> None:
    """evtool-scenario.schema.json (for editors, referenced by the lessons) matches `evtool schema`."""
    import json

    from evtool.scenario.schema import json_schema

    committed = json.loads((ROOT / "evtool-scenario.schema.json").read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(json_schema())), "run: evtool schema -o evtool-scenario.schema.json"
