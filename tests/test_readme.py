"""The README's Quick start commands work, run as a user would run them (subprocesses)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def quick_start_commands() -> list[str]:
    """The shell commands in the Quick start section's code blocks."""
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [c.strip() for c in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_quick_start_has_the_two_commands() -> None:
    """One installs and runs a lesson, one installs and runs the tests; CI runs the second exactly."""
    cmds = quick_start_commands()
    assert len(cmds) == 2
    assert "evtool run" in cmds[0]
    assert "pytest" in cmds[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert cmds[1] in ci, "the .ci/run test command must be the README's"


def test_lesson_command_runs_in_a_subprocess(tmp_path: Path) -> None:
    """The run part of the first command, against this installation, in a fresh directory."""
    cmd = quick_start_commands()[0]
    run_part = cmd.split("&&")[-1].strip()
    assert run_part.startswith(".venv/bin/evtool run ")
    args = run_part.split()[1:]
    env = {**os.environ, "EVTOOL_DB": str(tmp_path / "runs.db")}
    proc = subprocess.run([sys.executable, "-m", "evtool", *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASSED" in proc.stdout
    assert "re-run: evtool run retries-dlq-poison --seed 7" in proc.stdout.replace("\n", " ")
    assert (tmp_path / "runs.db").exists()


@pytest.mark.parametrize("args, code", [(["--version"], 0), (["--help"], 0), (["validate", "nope.yaml"], 2),
                                        (["run", "no-such-lesson"], 2)])
def test_cli_exit_codes(args: list[str], code: int, tmp_path: Path) -> None:
    """Top-level behaviour through a real process: version, help, and invalid input (exit 2, no traceback)."""
    proc = subprocess.run([sys.executable, "-m", "evtool", *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
