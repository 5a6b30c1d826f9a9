"""What `evtool run` of a lesson loads at start-up, and the command line's collector threshold (issue #14)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evtool.cli.startup import STARTUP_GC_GEN0, _startup_gc

ROOT = Path(__file__).resolve().parents[2]


def test_run_of_a_lesson_does_not_load_the_dashboard_snapshot() -> None:
    """A narrated lesson run uses the lesson views (sim/lessonview.py), never the dashboard's snapshot classes,
    textual or the transports; the collector threshold of the command line is in force at the end."""
    code = ("import gc, sys\n"
            "from evtool.cli.app import main\n"
            "sys.argv = ['evtool', 'run', 'competing-consumers', '--quiet', '--no-record']\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
            "loaded = sorted(m for m in ('evtool.sim.snapshot', 'textual', 'evtool.transports', "
            "'evtool.sim.lessonview', 'evtool.sim.host.lesson') if m in sys.modules)\n"
            "print(code, gc.get_threshold()[0], loaded, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    last = proc.stderr.strip().splitlines()[-1]
    assert last == f"0 {STARTUP_GC_GEN0} ['evtool.sim.host.lesson', 'evtool.sim.lessonview']", proc.stderr
    assert "competing-consumers" in proc.stdout


def test_snapshot_still_exports_the_lesson_views() -> None:
    """The dashboard and its tests import the lesson views from sim.snapshot: the same classes."""
    from evtool.sim import lessonview, snapshot

    assert snapshot.LessonView is lessonview.LessonView
    assert snapshot.LessonStepView is lessonview.LessonStepView
    assert snapshot.QuestionView is lessonview.QuestionView


@pytest.fixture
def restore_gc():
    old, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc.set_threshold(*old)
    (gc.enable if enabled else gc.disable)()


@pytest.mark.parametrize(("before", "enabled", "after"), [
    ((700, 10, 10), True, (STARTUP_GC_GEN0, 10, 10)),       # Python's default: raised, older generations kept
    ((200_000, 20, 30), True, (200_000, 20, 30)),           # a higher threshold is kept
    ((0, 10, 10), True, (0, 10, 10)),                       # threshold 0 (collection off) is kept
    ((700, 10, 10), False, (700, 10, 10)),                  # a disabled collector is left alone
])
def test_startup_gc_only_raises_the_youngest_threshold(restore_gc, before, enabled, after) -> None:
    gc.set_threshold(*before)
    (gc.enable if enabled else gc.disable)()
    _startup_gc()
    assert gc.get_threshold() == after
    assert gc.isenabled() is enabled


def test_entry_point_raises_the_threshold_before_typer_is_imported() -> None:
    """`evtool.cli.main` (the console script, `python -m evtool`) raises the threshold before the command
    line's first import, so typer's import runs without young collections; it imports nothing itself."""
    code = ("import gc, sys\n"
            "seen = []\n"
            "class Watch:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'typer' and not seen:\n"
            "            seen.append(gc.get_threshold()[0])\n"
            "sys.meta_path.insert(0, Watch())\n"
            "import evtool.cli\n"
            "light = sorted(m for m in ('typer', 'evtool.cli.app', 'evtool.cli.commands') if m in sys.modules)\n"
            "sys.argv = ['evtool', '--help']\n"
            "try:\n    evtool.cli.main()\nexcept SystemExit as exc:\n    code = exc.code\n"
            "print(code, seen, light, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.stderr.strip().splitlines()[-1] == f"0 [{STARTUP_GC_GEN0}] []", proc.stderr
    assert "Usage: evtool" in proc.stdout


def test_python_dash_m_evtool_goes_through_the_entry_point() -> None:
    import evtool.__main__ as dunder_main
    import evtool.cli

    assert dunder_main.main is evtool.cli.main


LEFT_TO_OTHER_COMMANDS = (
    "textual", "evtool.tui", "evtool.sim.snapshot",                      # the dashboard (--tui, watch)
    "evtool.transports", "asyncio",                                      # real brokers (--transport)
    "sqlite3", "aiosqlite", "evtool.store.recorder", "evtool.store.runstore", "evtool.store.writer",  # recording
    "evtool.explore",                                                    # evtool explore
    "evtool.report.html", "evtool.report.markdown", "evtool.report.junit", "evtool.report.jsondoc",
    "evtool.report.export", "evtool.report.svg", "evtool.report.timeseries",  # report, --junit, --json
    "jsonschema", "importlib.metadata",                                  # evtool schema; pydantic's plugin search
    "rich._emoji_codes",                                                 # emoji codes are off (cli.output.console)
)
"""What `evtool run LESSON --quiet --no-record` has no use for: another command, or another option, loads it
(Rich's table of emoji names: nothing does)."""


def test_a_quiet_unrecorded_run_loads_nothing_another_command_needs() -> None:
    """Each of these costs start-up time a local, unrecorded run does not need; read from the process's own
    `sys.modules` after the command, so an eager import anywhere on the run's path shows here."""
    code = ("import sys\n"
            "from evtool.cli import main\n"
            "sys.argv = ['evtool', 'run', 'competing-consumers', '--quiet', '--no-record']\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
            f"names = {LEFT_TO_OTHER_COMMANDS!r}\n"
            "print(code, sorted(n for n in names if n in sys.modules), file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.stderr.strip().splitlines()[-1] == "0 []", proc.stderr


def test_a_plain_python_run_does_not_import_cython() -> None:
    """The compiled modules' `cython.locals` decorators are `evtool.core._nocython`'s no-ops in plain Python:
    Cython's Shadow module (~4 ms to import) is not loaded, installed or not."""
    code = ("import sys\n"
            "from evtool.cli import main\n"
            "sys.argv = ['evtool', 'run', 'competing-consumers', '--quiet', '--no-record']\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
            "import evtool.sim.engine as engine\n"
            "print(code, engine.__file__.endswith('.py'), 'Cython' in sys.modules, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "EVTOOL_PURE": "1"})
    assert proc.stderr.strip().splitlines()[-1] == "0 True False", proc.stderr
