"""evtool's configuration: `evtool.toml`, or `[tool.evtool]` in `pyproject.toml`, found upward from the working
directory; environment variables override it, and command-line flags override both.

    # evtool.toml (or the same keys under [tool.evtool] in pyproject.toml)
    transport = "local"        # local, rabbitmq, nats, redis, kafka or sqs: `evtool run`'s --transport
    record = "full"            # full, summary or off: `evtool run`'s --record / --no-record
    db = ".evtool/runs.db"     # the run store, relative to this file's folder
    speed = "max"              # `evtool run`'s --speed: a number (virtual seconds per wall second) or max

    [brokers]                  # [tool.evtool.brokers] in pyproject.toml
    rabbitmq = "amqp://guest:guest@127.0.0.1:5672/"
    nats = "nats://127.0.0.1:4222"

Environment: EVTOOL_TRANSPORT, EVTOOL_RECORD, EVTOOL_DB, EVTOOL_SPEED, EVTOOL_<BROKER>_URL, and EVTOOL_CONFIG
(a file to read instead of searching; an empty value reads none).

Only the standard library is imported here: the command line reads the configuration at every start.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

FILE_NAME = "evtool.toml"
KEYS = ("transport", "record", "db", "speed")
TRANSPORT_CHOICES = ("local", "rabbitmq", "nats", "redis", "kafka", "sqs")
BROKERS = TRANSPORT_CHOICES[1:]
RECORD_CHOICES = ("full", "summary", "off")
ENV = {"transport": "EVTOOL_TRANSPORT", "record": "EVTOOL_RECORD", "db": "EVTOOL_DB", "speed": "EVTOOL_SPEED"}
BROKER_ENV = {b: f"EVTOOL_{b.upper()}_URL" for b in BROKERS}
DEFAULTS: dict[str, Any] = {"transport": "local", "record": "full", "db": ".evtool/runs.db", "speed": None}
DEFAULT_URLS = {
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/",
    "nats": "nats://127.0.0.1:4222",
    "redis": "redis://127.0.0.1:6379/0",
    "kafka": "kafka://127.0.0.1:9092",
    "sqs": "http://127.0.0.1:5000",
}
"""Where each broker is looked for when nothing says otherwise (the same as evtool.transports.base)."""


class ConfigError(ValueError):
    """A configuration problem, located: file, line, column, message and a hint."""

    def __init__(self, file: str, line: int, column: int, message: str, hint: str | None = None) -> None:
        self.file, self.line, self.column, self.message, self.hint = file, line, column, message, hint
        super().__init__(f"{file}:{line}:{column}: {message}" + (f"\n  hint: {hint}" if hint else ""))


@dataclass(frozen=True)
class Setting:
    """One effective value and where it came from (`default`, `env EVTOOL_X`, `evtool.toml:3`, `--flag`)."""

    name: str
    value: Any
    source: str
    secret: bool = False

    @property
    def shown(self) -> str:
        """The value as it may be printed (passwords in URLs replaced by ***)."""
        if self.value is None:
            return "-"
        return redact(str(self.value)) if self.secret else str(self.value)


@dataclass
class Config:
    """The effective configuration: each setting with its source, and the file read (if any)."""

    file: Path | None = None
    settings: dict[str, Setting] = field(default_factory=dict)

    def value(self, name: str) -> Any:
        """The effective value of `name` (`transport`, `db`, `brokers.rabbitmq`, ...)."""
        return self.settings[name].value

    def source(self, name: str) -> str:
        """Where `name`'s value came from."""
        return self.settings[name].source


def redact(url: str) -> str:
    """`url` with its password (and any `token`/`secret`/`password` query value) replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    netloc = parts.netloc
    if "@" in netloc:
        auth, host = netloc.rsplit("@", 1)
        user = auth.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in auth else f"{auth}@{host}"
    query = re.sub(r"(?i)((?:password|passwd|secret|token|key)=)[^&]*", r"\1***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def find_file(start: Path | None = None) -> tuple[Path, str] | None:
    """The configuration file that applies in `start` (default: the working directory), searching upward.

    Returns (path, kind) with kind `evtool.toml` or `pyproject.toml`; None when there is none. In each
    folder `evtool.toml` wins over a `pyproject.toml`; a `pyproject.toml` without `[tool.evtool]` is passed by.
    """
    env = os.environ.get("EVTOOL_CONFIG")
    if env is not None:
        if env == "":
            return None
        p = Path(env).expanduser()
        return (p, "pyproject.toml" if p.name == "pyproject.toml" else FILE_NAME)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / FILE_NAME
        if candidate.is_file():
            return candidate, FILE_NAME
        py = folder / "pyproject.toml"
        if py.is_file():
            try:
                text = py.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if re.search(r"^\s*\[\s*tool\s*\.\s*evtool\s*[\].]", text, re.MULTILINE):
                return py, "pyproject.toml"
    return None


def _line_of(text: str, key: str, table: str | None = None) -> tuple[int, int]:
    """Where `key = ...` is written (the first match after the table header when one is given)."""
    lines = text.splitlines()
    start = 0
    if table is not None:
        for i, line in enumerate(lines):
            if re.match(rf"^\s*\[\s*{re.escape(table)}\s*\]", line):
                start = i + 1
                break
    for i in range(start, len(lines)):
        m = re.match(rf"^(\s*)[\"']?{re.escape(key)}[\"']?\s*=", lines[i])
        if m:
            return i + 1, len(m.group(1)) + 1
    return 1, 1


def read_file(path: Path, kind: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The settings in one file and where each is written (`file:line`). Raises ConfigError."""
    import tomllib

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), 1, 1, f"cannot read the configuration: {exc.strerror or exc}",
                          "fix the file, or set EVTOOL_CONFIG= (empty) to read none") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), 1, 1, "the configuration is not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+), column (\d+)", str(exc))
        line, col = (int(m[1]), int(m[2])) if m else (1, 1)
        raise ConfigError(str(path), line, col, f"not valid TOML: {str(exc).split(' (at')[0]}",
                          "see https://toml.io") from None
    prefix = ""
    if kind == "pyproject.toml":
        data = data.get("tool", {}).get("evtool", {})
        prefix = "tool.evtool."
    if not isinstance(data, dict):
        raise ConfigError(str(path), 1, 1, f"[{prefix.rstrip('.')}] must be a table")
    values: dict[str, Any] = {}
    where: dict[str, str] = {}

    def loc(key: str, table: str | None) -> tuple[int, int]:
        return _line_of(text, key, table)

    for key, value in data.items():
        if key == "brokers":
            if not isinstance(value, dict):
                line, col = loc(key, prefix.rstrip(".") or None)
                raise ConfigError(str(path), line, col, "`brokers` must be a table of URLs",
                                  f"write [{prefix}brokers] then rabbitmq = \"amqp://...\"")
            for broker, url in value.items():
                line, col = loc(broker, f"{prefix}brokers")
                if broker not in BROKERS:
                    raise ConfigError(str(path), line, col, f"`{broker}` is not a broker",
                                      _did_you_mean(broker, BROKERS) or f"one of: {', '.join(BROKERS)}")
                if not isinstance(url, str) or "://" not in url:
                    raise ConfigError(str(path), line, col, f"brokers.{broker} must be a URL string",
                                      f"e.g. {DEFAULT_URLS[broker]}")
                values[f"brokers.{broker}"] = url
                where[f"brokers.{broker}"] = f"{path}:{line}"
            continue
        line, col = loc(key, prefix.rstrip(".") or None)
        if key not in KEYS:
            raise ConfigError(str(path), line, col, f"unknown setting `{key}`",
                              _did_you_mean(key, (*KEYS, "brokers")) or f"the settings: {', '.join(KEYS)}, "
                                                                          "[brokers]")
        try:
            values[key] = _check(key, value, base=path.parent)
        except ValueError as exc:
            raise ConfigError(str(path), line, col, str(exc), getattr(exc, "hint", None)) from None
        where[key] = f"{path}:{line}"
    return values, where


class _ValueError(ValueError):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def _did_you_mean(word: str, choices: tuple[str, ...]) -> str | None:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean `{close[0]}`?" if close else None


def _check(key: str, value: Any, *, base: Path | None) -> Any:
    """A setting's value, validated (db made absolute against `base`); raises _ValueError."""
    if key == "transport":
        if value not in TRANSPORT_CHOICES:
            raise _ValueError(f"transport {value!r} is not a transport",
                              _did_you_mean(str(value), TRANSPORT_CHOICES) or f"one of: {', '.join(TRANSPORT_CHOICES)}")
        return value
    if key == "record":
        if value is False:
            return "off"
        if value not in RECORD_CHOICES:
            raise _ValueError(f"record {value!r} is not a record mode", f"one of: {', '.join(RECORD_CHOICES)}")
        return value
    if key == "db":
        if not isinstance(value, str) or not value:
            raise _ValueError("db must be a file path string", 'e.g. db = ".evtool/runs.db"')
        p = Path(value).expanduser()
        return p if p.is_absolute() or base is None else (base / p)
    if key == "speed":
        if value == "max":
            return "max"
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise _ValueError(f"speed {value!r} is not a number or max",
                              "virtual seconds per wall second, e.g. 2 or 0.5, or \"max\"") from None
        if not 0.01 <= v <= 10_000:
            raise _ValueError(f"speed {value!r} is out of range", "between 0.01 and 10000, or \"max\"")
        return f"{v:g}"
    raise _ValueError(f"unknown setting `{key}`")


_APPLIED: set[str] = set()
"""Environment variables `apply_to_environment` set from the file (not the user's: `load` ignores them)."""


def load(start: Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """The effective configuration in `start` (the working directory by default). Raises ConfigError."""
    env = {k: v for k, v in (os.environ if environ is None else environ).items() if k not in _APPLIED}
    found = find_file(start)
    values: dict[str, Any] = {}
    where: dict[str, str] = {}
    cfg = Config(file=found[0] if found else None)
    if found is not None:
        values, where = read_file(*found)
    cwd = (start or Path.cwd())
    for key in KEYS:
        env_name = ENV[key]
        if env.get(env_name):
            try:
                value = _check(key, env[env_name], base=cwd)
            except ValueError as exc:
                raise ConfigError(f"${env_name}", 1, 1, str(exc), getattr(exc, "hint", None)) from None
            cfg.settings[key] = Setting(key, value, f"env {env_name}")
        elif key in values:
            cfg.settings[key] = Setting(key, values[key], where[key])
        else:
            default = DEFAULTS[key]
            if key == "db":
                default = cwd / default
            cfg.settings[key] = Setting(key, default, "default")
    for broker in BROKERS:
        name = f"brokers.{broker}"
        env_name = BROKER_ENV[broker]
        if env.get(env_name):
            cfg.settings[name] = Setting(name, env[env_name], f"env {env_name}", secret=True)
        elif name in values:
            cfg.settings[name] = Setting(name, values[name], where[name], secret=True)
        else:
            cfg.settings[name] = Setting(name, DEFAULT_URLS[broker], "default", secret=True)
    return cfg


def effective_db_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The run store: `explicit` (a --db flag), else $EVTOOL_DB, else the configuration's `db`, else
    ./.evtool/runs.db."""
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser()
    return Path(load().value("db"))


def broker_url(transport: str) -> str:
    """A broker's URL: $EVTOOL_<BROKER>_URL, else the configuration's [brokers], else the local default."""
    return str(load().value(f"brokers.{transport}"))


def apply_to_environment(cfg: Config) -> None:
    """Hand the file's db and broker URLs to the code that reads environment variables (the run store and
    the transports), without overriding variables the user set."""
    for key, setting in cfg.settings.items():
        if setting.source in ("default",) or setting.source.startswith("env "):
            continue
        name = ENV["db"] if key == "db" else BROKER_ENV[key.split(".", 1)[1]] if key.startswith("brokers.") else None
        if name is not None and name not in os.environ:
            os.environ[name] = str(setting.value)
            _APPLIED.add(name)


def run_defaults(cfg: Config) -> dict[str, Any]:
    """Defaults for `evtool run`'s options from the configuration (for click's default_map)."""
    out: dict[str, Any] = {}
    for key in ("transport", "record", "speed"):
        s = cfg.settings[key]
        if s.source == "default":
            continue
        if key == "record" and s.value == "off":
            out["no_record"] = True
        elif s.value is not None:
            out[key] = s.value
    return out
