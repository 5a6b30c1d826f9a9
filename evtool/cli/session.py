"""A run's session on the command line: its options, the seed it runs with, its recorder and listeners.

The three ways of running a scenario (`evtool run` headless, on a real broker, and in the dashboard,
also `evtool tui`) each resolve the seed, open a recorder, hand its listener to the engine and close
the recording with the run's outcome. `RunSession` does that once for all of them; the run modes
(`runner.py`, `compare.py`, `tui.py`) import it, and it imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evtool.cli.output import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_UNKNOWN, console
from evtool.report.fmt import safe

if TYPE_CHECKING:
    from evtool.scenario.loader import LoadedScenario

OUTCOME_EXIT = {"passed": EXIT_OK, "failed": EXIT_FAILED, "unknown": EXIT_UNKNOWN, "interrupted": EXIT_INTERRUPTED,
                "crashed": EXIT_FAILED}
"""The exit code of each run outcome."""


def exit_code(outcome: Any) -> int:
    """The exit code for a run's outcome (`RunOutcome` or its `outcome` string)."""
    name = outcome if isinstance(outcome, str) else outcome.outcome
    return OUTCOME_EXIT.get(name, EXIT_FAILED)


@dataclass
class RunOptions:
    """Every option of `evtool run`."""

    path: Path
    display: str = ""
    seed: int | None = None
    sets: list[str] = field(default_factory=list)
    speed: str | None = None
    realtime: bool = False
    duration: str | None = None
    json_out: bool = False
    quiet: bool = False
    tui: bool = False
    db: Path | None = None
    no_record: bool = False
    record: str = "full"
    transport: str = "local"
    url: str | None = None
    keep: bool = False
    compare: str | None = None
    local_profile: str | None = None
    max_events: int | None = None
    max_messages: int | None = None
    max_wall: str | None = None
    max_memory: str | None = None
    answers: bool = False
    junit: Path | None = None
    replay_interventions: str | None = None
    """`--replay-interventions RUN`: the recorded run whose seed, overrides and interventions this run repeats."""
    interventions: list[Any] = field(default_factory=list)
    """Interventions `(t, "fault", spec)` scheduled before the run starts (evtool.explore.replay)."""


def run_limits(loaded: LoadedScenario, opts: RunOptions, duration_ns: int | None, speed: float) -> Any:
    """The run's budget: `run.budget` and the --max-* flags; without a wall-time budget from either, a
    default one (`DEFAULT_MAX_WALL_S`, plus the paced time when `speed` is finite), so that no file runs
    unbounded from `evtool run`. Flags are checked by `runner.execute` before."""
    import math

    from evtool.scenario.models.run import DEFAULT_MAX_WALL_S
    from evtool.scenario.units import parse_duration, parse_size
    from evtool.sim.engine import limits_for

    sc = loaded.model.run
    if opts.max_wall:
        wall_s: float | None = parse_duration(opts.max_wall) / 1e9
    elif sc.budget.wall:
        wall_s = None  # the scenario's own
    else:
        span_s = ((duration_ns if duration_ns is not None else sc.duration) + sc.drain.max) / 1e9
        wall_s = DEFAULT_MAX_WALL_S + (0.0 if math.isinf(speed) else span_s / speed)
    return limits_for(loaded, events=opts.max_events, messages=opts.max_messages, wall_s=wall_s,
                      memory=parse_size(opts.max_memory) if opts.max_memory else None)


def run_header(loaded: LoadedScenario, seed: int, transport: str, record_mode: str) -> Any:
    """The run store's header for a run about to start."""
    from evtool import __version__
    from evtool.store import RunHeader, new_run_id, utc_now_iso

    sc = loaded.model
    return RunHeader(
        id=new_run_id(), scenario_id=sc.id, scenario_path=str(loaded.path), scenario_text=loaded.text,
        scenario_hash=loaded.sha256, seed=seed, overrides=dict(loaded.overrides), evtool_version=__version__,
        profile=sc.broker.profile, transport=transport, lesson_title=sc.lesson.title if sc.lesson else None,
        record_mode=record_mode, started_at=utc_now_iso(),
    )


def run_result(outcome: Any, events_recorded: int = 0) -> Any:
    """The run store's result row for a finished run."""
    from evtool.store import RunResult, utc_now_iso

    summary = outcome.summary
    stopped = {k: v for k, v in (("limit", getattr(outcome, "limit", None)),
                                 ("aborted_by", getattr(outcome, "aborted_by", None))) if v}
    if stopped:  # why the run stopped early, for `evtool show` to say it again
        summary = {**summary, "stopped_early": stopped}
    return RunResult(
        outcome=outcome.outcome, ended_at=utc_now_iso(), virtual_ns=outcome.virtual_ns, digest=outcome.digest,
        events=outcome.events, messages=outcome.summary.get("published", 0), summary=summary,
        checks=outcome.checks,
    )


class RunSession:
    """One run's seed, recorder and listeners, from start to the recorded outcome.

    `record` is `full` (every event goes to the run store) or `summary` (only the header and the
    result); `no_record` records nothing. A store that cannot be opened is a warning, never the end
    of the run: the run goes on unrecorded.
    """

    def __init__(self, loaded: LoadedScenario, *, seed: int | None = None, transport: str = "local",
                 record: str = "full", db: Path | None = None, no_record: bool = False) -> None:
        from evtool.sim.rng import run_seed

        self.loaded = loaded
        self.seed = run_seed(loaded.model, seed)
        self.transport = transport
        self.record_mode = record
        self.db = db
        self.no_record = no_record
        self.recorder: Any = None
        self.listeners: list[Any] = []
        """What the engine calls with each batch of trace events (the recorder's, when recording in full)."""

    @classmethod
    def from_options(cls, loaded: LoadedScenario, opts: RunOptions, transport: str | None = None) -> RunSession:
        """A session for `evtool run`'s options."""
        return cls(loaded, seed=opts.seed, transport=transport or opts.transport, record=opts.record, db=opts.db,
                   no_record=opts.no_record)

    def start(self) -> RunSession:
        """Open the recorder and write the run's header (a warning, and no recording, if the store fails)."""
        if self.no_record:
            return self
        from evtool.store import Recorder, resolve_db_path
        from evtool.store.errors import StoreError

        try:
            rec = Recorder(resolve_db_path(self.db))
            rec.start(run_header(self.loaded, self.seed, self.transport, self.record_mode))
        except (StoreError, OSError) as exc:
            console(stderr=True).print(f"[yellow]warning[/yellow] not recording: {safe(exc)}")
            return self
        self.recorder = rec
        if self.record_mode == "full":
            self.listeners = [rec.record]
        return self

    @property
    def run_id(self) -> str | None:
        """The recorded run's id (None when not recording)."""
        return getattr(self.recorder, "run_id", None)

    def finish(self, outcome: Any, *, interrupted: bool = False) -> str | None:
        """Record the run's end: its result, or `interrupted` (with the result so far, when there is one).

        A failure to record is a warning: it never hides the run's own result. Returns the run id.
        """
        rec = self.recorder
        if rec is None:
            return None
        try:
            if outcome is None:
                rec.abort("interrupted")
            elif interrupted:
                rec.abort("interrupted", run_result(outcome))
            else:
                rec.finish(run_result(outcome))
        except Exception as exc:  # noqa: BLE001 - recording must never hide the run's result
            console(stderr=True).print(f"[yellow]warning[/yellow] the run was not fully recorded: {safe(exc)}")
        return self.run_id

    def abort(self, reason: str) -> None:
        """Record that the run ended without a result (`interrupted`, `crashed`)."""
        if self.recorder is not None:
            self.recorder.abort(reason)
