"""A scenario file from someone else must never hang, exhaust or crash the machine that opens it.

Every file in `hostile/` attacks one limit (its first line says which). `validate` and `run` (with
a small budget) must each end within seconds, without a traceback, with a documented exit code:
0 valid/passed, 1 failed, 2 invalid input, and for `run` also 3 (unknown: a budget stopped it).
The files run in two shards, one interpreter each (xdist runs the shards in parallel).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
FILES = sorted((HERE / "hostile").glob("*.yaml"))
ROOT = HERE.parent.parent
SHARDS = 2
COMMAND_WALL_S = 10.0
"""Each command's own bound (a run's wall budget is 4s; the margin is for a loaded machine)."""

PEAK_MB = 400
"""The whole shard's peak resident memory (VmHWM): every command of the shard stayed under it."""

EXITS = {"validate": {0, 1, 2}, "run": {0, 1, 2, 3}}


def test_the_corpus_is_there() -> None:
    assert len(FILES) >= 30
    for f in FILES:
        first = f.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# attacks: "), f"{f.name} does not say what it attacks"


@pytest.mark.parametrize("shard", range(SHARDS))
def test_hostile_files_are_handled(shard: int, tmp_path: Path) -> None:
    files = FILES[shard::SHARDS]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EVTOOL_DB": str(tmp_path / "runs.db")}
    timeout = 10.0 + 2 * COMMAND_WALL_S * len(files) / 4  # a hang is caught long before the budget runs out
    try:
        proc = subprocess.run([sys.executable, str(HERE / "run_hostile.py"), *map(str, files)], capture_output=True,
                              text=True, timeout=timeout, cwd=tmp_path, env=env, check=False)
        out = proc.stdout
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        started = [json.loads(line) for line in out.splitlines() if line.startswith('{"start"')]
        last = started[-1] if started else {"start": "?", "command": "?"}
        pytest.fail(f"`{last['command']}` on {Path(last['start']).name} did not end (shard timeout {timeout:.0f}s)")
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in out.splitlines() if line.startswith('{"file"')]
    assert len(results) == 2 * len(files), out[-2000:]
    problems = []
    for r in results:
        name = f"{Path(r['file']).name}: `{r['command']}`"
        if r["traceback"] is not None:
            problems.append(f"{name} raised:\n{r['traceback']}")
        if r["exit"] not in EXITS[r["command"]]:
            problems.append(f"{name} exited {r['exit']}:\n{r['output']}")
        if r["wall"] > COMMAND_WALL_S:
            problems.append(f"{name} took {r['wall']}s")
        if r["peak_mb"] > PEAK_MB:
            problems.append(f"{name} raised the peak resident memory to {r['peak_mb']} MB (bound {PEAK_MB} MB)")
    assert not problems, "\n".join(problems)
