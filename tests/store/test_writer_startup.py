"""The writer process starts for every recorded run, so what it imports is part of what recording costs.

`python -P -S -c WRITER_COMMAND` imports the writer, sqlite3, zlib and struct: not `runpy` (what `-m` would
import), nor `queue`, `threading`, `signal` (and its enums) or `typing`, which cost it about a third of its
start-up (record_bench.py's writer CPU). These tests pin that down, and that a recorded run still works
through that command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from evtool.store import writer

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {"runpy", "queue", "threading", "signal", "enum", "typing", "pathlib", "dataclasses"}


def test_the_writer_process_imports_nothing_it_does_not_need() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    probe = ("import sys; sys.argv = ['-c']\n"
             "from evtool.store import writer, schema\n"
             "print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-P", "-S", "-c", probe], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert "sqlite3" in out and "zlib" in out
    assert not HEAVY & set(out), sorted(HEAVY & set(out))


def test_the_recorder_starts_the_writer_without_runpy() -> None:
    assert "-m" not in writer.WRITER_COMMAND
    assert writer.WRITER_COMMAND == "from evtool.store.writer import process_main; process_main()"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    bad = subprocess.run([sys.executable, "-P", "-S", "-c", writer.WRITER_COMMAND], env=env, capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "usage" in bad.stderr
