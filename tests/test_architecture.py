"""The layers stay honest, and the command line starts light."""

from __future__ import annotations

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
