"""evtool's Python API: load a scenario, run it, read the result.

This is the one public module: everything else in evtool may change between
versions. See docs/api.md for examples (a test runs every one of them).

    >>> from evtool import api
    >>> result = api.run("retries-dlq-poison", seed=7)
    >>> result.outcome
    'passed'

A scenario comes from a file path, a bundled lesson id, YAML text or a plain
dict (`load`); a run takes a seed, `--set`-style overrides, a transport
(`local`, the deterministic core, or a real broker) and records into the run
store only when asked (`record=True`). The result (`RunResult`) holds the
outcome, each check with its verdict, expected and observed values in the
report's words and the ids of the messages that are its evidence, the
summary counts, the trace digest, the capability notes, and the trace events.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from evtool.core.events import TraceEvent
    from evtool.scenario.loader import LoadedScenario

__all__ = [
    "Check",
    "RunResult",
    "Scenario",
    "ScenarioInvalid",
    "TraceEvent",
    "TransportMissing",
    "load",
    "run",
]

Verdict = Literal["pass", "fail", "unknown"]
Outcome = Literal["passed", "failed", "unknown", "interrupted", "crashed"]

_MARK = {"pass": "✓", "fail": "✗", "unknown": "?"}


def __getattr__(name: str) -> Any:
    if name == "TraceEvent":  # re-exported lazily: the type of what `RunResult.events()` yields
        from evtool.core.events import TraceEvent

        return TraceEvent
    raise AttributeError(f"module 'evtool.api' has no attribute {name!r}")


class ScenarioInvalid(ValueError):
    """A scenario that does not load: every problem, located (file:line:col), with its hint.

    `problems` is a list of dicts with file, line, column, path, message, hint and severity.
    """

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self.problems = problems
        lines = []
        for p in problems:
            # a scenario built as a dict has no file of its own: its path says where
            where = p["file"] if p["file"] == "<dict>" else f"{p['file']}:{p['line']}:{p['column']}"
            path = f" {p['path']}:" if p.get("path") else ""
            lines.append(f"{where}:{path} {p['message']}" + (f"\n  hint: {p['hint']}" if p.get("hint") else ""))
        super().__init__("\n".join(lines) or "invalid scenario")


class TransportMissing(RuntimeError):
    """A real-broker transport whose client library is not installed (the message says what to install)."""


@dataclass(frozen=True)
class Check:
    """One expectation of the scenario and what the run made of it.

    name      the `name` of the `expect` entry
    kind      the kind of check (`no_loss`, `dead_letters`, `that`, ...)
    verdict   pass, fail or unknown (no data is never a pass)
    expected  what the scenario expects, in words
    observed  what the run saw, in words
    evidence  ids of the messages that show it (for a failure: the messages that broke it)
    because   the scenario's own explanation of the expectation, if it gives one
    """

    name: str
    kind: str
    verdict: Verdict
    expected: str
    observed: str
    evidence: tuple[str, ...] = ()
    because: str | None = None

    @property
    def passed(self) -> bool:
        """Whether the verdict is pass."""
        return self.verdict == "pass"

    def describe(self) -> str:
        """The check in the report's words: mark, name, expected, observed, messages, because."""
        lines = [f"{_MARK.get(self.verdict, '?')} {self.name} ({self.verdict})",
                 f"    expected: {self.expected}", f"    observed: {self.observed}"]
        if self.evidence:
            shown = ", ".join(self.evidence[:5]) + (f" (+{len(self.evidence) - 5} more)" if len(self.evidence) > 5
                                                     else "")
            lines.append(f"    messages: {shown}")
        if self.because:
            lines.append(f"    because: {self.because}")
        return "\n".join(lines)

    @classmethod
    def _from(cls, c: Mapping[str, Any]) -> Check:
        return cls(name=str(c["name"]), kind=str(c.get("check", "")), verdict=c["status"],
                   expected=str(c.get("expected", "")), observed=str(c.get("observed", "")),
                   evidence=tuple(str(e) for e in c.get("evidence") or ()), because=c.get("because"))


@dataclass(frozen=True)
class Scenario:
    """A validated scenario, ready to run. Make one with `load`."""

    _loaded: LoadedScenario = field(repr=False)
    source: str
    """Where it came from: a file path, `lesson:<id>`, `<yaml>` or `<dict>`."""

    @property
    def id(self) -> str:
        """The scenario's `id`."""
        return self._loaded.model.id

    @property
    def title(self) -> str | None:
        """The lesson title, for a lesson."""
        lesson = self._loaded.model.lesson
        return lesson.title if lesson else None

    @property
    def profile(self) -> str:
        """The broker profile the scenario names (`default`, `rabbitmq-quorum`, ...)."""
        return self._loaded.model.broker.profile

    @property
    def seed(self) -> int:
        """The scenario's own `run.seed`."""
        return self._loaded.model.run.seed

    @property
    def text(self) -> str:
        """The scenario's YAML text (for a dict, the YAML it was written as)."""
        return self._loaded.text

    @property
    def overrides(self) -> dict[str, Any]:
        """The overrides applied when it was loaded."""
        return dict(self._loaded.overrides)

    @property
    def check_names(self) -> list[str]:
        """The names of its expectations, in order."""
        return [e.name or f"expect[{i}]" for i, e in enumerate(self._loaded.model.expect)]  # as the checks name them

    @property
    def warnings(self) -> list[str]:
        """Warnings the loader found (located, one line each)."""
        return [w.format() for w in self._loaded.warnings]

    def with_overrides(self, overrides: Mapping[str, Any] | Iterable[str]) -> Scenario:
        """The same scenario with `--set`-style overrides (`{"run.duration": "10s"}` or `["run.duration=10s"]`)."""
        merged: dict[str, Any] = dict(self._loaded.overrides)
        merged.update(_overrides_dict(overrides))
        return Scenario(_load_text(self._loaded.text, self._loaded.path, merged), self.source)


def _overrides_dict(overrides: Mapping[str, Any] | Iterable[str] | None) -> dict[str, Any]:
    if overrides is None:
        return {}
    if isinstance(overrides, Mapping):
        return {str(k): v for k, v in overrides.items()}
    from evtool.scenario.loader import parse_value

    out: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ScenarioInvalid([{"file": "--set", "line": 1, "column": 1, "path": "", "severity": "error",
                                    "message": f"override {item!r} has no `=`",
                                    "hint": "write path=value, e.g. run.duration=10s"}])
        k, v = item.split("=", 1)
        out[k.strip()] = parse_value(v)
    return out


def _problems(err: Any) -> list[dict[str, Any]]:
    return [p.as_dict() for p in err.problems]


def _load_text(text: str, file: str, overrides: dict[str, Any] | None) -> LoadedScenario:
    from evtool.scenario.errors import ScenarioError
    from evtool.scenario.loader import load_text

    try:
        return load_text(text, file, overrides or None)
    except ScenarioError as err:
        raise ScenarioInvalid(_problems(err)) from None


def load(source: str | Path | Mapping[str, Any] | Scenario, *,
         overrides: Mapping[str, Any] | Iterable[str] | None = None) -> Scenario:
    """Load and validate a scenario.

    source     a file path (str or Path), a bundled lesson id (`retries-dlq-poison`), YAML text (any string
               with a newline), a plain dict in the shape of the YAML, or a Scenario (then only the
               overrides apply)
    overrides  `--set`-style overrides: `{"run.duration": "10s"}` or `["run.duration=10s"]`

    Raises `ScenarioInvalid` listing every problem with its location and hint.
    """
    sets = _overrides_dict(overrides)
    if isinstance(source, Scenario):
        return source.with_overrides(sets) if sets else source
    if isinstance(source, Mapping):
        text = _dump_yaml(_plain(source))
        return Scenario(_load_text(text, "<dict>", sets), "<dict>")
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and Path(source).exists()):
        path = Path(source)
        from evtool.scenario.errors import ScenarioError
        from evtool.scenario.yamlsource import read_text

        try:
            text = read_text(path)
        except ScenarioError as err:
            raise ScenarioInvalid(_problems(err)) from None
        return Scenario(_load_text(text, str(path), sets), str(path))
    if not isinstance(source, str):
        raise TypeError(f"load() takes a path, a lesson id, YAML text, a dict or a Scenario, not "
                        f"{type(source).__name__}")
    if "\n" in source:
        return Scenario(_load_text(source, "<yaml>", sets), "<yaml>")
    from evtool.scenario.lessons import LessonNotFound, find_lesson
    from evtool.scenario.yamlsource import read_text

    try:
        path = find_lesson(source)
    except LessonNotFound as exc:
        raise ScenarioInvalid([{"file": source, "line": 1, "column": 1, "path": "", "severity": "error",
                                "message": f"{source}: no such file or bundled lesson",
                                "hint": str(exc)}]) from None
    return Scenario(_load_text(read_text(path), source, sets), f"lesson:{source}")


_YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", ""}


def _dump_yaml(data: Any) -> str:
    """YAML text for a dict: strings YAML 1.1 tools would read as booleans or null (`n`, `on`) are quoted,
    so a Python string stays a string whoever reads the file."""
    import yaml

    class Dumper(yaml.SafeDumper):  # type: ignore[misc]  # (PyYAML ships no type hints)
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "'" if value.lower() in _YAML11_WORDS else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return str(yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False))


def _plain(value: Any) -> Any:
    """A dict or list made of YAML-safe values (tuples become lists, Paths strings)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass(frozen=True)
class RunResult:
    """What a run produced.

    outcome     passed, failed, unknown (a check had no data, the drain timed out, a budget stopped it),
                interrupted or crashed
    checks      every expectation with its verdict (`Check`)
    summary     the engine's summary: counts by event kind, latency and processing percentiles, channels
    digest      SHA-256 over the trace: the same scenario, seed and overrides give the same digest
    notes       what the broker cannot do of this scenario and what evtool does instead
    run_id      the id in the run store, when recorded (`evtool show RUN_ID`)
    report      the whole report as `evtool run --json` prints it
    """

    scenario: Scenario
    outcome: str
    checks: tuple[Check, ...]
    summary: dict[str, Any]
    digest: str
    notes: tuple[str, ...]
    seed: int
    transport: str
    profile: str
    events_count: int
    virtual_seconds: float
    run_id: str | None
    db_path: Path | None
    report: dict[str, Any] = field(repr=False)
    _trace: list[TraceEvent] | None = field(default=None, repr=False)
    _record_mode: str = field(default="full", repr=False)

    @property
    def passed(self) -> bool:
        """Whether every expectation passed (outcome `passed`)."""
        return self.outcome == "passed"

    @property
    def counts(self) -> dict[str, int]:
        """Trace events by kind (`published`, `acked`, `dead_lettered`, ...)."""
        return dict(self.summary.get("counts", {}))

    @property
    def failing(self) -> list[Check]:
        """The checks whose verdict is not pass."""
        return [c for c in self.checks if not c.passed]

    def check(self, name: str) -> Check:
        """The check with this name (KeyError listing the names when there is none)."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"no check named {name!r}; the checks are: {', '.join(c.name for c in self.checks)}")

    def events(self, kinds: Iterable[str] | None = None) -> Iterator[TraceEvent]:
        """The run's trace events in order (optionally only these kinds).

        From memory when the run kept its trace (`keep_trace=True`, the default), else from the run store
        when it was recorded in full; otherwise a RuntimeError says how to get them.
        """
        wanted = set(kinds) if kinds is not None else None
        if self._trace is not None:
            return (e for e in self._trace if wanted is None or e.kind in wanted)
        if self.run_id is not None and self.db_path is not None and self._record_mode == "full":
            return self._stored_events(wanted)
        raise RuntimeError("this run kept no trace: run it with keep_trace=True, or record=True (record_mode full)")

    def _stored_events(self, wanted: set[str] | None) -> Iterator[TraceEvent]:
        from evtool.store import SyncRunStore

        with SyncRunStore(self.db_path) as store:
            yield from store.events(str(self.run_id), kinds=sorted(wanted) if wanted is not None else None)

    def explain(self) -> str:
        """The outcome and every check that did not pass, in the report's words, and how to re-run it."""
        head = (f"scenario {self.scenario.id} {self.outcome} (seed {self.seed}, transport {self.transport}, "
                f"profile {self.profile}, digest {self.digest[:16]})")
        lines = [head]
        if not self.checks:
            lines.append("  no expectations: nothing was checked")
        for c in self.failing:
            lines.extend("  " + line for line in c.describe().splitlines())
        if self.report.get("limit"):
            lines.append(f"  stopped early: {self.report['limit']}")
        if self.report.get("drain") == "timed_out":
            lines.append("  the drain timed out: work was still pending when run.drain.max passed")
        for p in self.report.get("problems") or []:
            lines.append(f"  problem: {p}")
        lines.append(f"re-run: {self.report.get('rerun', '')}")
        return "\n".join(lines)

    def assert_passed(self) -> None:
        """Raise AssertionError with `explain()` unless the outcome is passed."""
        if not self.passed:
            raise AssertionError(self.explain())


def run(scenario: str | Path | Mapping[str, Any] | Scenario, *, seed: int | None = None,
        overrides: Mapping[str, Any] | Iterable[str] | None = None, transport: str = "local",
        url: str | None = None, record: bool = False, db: str | Path | None = None,
        record_mode: Literal["full", "summary"] = "full", duration: str | None = None,
        keep_trace: bool = True, keep: bool = False) -> RunResult:
    """Run a scenario and return its result (never raises because a check failed).

    scenario     anything `load` takes
    seed         overrides run.seed
    overrides    `--set`-style overrides
    transport    `local` (the deterministic core, virtual time, as fast as it goes) or a real broker:
                 rabbitmq, nats, redis, kafka, sqs (real time; `url` or EVTOOL_<BROKER>_URL or the
                 configuration says where)
    record       write the run into the run store (`db`, else the configured or default store)
    record_mode  full (every event) or summary
    duration     overrides run.duration (`30s`, `1m30s`)
    keep_trace   keep the trace events in memory for `RunResult.events()`
    keep         on a real broker: keep what the run declared

    Raises ScenarioInvalid for an invalid scenario or option, TransportMissing when a broker's client
    library is not installed, and the transport's TransportUnavailable when the broker cannot be reached.
    """
    sc = load(scenario, overrides=overrides)
    loaded = sc._loaded
    duration_ns = None
    if duration is not None:
        from evtool.scenario.units import UnitError, parse_duration

        try:
            duration_ns = parse_duration(duration, allow_zero=False)
        except UnitError as exc:
            raise ScenarioInvalid([{"file": "duration", "line": 1, "column": 1, "path": "run.duration",
                                    "severity": "error", "message": str(exc), "hint": exc.hint}]) from None
    if record_mode not in ("full", "summary"):
        raise ValueError(f"record_mode must be 'full' or 'summary', not {record_mode!r}")
    the_seed = loaded.model.run.seed if seed is None else int(seed)
    trace: list[TraceEvent] | None = [] if keep_trace else None
    listeners: list[Any] = []
    if trace is not None:
        listeners.append(trace.extend)
    rec = None
    db_path: Path | None = None
    if record:
        from evtool.config import effective_db_path
        from evtool.store import Recorder

        db_path = effective_db_path(db)
        rec = Recorder(db_path)
        rec.start(_header(loaded, the_seed, transport, record_mode))
        if record_mode == "full":
            listeners.append(rec.record)
    wall0 = time.perf_counter()
    try:
        if transport == "local":
            outcome, notes = _run_local(loaded, the_seed, duration_ns, listeners)
        else:
            outcome, notes = _run_real(loaded, transport, url, keep, the_seed, duration_ns, listeners)
    except BaseException:
        if rec is not None:
            rec.abort("interrupted")
        raise
    run_id = None
    if rec is not None:
        rec.finish(_store_result(outcome))  # returns once the result is committed; the writer compacts on its own
        run_id = rec.run_id
    from evtool.report.summary import run_report

    extra_args: tuple[str, ...] = ("--transport", transport) if transport != "local" else ()
    if duration is not None:
        extra_args = ("--duration", duration, *extra_args)
    report = run_report(
        scenario_id=loaded.model.id, path=loaded.path, title=sc.title,
        profile=outcome.extra.get("profile", loaded.model.broker.profile), transport=transport, seed=the_seed,
        overrides=dict(loaded.overrides), digest=outcome.digest, virtual_ns=outcome.virtual_ns,
        events=outcome.events, outcome=outcome.outcome, drain=outcome.drain, summary=outcome.summary,
        checks=outcome.checks, run_id=run_id, wall_s=time.perf_counter() - wall0, aborted_by=outcome.aborted_by,
        extra_args=extra_args, notes=list(notes), notes_for=_notes_for(loaded, transport),
        problems=outcome.extra.get("problems", []), limit=outcome.limit,
    )
    return RunResult(
        scenario=sc, outcome=outcome.outcome, checks=tuple(Check._from(c) for c in outcome.checks),
        summary=outcome.summary, digest=outcome.digest, notes=tuple(notes), seed=the_seed, transport=transport,
        profile=report["profile"], events_count=outcome.events, virtual_seconds=outcome.virtual_ns / 1e9,
        run_id=run_id, db_path=db_path, report=report, _trace=trace, _record_mode=record_mode,
    )


def _run_local(loaded: LoadedScenario, seed: int, duration_ns: int | None, listeners: list[Any]
               ) -> tuple[Any, list[str]]:
    from evtool.scenario.errors import ScenarioError
    from evtool.sim.engine import Engine, gc_tuned, limits_for

    try:
        engine = Engine(loaded, seed=seed, duration_ns=duration_ns, listeners=listeners, limits=limits_for(loaded))
    except ScenarioError as err:
        raise ScenarioInvalid(_problems(err)) from None
    with gc_tuned():
        engine.start()
        engine.run_until(math.inf)
    _, notes = _broker_notes(loaded)
    return engine.finish(), notes


def _run_real(loaded: LoadedScenario, transport: str, url: str | None, keep: bool, seed: int,
              duration_ns: int | None, listeners: list[Any]) -> tuple[Any, list[str]]:
    from evtool.config import broker_url
    from evtool.scenario.errors import ScenarioError
    from evtool.transports import TRANSPORTS, run_on_transport

    if transport not in TRANSPORTS:
        raise ValueError(f"transport {transport!r} is not one of: local, {', '.join(TRANSPORTS)}")
    require_client(transport)
    try:
        outcome = run_on_transport(loaded, transport, url=url or broker_url(transport), keep=keep, seed=seed,
                                   duration_ns=duration_ns, listeners=listeners)
    except ScenarioError as err:
        raise ScenarioInvalid(_problems(err)) from None
    return outcome, list(outcome.extra.get("warnings", []))


CLIENTS = {"rabbitmq": "aiormq", "nats": "nats", "redis": "redis", "kafka": "aiokafka", "sqs": "aiobotocore"}
"""The client library each real-broker transport imports (all in the `brokers` extra)."""


def require_client(transport: str) -> None:
    """Raise TransportMissing, saying what to install, when `transport`'s client library is absent."""
    import importlib.util

    module = CLIENTS.get(transport)
    if module is not None and importlib.util.find_spec(module) is None:
        raise TransportMissing(f"the {transport} transport needs the {module} package, which is not installed: "
                               "pip install 'evtool[brokers]'")


def _broker_notes(loaded: LoadedScenario) -> tuple[str | None, list[str]]:
    from evtool.core.profiles import get_profile

    try:
        broker = get_profile(loaded.model.broker.profile).broker
    except KeyError:
        return None, []
    from evtool.transports import TRANSPORTS, capabilities

    if broker not in TRANSPORTS:
        return None, []
    return broker, capabilities(loaded, broker)


def _notes_for(loaded: LoadedScenario, transport: str) -> str | None:
    if transport != "local":
        return transport
    return _broker_notes(loaded)[0]


def _header(loaded: LoadedScenario, seed: int, transport: str, record_mode: str) -> Any:
    from evtool import __version__
    from evtool.store import RunHeader, new_run_id, utc_now_iso

    sc = loaded.model
    return RunHeader(
        id=new_run_id(), scenario_id=sc.id, scenario_path=str(loaded.path), scenario_text=loaded.text,
        scenario_hash=loaded.sha256, seed=seed, overrides=dict(loaded.overrides), evtool_version=__version__,
        profile=sc.broker.profile, transport=transport, lesson_title=sc.lesson.title if sc.lesson else None,
        record_mode=record_mode, started_at=utc_now_iso(),
    )


def _store_result(outcome: Any) -> Any:
    from evtool.store import RunResult as StoredResult
    from evtool.store import utc_now_iso

    return StoredResult(
        outcome=outcome.outcome, ended_at=utc_now_iso(), virtual_ns=outcome.virtual_ns, digest=outcome.digest,
        events=outcome.events, messages=outcome.summary.get("published", 0), summary=outcome.summary,
        checks=outcome.checks,
    )
