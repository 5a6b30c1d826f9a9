"""What the run store keeps about a run: its header (known at start) and its result (known at the end).

Both are frozen dataclasses of plain JSON-able values so they round-trip
through SQLite, the JSON export and the tests without adapters.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

# Every outcome a stored run can have. `incomplete` is what a run says while
# it is open, and what it keeps saying if its process was killed (readers then
# show it as `running` or `died`: evtool.store.liveness). `partial`: the run
# ended but its recorder's writer failed, so the stored trace holds only the
# events committed before (`events` counts those; summary["record"] says more).
OUTCOMES: tuple[str, ...] = ("passed", "failed", "unknown", "interrupted", "crashed", "incomplete", "partial")
# What `evtool runs` may show for a run without a result, instead of `incomplete`.
OPEN_STATES: tuple[str, ...] = ("running", "died")
RECORD_MODES: tuple[str, ...] = ("full", "summary")


def new_run_id() -> str:
    """A fresh random run id: 12 lowercase hex characters."""
    return secrets.token_hex(6)


def scenario_hash(text: str) -> str:
    """The sha256 hex digest of a scenario's text (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def utc_now_iso() -> str:
    """The wall clock now, as an ISO 8601 UTC string with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class RunHeader:
    """Everything known about a run when it starts.

    id              12 hex characters, random (`new_run_id`)
    scenario_id     the scenario's declared id or name
    scenario_path   the path the scenario was read from, as given
    scenario_text   the full text of the scenario file
    scenario_hash   sha256 hex of `scenario_text`
    seed            the seed the run used
    overrides       the `--set path=value` overrides, as a dict
    evtool_version  the evtool version that ran it
    profile         the broker profile (rabbitmq, nats, ...)
    transport       "local" or a real transport name
    lesson_title    the lesson's title, if the scenario is a lesson
    record_mode     "full" (every trace event) or "summary"
    started_at      wall-clock start, ISO 8601 UTC
    """

    id: str
    scenario_id: str
    scenario_path: str
    scenario_text: str
    scenario_hash: str
    seed: int
    overrides: dict[str, Any] = field(default_factory=dict)
    evtool_version: str = ""
    profile: str = ""
    transport: str = "local"
    lesson_title: str | None = None
    record_mode: str = "full"
    started_at: str = ""

    def __post_init__(self) -> None:
        if self.record_mode not in RECORD_MODES:
            raise ValueError(f"record_mode must be one of {RECORD_MODES}, not {self.record_mode!r}")

    def to_dict(self) -> dict[str, Any]:
        """The header as a plain dict (JSON-able)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunHeader:
        """Build a header from `to_dict` output (unknown keys are ignored)."""
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class RunResult:
    """Everything known about a run when it ends.

    outcome     one of `OUTCOMES`
    ended_at    wall-clock end, ISO 8601 UTC
    virtual_ns  virtual duration of the run in nanoseconds
    digest      the trace digest (hex)
    events      the number of trace events
    messages    the number of published messages
    summary     counts by kind, "latency_ms", "channels", "drain" (see the store docs)
    checks      one dict per check: name, check, status, expected, observed, evidence, because, when
    """

    outcome: str
    ended_at: str = ""
    virtual_ns: int = 0
    digest: str = ""
    events: int = 0
    messages: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")

    def to_dict(self) -> dict[str, Any]:
        """The result as a plain dict (JSON-able)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunResult:
        """Build a result from `to_dict` output (unknown keys are ignored)."""
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class RunRow:
    """One line of `evtool runs`: a run as the listing shows it.

    For a run that is still open (or was killed), `events`, `messages` and
    `virtual_ns` are counted from what was committed so far.
    """

    id: str
    started_at: str
    ended_at: str | None
    scenario_id: str
    scenario_path: str
    seed: int
    outcome: str
    messages: int
    events: int
    virtual_ns: int
    transport: str
    profile: str
    record_mode: str
    overrides: dict[str, Any] = field(default_factory=dict)
    checks_passed: int = 0
    checks_total: int = 0
    state: str = ""  # for an `incomplete` run: `running` or `died` (evtool.store.liveness)

    @property
    def shown_outcome(self) -> str:
        """The outcome as `evtool runs` shows it: `running` or `died` for a run without a result."""
        return self.state if self.outcome == "incomplete" and self.state else self.outcome
