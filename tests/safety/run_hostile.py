"""Run `evtool validate` and `evtool run` in-process on each file given; print one JSON line per command.

Used by test_hostile_corpus.py in a subprocess, so a hang is cut by the test's wall-clock timeout (the
last `start` line names the file that hung) and a crash cannot take the test run with it. One
interpreter for many files keeps the corpus fast. Not a test module itself.
"""

from __future__ import annotations

import json
import sys
import time
import traceback

from typer.testing import CliRunner

from evtool.cli.app import app

# A small budget: a hostile file must be stopped within seconds, not minutes.
BUDGET = ["--max-events", "300000", "--max-messages", "50000", "--max-wall", "4s", "--max-memory", "200MB",
          "--set", "run.budget.events_per_instant=5000"]


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM: of this program's own memory map, unlike ru_maxrss,
    which Linux carries over from the parent across fork and exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def main(paths: list[str]) -> None:
    """Both commands on each path; the JSON says the exit code, the wall time and any traceback."""
    runner = CliRunner()
    for path in paths:
        for name, args in (("validate", ["validate", path]),
                           ("run", ["run", path, "--no-record", "--quiet", *BUDGET])):
            print(json.dumps({"start": path, "command": name}), flush=True)
            t0 = time.monotonic()
            result = runner.invoke(app, args, env={"COLUMNS": "200", "CI": "true"})
            tb = None
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                tb = "".join(traceback.format_exception(result.exception))
            elif "Traceback (most recent call last)" in result.output:
                tb = result.output
            print(json.dumps({"file": path, "command": name, "exit": result.exit_code,
                              "wall": round(time.monotonic() - t0, 3), "traceback": tb,
                              "output": result.output[-600:],
                              "peak_mb": _peak_mb()}),
                  flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
