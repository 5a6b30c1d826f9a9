"""Help text as a student reads it at 80 columns: no `<bool>` after a flag, no paragraph broken by the source."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from evtool.cli.app import app
from evtool.cli.commands import COMMANDS, help_text

NAMES = [e.name for e in COMMANDS]


def _help(*args: str, width: int = 80) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": str(width), "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    return result.output


def _prose(text: str) -> list[str]:
    """The description lines: after `Usage:`, before the first panel."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "Usage:" in line) + 1
    end = next((i for i, line in enumerate(lines) if line.startswith("╭")), len(lines))
    return [line.rstrip() for line in lines[start:end]]


@pytest.mark.parametrize("args", [(), *[(n,) for n in NAMES]], ids=["evtool", *NAMES])
def test_no_type_placeholders_after_flags(args: tuple[str, ...]) -> None:
    out = _help(*args)
    assert "<bool>" not in out
    assert "<list[" not in out.replace("<list[Path]>", "")  # arguments keep typer's own label
    assert "--help  -h" in re.sub(r" +", "  ", out)


@pytest.mark.parametrize("args", [(), *[(n,) for n in NAMES]], ids=["evtool", *NAMES])
def test_paragraphs_are_wrapped_by_the_terminal_not_the_source(args: tuple[str, ...]) -> None:
    """A line is only short when its paragraph ends there (the next word would have fitted otherwise)."""
    prose = _prose(_help(*args))
    for line, nxt in zip(prose, prose[1:], strict=False):
        if line.strip() and nxt.strip():
            first_word = nxt.split()[0]
            assert len(line) + 1 + len(first_word) > 80 - 2, f"broken line:\n{line}\n{nxt}"


def test_run_help_states_every_exit_code_once_in_one_paragraph() -> None:
    prose = " ".join(line.strip() for line in _prose(_help("run")))
    assert "Exit codes: 0 every expectation passed, 1 one failed, 2 invalid input, 3 undecided" in prose
    assert "130 interrupted." in prose


def test_help_text_joins_lines_but_keeps_paragraphs() -> None:
    assert help_text("One\n    two.\n\n    Three\n    four.") == "One two.\n\nThree four."
    assert help_text("\b\nkeep\nthis") == "\b\nkeep\nthis"


@pytest.mark.parametrize("entry", COMMANDS, ids=NAMES)
def test_the_root_help_summary_is_the_docstrings_first_paragraph(entry: object) -> None:
    """`evtool --help` shows the registry's summary without importing the command: it must say what the
    command's own help says first."""
    import importlib

    func = getattr(importlib.import_module(entry.module), entry.function)  # type: ignore[attr-defined]
    assert entry.summary == help_text(func.__doc__).split("\n\n")[0]  # type: ignore[attr-defined, union-attr]


def test_the_root_help_lists_every_command_in_its_panel() -> None:
    out = _help()
    for e in COMMANDS:
        assert any(line.startswith(f"│ {e.name} ") for line in out.splitlines()), e.name
    panels = [line.split("─ ", 1)[1].split(" ─", 1)[0] for line in out.splitlines() if line.startswith("╭─ ")]
    assert panels == ["Options", "Running", "Recorded runs", "Lessons", "Scenarios", "Setup"]
    assert all(len(line) <= 80 for line in out.splitlines())


def test_the_root_help_imports_no_command_module_and_no_rich() -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom evtool.cli.app import main\nsys.argv = ['evtool', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m == 'rich' or m.startswith(('evtool.cli.run', "
            "'evtool.cli.runs', 'evtool.cli.validate', 'pydantic'))), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stderr.strip().splitlines()[-1] == "[]", proc.stderr
    assert "Usage: evtool" in proc.stdout


def test_an_unknown_command_is_matched_against_every_command() -> None:
    result = CliRunner().invoke(app, ["valdate"], env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == 2
    assert "Did you mean 'validate'?" in result.output


def test_evtool_alone_prints_the_root_help_and_exits_2() -> None:
    """The first thing a student types. typer prints nothing for it on its own (its rich error printer skips
    the no-arguments error, expecting rich to have printed the help; the root help is drawn without rich)."""
    import os
    import subprocess
    import sys

    result = CliRunner().invoke(app, [], env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == 2
    assert result.output == _help()
    proc = subprocess.run([sys.executable, "-m", "evtool"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "80", "NO_COLOR": "1"})
    assert proc.returncode == 2
    assert proc.stdout.startswith("\n Usage: evtool [OPTIONS] COMMAND [ARGS]...")
    assert "│ run " in proc.stdout and proc.stderr == ""
