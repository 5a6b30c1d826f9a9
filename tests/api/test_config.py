"""Configuration: evtool.toml or [tool.evtool] found upward; env and flags override; `evtool config` says where
each value came from, with secrets redacted; errors are located."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evtool.config import ConfigError, load, redact

ROOT = Path(__file__).resolve().parents[2]


def evtool(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("EVTOOL_")}
    return subprocess.run([sys.executable, "-m", "evtool", *args], cwd=cwd, capture_output=True, text=True,
                          env={**base, "PYTHONPATH": str(ROOT), "COLUMNS": "100", **(env or {})}, timeout=120)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n\n[tool.evtool]\nrecord = "summary"\ndb = "store/runs.db"\nspeed = "max"\n'
        '\n[tool.evtool.brokers]\nrabbitmq = "amqp://admin:s3cret@mq.example:5672/vh"\n')
    (tmp_path / "a" / "b").mkdir(parents=True)
    return tmp_path


def test_found_upward_with_sources(project: Path) -> None:
    cfg = load(project / "a" / "b", environ={})
    assert cfg.file == project / "pyproject.toml"
    assert cfg.value("db") == project / "store" / "runs.db"
    assert cfg.source("db") == f"{project / 'pyproject.toml'}:6"
    assert cfg.value("record") == "summary" and cfg.source("transport") == "default"
    assert cfg.settings["brokers.rabbitmq"].shown == "amqp://admin:***@mq.example:5672/vh"
    assert cfg.value("brokers.nats") == "nats://127.0.0.1:4222"


def test_evtool_toml_wins_in_its_folder_and_env_overrides(project: Path) -> None:
    (project / "a" / "evtool.toml").write_text('transport = "nats"\n[brokers]\nnats = "nats://u:pw@n:4222"\n')
    cfg = load(project / "a" / "b", environ={})
    assert cfg.file == project / "a" / "evtool.toml"
    assert cfg.value("transport") == "nats" and cfg.value("record") == "full"
    cfg = load(project / "a" / "b", environ={"EVTOOL_TRANSPORT": "redis", "EVTOOL_NATS_URL": "nats://x:4222"})
    assert (cfg.value("transport"), cfg.source("transport")) == ("redis", "env EVTOOL_TRANSPORT")
    assert cfg.source("brokers.nats") == "env EVTOOL_NATS_URL"


@pytest.mark.parametrize(("text", "where", "message", "hint"), [
    ('transprt = "nats"\n', (1, 1), "unknown setting `transprt`", "did you mean `transport`?"),
    ('\nrecord = "most"\n', (2, 1), "record 'most' is not a record mode", "full, summary, off"),
    ('speed = 0\n', (1, 1), "out of range", "0.01 and 10000"),
    ('[brokers]\nrabit = "amqp://x"\n', (2, 1), "`rabit` is not a broker", "did you mean `rabbitmq`?"),
    ('transport = \n', (1, 13), "not valid TOML", "toml.io"),
])
def test_errors_are_located(tmp_path: Path, text: str, where: tuple[int, int], message: str, hint: str) -> None:
    (tmp_path / "evtool.toml").write_text(text)
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, environ={})
    assert (exc.value.line, exc.value.column) == where
    assert message in exc.value.message and hint in (exc.value.hint or "")


def test_redact() -> None:
    assert redact("amqp://u:p@h:5672/") == "amqp://u:***@h:5672/"
    assert redact("redis://h:6379/0?password=x&db=1") == "redis://h:6379/0?password=***&db=1"
    assert redact("nats://h:4222") == "nats://h:4222"


def test_cli_uses_the_configuration(project: Path) -> None:
    cwd = project / "a" / "b"
    res = evtool("run", "retries-dlq-poison", "-q", cwd=cwd)
    assert res.returncode == 0, res.stderr
    assert (project / "store" / "runs.db").exists(), "the configured store, not ./.evtool"
    assert not (cwd / ".evtool").exists()
    runs = json.loads(evtool("runs", "--json", cwd=cwd).stdout)["runs"]
    assert runs[0]["record_mode"] == "summary"
    # a flag overrides the file; the environment overrides the file
    evtool("run", "retries-dlq-poison", "-q", "--record", "full", cwd=cwd)
    assert json.loads(evtool("runs", "--json", cwd=cwd).stdout)["runs"][0]["record_mode"] == "full"
    other = project / "other.db"
    evtool("run", "retries-dlq-poison", "-q", cwd=cwd, env={"EVTOOL_DB": str(other)})
    assert other.exists()


def test_config_command(project: Path) -> None:
    res = evtool("config", cwd=project / "a", env={"EVTOOL_SPEED": "2"})
    assert res.returncode == 0, res.stderr
    assert "s3cret" not in res.stdout and "amqp://admin:***@mq.example:5672/vh" in res.stdout
    assert "env EVTOOL_SPEED" in res.stdout and "pyproject.toml:5" in res.stdout
    doc = json.loads(evtool("config", "--json", cwd=project / "a").stdout)
    assert doc["settings"]["db"] == {"value": str(project / "store" / "runs.db"),
                                     "source": f"{project / 'pyproject.toml'}:6"}


def test_broken_configuration_stops_commands_with_a_located_error(tmp_path: Path) -> None:
    (tmp_path / "evtool.toml").write_text('transport = "rabit"\n')
    res = evtool("runs", cwd=tmp_path)
    assert res.returncode == 2
    assert f"{tmp_path / 'evtool.toml'}:1:1: transport 'rabit' is not a transport" in res.stderr
    assert "did you mean `rabbitmq`?" in res.stderr and "Traceback" not in res.stderr


def test_record_off_and_transport_from_the_file(tmp_path: Path) -> None:
    (tmp_path / "evtool.toml").write_text('record = "off"\ntransport = "rabbitmq"\n[brokers]\n'
                                          'rabbitmq = "amqp://guest:guest@127.0.0.1:1/"\n')
    res = evtool("run", "retries-dlq-poison", "-q", "--transport", "local", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / ".evtool").exists(), "record = off: nothing recorded"
    res = evtool("run", "retries-dlq-poison", "-q", cwd=tmp_path)   # the file's transport and broker URL
    assert res.returncode == 2
    assert "127.0.0.1:1" in res.stderr
