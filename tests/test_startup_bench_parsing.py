"""benchmarks/startup_bench.py reads `-X importtime` reports: its split adds up to what it calls the import time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmark_modules import load

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    return load("startup_bench")


REPORT = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 | site
import time:        50 |         50 |     pydantic_core._pydantic_core
import time:        30 |         80 |   pydantic_core
import time:        20 |        100 | pydantic
import time:        10 |         10 |   rich.text
import time:         5 |         15 | rich
import time:         7 |          7 |     evtool.scenario.models.base
import time:         3 |         10 |   evtool.scenario.models
import time:         1 |         11 | evtool.scenario.loader
import time:         4 |          4 | typer
"""


def test_the_split_adds_up_to_the_top_level_imports() -> None:
    b = _bench()
    top = b._top_level_imports(REPORT)
    assert top == {"site": 100, "pydantic": 100, "rich": 15, "evtool.scenario.loader": 11, "typer": 4}
    groups = b._self_by_group(REPORT)
    assert groups == {"rest": 100, "pydantic": 110, "rich": 15, "evtool": 1, "typer": 4}  # the models are pydantic's
    assert sum(groups.values()) == sum(top.values())
    assert b._imported(REPORT)[:3] == ["site", "pydantic_core._pydantic_core", "pydantic_core"]


def test_the_import_only_interpreter_imports_what_it_is_given() -> None:
    """IMPORT_ONLY sets itself up as the command line does and imports the names it is given, skipping ones
    that fail (a report lists failed attempts too: `nt`, `_winapi` on Linux)."""
    b = _bench()
    code = b.IMPORT_ONLY + "print(sorted(m for m in ('json', 'evtool.sim.lessonview') if m in sys.modules))\n"
    proc = subprocess.run([sys.executable, "-c", code, "nt", "json", "evtool.sim.lessonview"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['evtool.sim.lessonview', 'json']"


def test_the_first_validation_is_timed_without_its_imports() -> None:
    """FIRST_VALIDATION prints the first and a second validation's CPU seconds; the first builds the schema."""
    b = _bench()
    proc = subprocess.run([sys.executable, "-c", b.FIRST_VALIDATION, b.SMALL_LESSON], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    first, second = (float(x) for x in proc.stdout.split())
    assert first > second > 0


def test_the_framework_floor_sets_typer_and_rich_against_the_work_that_is_not_importing(monkeypatch) -> None:
    """framework_floor: the run's CPU less its imports and the schema build is its work; the share is typer and
    rich's import over that work plus it. The framework command imports typer and rich.console and nothing else."""
    b = _bench()
    seen = []

    def paired(a, c, rounds, cwd):
        seen.append(c[0])
        return 0.240, 0.050  # the run, then `import typer, rich.console`

    monkeypatch.setattr(b, "paired", paired)
    monkeypatch.setattr(b, "CLOCK", "wall")  # the floor compares CPU seconds whatever --clock says, then puts it back
    framework, work, least = b.framework_floor(["py", "-m", "evtool", "run"], {}, ".", 3, imports_s=0.150,
                                               schema_s=0.020)
    assert seen == [["py", "-c", "import typer, rich.console"]]
    assert (framework, round(work, 3), round(least, 3)) == (0.050, 0.070, round(0.050 / 0.120, 3))
    assert b.CLOCK == "wall"
