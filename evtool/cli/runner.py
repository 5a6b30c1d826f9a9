"""What `evtool run` does, apart from parsing its options (kept out of run.py so --help stays light)."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from evtool.cli.output import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    console,
    json_error,
    print_option_error,
    print_scenario_error,
)
from evtool.cli.session import RunOptions, RunSession, exit_code, run_limits
from evtool.report.fmt import safe
from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import LoadedScenario, load_scenario
from evtool.scenario.units import UnitError, parse_duration, parse_size


def _fail(opts: RunOptions, message: str, hint: str | None = None, option: str = "evtool run") -> int:
    """An invalid option or a run that cannot start: a line on stderr, or the JSON error object under --json."""
    return print_option_error(opts.json_out, option, message, hint)


def _speed(opts: RunOptions, loaded: LoadedScenario) -> float | str:
    if opts.realtime:
        return 1.0
    if opts.speed is None:
        sc = loaded.model.run
        if sc.clock == "realtime":
            return 1.0 if sc.speed == "max" else float(sc.speed)
        return math.inf if sc.speed == "max" else float(sc.speed)
    if opts.speed == "max":
        return math.inf
    try:
        v = float(opts.speed)
    except ValueError:
        return f"--speed {opts.speed!r} is not a number"
    if not 0.01 <= v <= 10_000:
        return "--speed must be between 0.01 and 10000 (or max)"
    return v


def _check_options(opts: RunOptions) -> int | None:
    """The option values, checked before the scenario is read: EXIT_INVALID (said) or None."""
    if opts.duration is not None:
        try:
            parse_duration(opts.duration, allow_zero=False)
        except UnitError as exc:
            return _fail(opts, f"--duration: {exc}", exc.hint, "--duration")
    if opts.max_wall is not None:
        try:
            parse_duration(opts.max_wall, allow_zero=False)
        except UnitError as exc:
            return _fail(opts, f"--max-wall: {exc}", exc.hint, "--max-wall")
    if opts.max_memory is not None:
        try:
            if parse_size(opts.max_memory) < 1:
                return _fail(opts, f"--max-memory {opts.max_memory!r}: a budget is above zero", "e.g. --max-memory 2GB",
                             "--max-memory")
        except UnitError as exc:
            return _fail(opts, f"--max-memory: {exc}", exc.hint, "--max-memory")
    if opts.record not in ("full", "summary"):
        return _fail(opts, f"--record {opts.record!r}: expected full or summary", "e.g. --record summary",
                     "--record")
    if opts.speed not in (None, "max"):
        try:
            float(opts.speed)
        except ValueError:
            return _fail(opts, f"--speed {opts.speed!r} is not a number", "e.g. --speed 2, --speed 0.5 or --speed max",
                         "--speed")
    return None


def execute(opts: RunOptions) -> int:
    """Run, print, record; return the exit code."""
    bad = _check_options(opts)
    if bad is not None:
        return bad
    try:
        if opts.display and opts.display != str(opts.path) and not Path(opts.display).exists():
            # a bundled lesson: its problems name the lesson (`retries-dlq-poison:118:21`), not site-packages
            from evtool.scenario.loader import load_text
            from evtool.scenario.yamlsource import read_text

            loaded = load_text(read_text(opts.path), opts.display, opts.sets)
        else:
            loaded = load_scenario(opts.path, opts.sets)
    except ScenarioError as err:
        _write_junit(opts, {"scenario": opts.display or str(opts.path), "outcome": "invalid", "checks": [],
                            "problems": [p.format() for p in err.problems if p.severity == "error"]})
        if opts.json_out:
            from evtool.report.jsondoc import dumps, problems_doc

            doc = problems_doc([p.as_dict() for p in err.problems])
            doc["error"] = json_error(err.problems)["error"]  # the first error whole: file, line, column, message, hint
            print(dumps(doc))
        else:
            print_scenario_error(err)
        return EXIT_INVALID
    duration_ns = parse_duration(opts.duration, allow_zero=False) if opts.duration is not None else None
    speed = _speed(opts, loaded)
    if isinstance(speed, str):
        return _fail(opts, speed, "e.g. --speed 2, --speed 0.5 or --speed max", "--speed")
    if opts.compare:
        from evtool.cli.compare import run_compare

        return run_compare(loaded, opts, duration_ns)
    if opts.tui:
        from evtool.tui import run_dashboard

        session = RunSession.from_options(loaded, opts, "local").start()
        try:
            outcome = run_dashboard(loaded, seed=session.seed, speed=1.0 if math.isinf(speed) else speed,
                                    listeners=session.listeners)
        except KeyboardInterrupt:
            session.abort("interrupted")
            return EXIT_INTERRUPTED
        session.finish(outcome)
        if outcome is None:
            return EXIT_INTERRUPTED
        return exit_code(outcome)
    if opts.transport != "local":
        return _run_transport(loaded, opts, duration_ns)
    from evtool.store.signals import sigterm_as_interrupt

    with sigterm_as_interrupt():    # SIGTERM ends the run like Ctrl-C, recorded or not
        return _run_local(loaded, opts, duration_ns, speed)


def _run_local(loaded: LoadedScenario, opts: RunOptions, duration_ns: int | None, speed: float) -> int:
    from evtool.report.summary import render_report, run_report
    from evtool.sim.engine import Engine
    from evtool.sim.pacing import Pacer

    session = RunSession.from_options(loaded, opts, "local").start()
    seed = session.seed
    from evtool.report.narration import RunHooks  # the lesson's narration and numbers (report/narration.py)

    quiet_narration = opts.quiet or opts.json_out
    hooks = RunHooks(loaded.model, answers=opts.answers, warnings=loaded.warnings,
                     emit=None if quiet_narration else (lambda r: out.print(r, crop=False)))  # above the live view
    session.listeners.extend(hooks.listeners)
    try:
        limits = run_limits(loaded, opts, duration_ns, speed)
        engine = Engine(loaded, seed=seed, duration_ns=duration_ns, listeners=session.listeners, limits=limits)
        if opts.interventions:  # --replay-interventions: a recorded run's faults, first at their instants
            engine.schedule_interventions(opts.interventions)
    except ScenarioError as err:
        session.abort("crashed")
        print_scenario_error(err)
        return EXIT_INVALID
    pacer = Pacer(engine, speed=speed)
    out = console()
    live_enabled = not (opts.quiet or opts.json_out) and out.is_terminal and os.environ.get("CI") != "true"
    wall0 = time.perf_counter()
    interrupted = False
    try:
        engine.start()
        pacer.start(wall0)
        if live_enabled:
            from rich.live import Live

            from evtool.report.live import live_view

            with Live(live_view(engine, speed=speed, wall_s=0), console=out, refresh_per_second=8,
                      transient=False) as live:
                while pacer.advance(time.perf_counter(), max_events=50_000):
                    live.update(live_view(engine, speed=speed, wall_s=time.perf_counter() - wall0))
                    if not math.isinf(speed):
                        time.sleep(0.02)
                live.update(live_view(engine, speed=speed, wall_s=time.perf_counter() - wall0))
        else:
            while pacer.advance(time.perf_counter(), max_events=200_000):
                if not math.isinf(speed):
                    time.sleep(0.01)
    except KeyboardInterrupt:
        interrupted = True
        engine.stop("interrupted")
    outcome = engine.finish()
    hooks.finish(outcome, engine.now)
    wall = time.perf_counter() - wall0
    run_id = session.finish(outcome, interrupted=interrupted)
    notes_for, notes = _broker_notes(loaded)
    report = run_report(
        scenario_id=loaded.model.id, path=opts.display or str(opts.path), title=loaded.model.lesson.title if loaded.model.lesson
        else None, profile=loaded.model.broker.profile, transport="local", seed=seed,
        overrides=dict(loaded.overrides), digest=outcome.digest, virtual_ns=outcome.virtual_ns,
        events=outcome.events, outcome=outcome.outcome, drain=outcome.drain, summary=outcome.summary,
        checks=outcome.checks, run_id=run_id, wall_s=wall, aborted_by=outcome.aborted_by,
        extra_args=_extra_args(opts), notes=notes, notes_for=notes_for, limit=outcome.limit,
    )
    hooks.add_to(report)
    _write_junit(opts, report)
    if opts.json_out:
        from evtool.report.jsondoc import dumps, report_doc

        print(dumps(report_doc(report)))
    else:
        if loaded.warnings:  # located, with the source line, as `evtool validate` prints them
            print_scenario_error(ScenarioError(loaded.warnings, loaded.text))
        out.print(render_report(report), crop=False)  # a re-run line is copied whole
    if interrupted:
        return EXIT_INTERRUPTED
    return exit_code(outcome)


def _broker_notes(loaded: LoadedScenario) -> tuple[str | None, list[str]]:
    """For a local run under a real broker's profile: that broker, and the notes a real run on it would
    print (what it cannot do of this scenario); (None, []) for other profiles."""
    from evtool.core.profiles import get_profile
    from evtool.core.targets import REAL_BROKERS

    try:
        broker = get_profile(loaded.model.broker.profile).broker
    except KeyError:
        return None, []
    if broker not in REAL_BROKERS:
        return None, []  # before importing the transports (asyncio and all): a local profile has no notes
    try:
        from evtool.transports import capabilities
    except ImportError:
        return None, []
    return broker, capabilities(loaded, broker)


def _run_transport(loaded: LoadedScenario, opts: RunOptions, duration_ns: int | None) -> int:
    try:
        from evtool.transports import run_on_transport
    except ImportError:
        return _fail(opts, f"--transport {opts.transport}: transports are not available in this build",
                     option="--transport")
    from evtool.core.targets import REAL_BROKERS, TARGETS
    from evtool.report.summary import render_report, run_report
    from evtool.transports import capabilities

    if opts.transport not in REAL_BROKERS:
        from evtool.scenario.errors import did_you_mean

        return _fail(opts, f"--transport {opts.transport!r} is not a transport",
                     did_you_mean(opts.transport, TARGETS) or f"one of: {', '.join(TARGETS)}", "--transport")
    from evtool.api import TransportMissing, require_client

    try:
        require_client(opts.transport)  # without the brokers extra: say what to install, not "No module named"
    except TransportMissing as exc:
        return _fail(opts, str(exc), option="--transport")
    notes = capabilities(loaded, opts.transport)
    if not opts.json_out:
        # said before the run starts: the report repeats them at the end
        for warning in notes:
            console(stderr=True).print(f"[yellow]note[/yellow] {safe(warning)}")
    session = RunSession.from_options(loaded, opts).start()
    seed = session.seed
    wall0 = time.perf_counter()
    try:
        outcome = run_on_transport(loaded, opts.transport, url=opts.url, keep=opts.keep, seed=seed,
                                   duration_ns=duration_ns, listeners=session.listeners,
                                   limits=run_limits(loaded, opts, duration_ns, 1.0))  # a real broker: real time
    except KeyboardInterrupt:
        session.abort("interrupted")
        return EXIT_INTERRUPTED
    except ScenarioError as err:
        # the scenario is not valid under the broker's profile (e.g. start_from earliest on a RabbitMQ topic)
        session.abort("crashed")
        print_scenario_error(err)
        return EXIT_INVALID
    except Exception as exc:
        session.abort("crashed")
        msg = str(exc)
        return _fail(opts, f"the {opts.transport} run failed: {msg}", "see docs/transports.md", "--transport")
    from evtool.report.fmt import preset_summary

    if preset_summary(loaded.model):  # a framework's retry preset: the report speaks its words, as on the core
        outcome.summary["retry_presets"] = preset_summary(loaded.model)
    run_id = session.finish(outcome)
    report = run_report(
        scenario_id=loaded.model.id, path=opts.display or str(opts.path), title=loaded.model.lesson.title if loaded.model.lesson
        else None, profile=outcome.extra.get("profile", loaded.model.broker.profile), transport=opts.transport,
        seed=seed, overrides=dict(loaded.overrides), digest=outcome.digest, virtual_ns=outcome.virtual_ns,
        events=outcome.events, outcome=outcome.outcome, drain=outcome.drain, summary=outcome.summary,
        checks=outcome.checks, run_id=run_id, wall_s=time.perf_counter() - wall0,
        extra_args=_extra_args(opts), notes=outcome.extra.get("warnings", notes), notes_for=opts.transport,
        problems=outcome.extra.get("problems", []), limit=outcome.limit,
    )
    _write_junit(opts, report)
    if opts.json_out:
        from evtool.report.jsondoc import dumps, report_doc

        print(dumps(report_doc(report)))
    else:
        console().print(render_report(report), crop=False)  # a re-run line is copied whole
    return exit_code(outcome)


def _write_junit(opts: RunOptions, report: dict[str, Any]) -> None:
    """`--junit FILE`: the checks as JUnit XML (evtool.report.junit); a write failure is a warning."""
    if opts.junit is None:
        return
    from evtool.report.junit import write_junit

    try:
        write_junit(opts.junit, report)
    except OSError as exc:
        console(stderr=True).print(f"[yellow]warning[/yellow] --junit {safe(opts.junit)}: {safe(exc.strerror or exc)}")


def _extra_args(opts: RunOptions) -> tuple[str, ...]:
    """The options besides seed and --set that change what a run does (for the re-run line)."""
    out: list[str] = []
    if opts.duration:
        out += ["--duration", opts.duration]
    if opts.transport != "local":
        out += ["--transport", opts.transport]
    if opts.max_events:
        out += ["--max-events", str(opts.max_events)]
    if opts.max_messages:
        out += ["--max-messages", str(opts.max_messages)]
    if opts.max_wall:
        out += ["--max-wall", opts.max_wall]
    if opts.max_memory:
        out += ["--max-memory", opts.max_memory]
    if opts.replay_interventions:
        out += ["--replay-interventions", opts.replay_interventions]
    return tuple(out)
