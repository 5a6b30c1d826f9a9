"""evtool.trace imports nothing from evtool.sim, not even for type checking.

The import-linter contract in pyproject.toml (run by tests/test_architecture.py) forbids the
arrow but, like every contract there, leaves imports under `if TYPE_CHECKING:` out; this test
closes that door too: checks and metrics know the run only through `evtool.trace.view.RunView`.
"""

from __future__ import annotations

import ast
from pathlib import Path

TRACE = Path(__file__).resolve().parents[2] / "evtool" / "trace"


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def test_trace_never_imports_sim() -> None:
    files = sorted(TRACE.rglob("*.py"))
    assert len(files) > 5, files
    found = [f"{f.relative_to(TRACE.parent)}:{line}: {name}"
             for f in files for line, name in _imports(ast.parse(f.read_text(encoding="utf-8")))
             if name == "evtool.sim" or name.startswith("evtool.sim.")]
    assert not found, "evtool.trace reaches into the simulation:\n" + "\n".join(found)


def test_the_scan_sees_type_checking_imports() -> None:
    """The scan finds imports where they are (so an empty result above means something)."""
    tree = ast.parse("from evtool.sim.engine import Engine\nif TYPE_CHECKING:\n    import evtool.sim.kernel\n")
    assert [n for _, n in _imports(tree)] == ["evtool.sim.engine", "evtool.sim.kernel"]
