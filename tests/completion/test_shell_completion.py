"""Shell completion: the bash script from `evtool completion bash`, sourced in a real bash, completes commands,
lesson ids, run ids, transports, profiles and the --set paths of the scenario on the line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def shell_env(tmp_path: Path) -> dict[str, str]:
    """An `evtool` on PATH that runs this checkout, and a run store with two runs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "evtool"
    exe.write_text(f'#!/bin/sh\nexec {sys.executable} -m evtool "$@"\n')
    exe.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVTOOL_", "_EVTOOL"))}
    env.update(PATH=f"{bin_dir}:{env.get('PATH', '')}", PYTHONPATH=str(ROOT), EVTOOL_CONFIG="",
               EVTOOL_DB=str(tmp_path / "runs.db"))
    return env


_SCRIPT: list[str] = []


def bash_complete(env: dict[str, str], cwd: Path, *words: str) -> list[str]:
    """Source the script, then do what bash does on TAB: fill COMP_WORDS and COMP_CWORD, call the function with
    the command's name."""
    if not _SCRIPT:
        _SCRIPT.append(subprocess.run(["evtool", "completion", "bash"], env=env, cwd=cwd, capture_output=True,
                                      text=True, check=True).stdout)
    script = _SCRIPT[0]
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = (f"{script}\nCOMP_WORDS=({quoted})\nCOMP_CWORD={len(words) - 1}\n_evtool_completion evtool\n"
               "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    res = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], env=env, cwd=cwd, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return [line for line in res.stdout.splitlines() if line]


pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


def test_commands_lessons_transports_profiles(shell_env: dict[str, str], tmp_path: Path) -> None:
    assert bash_complete(shell_env, tmp_path, "evtool", "ru") == ["run", "runs"]
    assert "config" in bash_complete(shell_env, tmp_path, "evtool", "")
    (tmp_path / "retry-mine.yaml").write_text("id: x\n")
    assert bash_complete(shell_env, tmp_path, "evtool", "run", "retr") == ["retries-dlq-poison", "retry-broker-or-framework",
                                                                          "retry-mine.yaml"]
    assert bash_complete(shell_env, tmp_path, "evtool", "explain", "order") == ["order-saga", "ordering-sequence-numbers"]
    assert bash_complete(shell_env, tmp_path, "evtool", "run", "--transport", "r") == ["rabbitmq", "redis"]
    assert bash_complete(shell_env, tmp_path, "evtool", "run", "--compare", "local,n") == ["local,nats"]
    assert bash_complete(shell_env, tmp_path, "evtool", "run", "--local-profile", "rabbitmq-") == [
        "rabbitmq-classic", "rabbitmq-quorum"]
    assert bash_complete(shell_env, tmp_path, "evtool", "export", "--format", "j") == ["json", "jsonl"]
    assert bash_complete(shell_env, tmp_path, "evtool", "inspect", "--kind", "dead_") == ["dead_lettered"]
    assert "died" in bash_complete(shell_env, tmp_path, "evtool", "runs", "--outcome", "")


def test_set_paths_of_the_scenario(shell_env: dict[str, str], tmp_path: Path) -> None:
    got = bash_complete(shell_env, tmp_path, "evtool", "run", "retries-dlq-poison", "--set", "consumers.billing.retry.m")
    assert got == ["consumers.billing.retry.max_attempts=", "consumers.billing.retry.mode="]
    (tmp_path / "mine.yaml").write_text("evtool: '1'\nid: mine\nrun: {seed: 1, duration: 5s}\n"
                                        "channels: {jobs: {kind: queue, ttl: 5s}}\n")
    assert bash_complete(shell_env, tmp_path, "evtool", "run", "mine.yaml", "--set", "channels.") == [
        "channels.jobs.kind=", "channels.jobs.ttl="]
    assert bash_complete(shell_env, tmp_path, "evtool", "run", "mine.yaml", "--set", "broker.profile=kaf") == [
        "broker.profile=kafka"]


def test_run_ids(shell_env: dict[str, str], tmp_path: Path) -> None:
    for seed in ("1", "2"):
        subprocess.run(["evtool", "run", "retries-dlq-poison", "-q", "--seed", seed], env=shell_env, cwd=tmp_path,
                       check=True, capture_output=True)
    ids = subprocess.run(["evtool", "runs", "--json"], env=shell_env, cwd=tmp_path, capture_output=True, text=True,
                         check=True).stdout
    import json

    newest, older = (r["id"] for r in json.loads(ids)["runs"])
    assert bash_complete(shell_env, tmp_path, "evtool", "show", "") == ["last", newest, older]
    assert bash_complete(shell_env, tmp_path, "evtool", "diff", "last", newest[:3]) == [newest]


def test_zsh_and_fish_scripts(shell_env: dict[str, str], tmp_path: Path) -> None:
    for shell, marker in (("zsh", "#compdef evtool"), ("fish", "complete --command evtool")):
        out = subprocess.run(["evtool", "completion", shell], env=shell_env, cwd=tmp_path, capture_output=True,
                             text=True, check=True).stdout
        assert marker in out and "_EVTOOL_COMPLETE=complete_" + shell in out
    env = {**shell_env, "_EVTOOL_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "evtool run --transport n"}
    out = subprocess.run(["evtool"], env=env, cwd=tmp_path, capture_output=True, text=True).stdout
    assert "nats" in out
    bad = subprocess.run(["evtool", "completion", "tcsh"], env=shell_env, cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 2 and "one of: bash, zsh, fish" in bad.stderr
