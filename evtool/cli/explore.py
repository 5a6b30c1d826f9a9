"""`evtool explore SCENARIO`: search runs for one that fails an expectation, shrink it, record it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from evtool.cli.output import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK
from evtool.report.fmt import safe

if TYPE_CHECKING:
    from rich.console import Console

    from evtool.explore.candidate import Runner, Tried
    from evtool.explore.search import Budget, Explorer, Progress
    from evtool.explore.shrink import ShrinkStats
    from evtool.report.phrases import Phrases


def explore(
    scenario: str = typer.Argument(..., help="A scenario file, or a bundled lesson id.", show_default=False),
    check: str | None = typer.Option(None, "--check", help="Search for a run failing this expectation (default: "
                                     "any)."),
    budget: str = typer.Option("30s", "--budget", help="How long to search: wall time (60s, 2m) or a number of "
                               "runs (500 runs); only a budget in runs repeats exactly."),
    seed: int = typer.Option(1, "--seed", help="The search's own seed (which seeds, faults and points it tries)."),
    set_: list[str] = typer.Option([], "--set", help="Override a value: path=value (repeatable)."),
    db: Path | None = typer.Option(None, "--db", help="Run store (default .evtool/runs.db or $EVTOOL_DB)."),
    no_record: bool = typer.Option(False, "--no-record", help="Do not record the counterexample."),
    no_shrink: bool = typer.Option(False, "--no-shrink", help="Report the failing run as found, unshrunk."),
) -> None:
    """Search runs (seeds, placed faults, schedule choices) for one that fails an expectation; shrink and record it.

    The counterexample is shrunk to the fewest faults, messages and earliest instants, and recorded as a
    run that `show`, `inspect`, `replay` and `run --replay-interventions` work on.

    Exit codes: 1 a failing run was found (and recorded), 0 none within the budget (never a proof),
    2 invalid input, 130 interrupted. See docs/explore.md.
    """
    raise typer.Exit(_explore(scenario, check=check, budget=budget, seed=seed, sets=list(set_), db=db,
                                     no_record=no_record, no_shrink=no_shrink))



def _explore(scenario: str, *, check: str | None, budget: str, seed: int, sets: list[str], db: Path | None,
             no_record: bool, no_shrink: bool) -> int:
    import time

    from evtool.cli.output import console, print_scenario_error
    from evtool.cli.run import resolve_scenario_path
    from evtool.explore.candidate import Runner
    from evtool.explore.search import Budget, Explorer
    from evtool.scenario.errors import ScenarioError, did_you_mean
    from evtool.scenario.loader import _parse_sets

    err = console(stderr=True)
    path = resolve_scenario_path(scenario)
    display = str(path) if Path(scenario).exists() else scenario
    try:
        the_budget = Budget.parse(budget)
    except ValueError as exc:
        err.print(f"[red]error[/red] --budget {safe(exc)}")
        return EXIT_INVALID
    try:
        overrides = _parse_sets(sets)
        runner = Runner(path.read_text(encoding="utf-8"), display, overrides)
        loaded = runner.loaded()
    except ScenarioError as exc:
        print_scenario_error(exc)
        return EXIT_INVALID
    names = [e.name for e in loaded.model.expect if e.name]
    if check is not None and check not in names:
        hint = did_you_mean(check, names) or ("expectations: " + ", ".join(names) if names else
                                              "the scenario has no named expectations")
        err.print(f"[red]error[/red] --check {safe(check)}: no expectation of that name in {safe(display)}\n"
                  f"  [cyan]hint:[/cyan] {safe(hint)}")
        return EXIT_INVALID
    if not loaded.model.expect:
        err.print(f"[red]error[/red] {safe(display)} has no expectations: nothing can fail\n"
                  "  [cyan]hint:[/cyan] add an `expect:` block (docs/scenario-language.md)")
        return EXIT_INVALID

    live = err.is_terminal
    progress = None
    task = None
    if live:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(TextColumn("[bold]exploring[/bold]"), BarColumn(), TextColumn("{task.description}"),
                            TimeElapsedColumn(), console=err, transient=True)
        total = the_budget.runs if the_budget.runs is not None else the_budget.seconds
        task = progress.add_task("", total=total)

    def on_progress(p: Progress) -> None:
        if progress is None or task is None:
            return
        done = p.runs if the_budget.runs is not None else p.wall_s
        progress.update(task, completed=done, description=f"{p.runs} runs, {p.seeds} seeds, {p.digests} distinct")

    explorer = Explorer(runner, check=check, seed=seed, budget=the_budget, on_progress=on_progress)
    t0 = time.monotonic()
    found = None
    interrupted = False
    try:
        if progress is not None:
            progress.start()
        found = explorer.search()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if progress is not None:
            progress.stop()
    out = console()
    _print_search(out, explorer, the_budget, time.monotonic() - t0)
    if interrupted:
        out.print("interrupted: no failing run found so far")
        return EXIT_INTERRUPTED
    if found is None:
        none_found_report(the_budget).print(out)
        return EXIT_OK
    target = check or found.failed[0]
    shrink_stats = None
    if not no_shrink:
        from evtool.explore.shrink import Shrinker

        # a budget in runs shrinks within a fixed number of runs (deterministic); a time budget gets as long again
        deadline = None if the_budget.runs is not None else time.monotonic() + max(the_budget.seconds or 0, 10)
        shrinker = Shrinker(runner, found, target, max_runs=400, deadline=deadline)
        try:
            if live:
                with err.status("shrinking the failing run ..."):
                    found = shrinker.shrink()
            else:
                found = shrinker.shrink()
        except KeyboardInterrupt:
            found = shrinker.best
            interrupted = True
        shrink_stats = shrinker.stats
    run_id = None if no_record else _record(runner, found, db, err)
    _print_counterexample(out, found, target, shrink_stats, run_id, display)
    return EXIT_INTERRUPTED if interrupted else EXIT_FAILED


def _record(runner: Runner, found: Tried, db: Path | None, err: Console) -> str | None:
    """Run the counterexample again with the recorder: an ordinary run with its interventions."""
    from evtool.cli.session import RunSession
    from evtool.sim.engine import Engine

    cand = found.candidate
    loaded = runner.loaded(cand.overrides)
    session = RunSession(loaded, seed=cand.seed, db=db).start()
    engine = Engine(loaded, seed=cand.seed, listeners=session.listeners)
    engine.schedule_interventions(list(cand.interventions))
    outcome = engine.run()
    run_id = session.finish(outcome)
    if outcome.digest != found.outcome.digest:
        err.print("[yellow]warning[/yellow] the recorded run's digest differs from the explored one")
    return run_id


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def search_report(explorer: Explorer, budget: Budget, wall: float) -> list[Phrases]:
    """How far the search got, as phrases laid out for the width (never split mid-phrase)."""
    from evtool.report.phrases import Phrases

    p = explorer.progress
    kinds = [f"{k} {n}" for k, n in sorted(p.kinds_tried.items())] or ["none"]
    capped = f" (the first 4000 of each of {_plural(p.truncated_runs, 'run')} with more)" if p.truncated_runs else ""
    return [
        Phrases(f"searched {_plural(p.runs, 'run')} in {wall:.1f}s ({budget.describe()} budget):",
                [_plural(p.seeds, "seed"), f"{_plural(p.faulty_runs, 'run')} with faults",
                 f"{p.digests} distinct schedules (digests)"]),
        Phrases("  fault points:", [f"{p.points_seen} seen{capped}", f"{len(p.points_tried)} tried"]),
        Phrases("  faults placed:", kinds),
        Phrases("  schedule choices:", [f"{_plural(p.ties_seen, 'instant')} where events of different actors fell "
                                        "due together", f"their order varied in {_plural(p.schedules_varied, 'run')}"],
                sep="; "),
        Phrases(f"  broker choices ({', '.join(p.broker_choices)}):",
                [f"{p.choice_points} choice points met",
                 f"{p.choices_varied} decided otherwise than the plain broker",
                 f"{_plural(p.choice_runs, 'fault-free run')}"], sep="; ")
        if p.broker_choices else
        Phrases("  broker choices:", ["none", "(the profile's documented dispatch leaves nothing to choose)"], sep=" "),
    ]


def _print_search(out: Console, explorer: Explorer, budget: Budget, wall: float) -> None:
    for line in search_report(explorer, budget, wall):
        line.print(out)


def none_found_report(budget: Budget) -> Phrases:
    """The sentence for a search that found nothing: evidence, never a proof."""
    from rich.text import Text

    from evtool.report.phrases import Phrases

    return Phrases(Text("no failing run found within the budget", style="green"),
                   [f"({budget.describe()}).", "This is not a proof:", "the search tried some seeds,",
                    "faults and points,", "not all of them", "(docs/explore.md)."], sep=" ")


def counterexample_report(found: Tried, check: str, stats: ShrinkStats | None, run_id: str | None,
                          display: str) -> list[Phrases]:
    """The shrunk counterexample, as phrases laid out for the width; commands to copy stay whole."""
    from rich.text import Text

    from evtool.report.fmt import visible
    from evtool.report.phrases import Phrases

    cand = found.candidate
    res = next((c for c in found.outcome.checks if c["name"] == check), {})
    head = Text("found a failing run", style="red bold")
    head.append(": ")
    parts = [Phrases(head, [Text.assemble("expectation ", (visible(check), "bold"), " fails")])]
    if res.get("observed"):
        parts.append(Phrases("  observed:", [visible(res["observed"])]))
    if stats is not None:
        parts.append(Phrases(f"shrunk in {_plural(stats.runs, 'run')}:",
                             [f"{stats.faults_before} → {len(cand.interventions)} faults",
                              f"{stats.messages_before} → {stats.messages_after} messages"]))
    seed_note: list[str] = []
    if stats is not None and stats.seed_before is not None and stats.seed_before != cand.seed:
        seed_note = [f"(the search found seed {stats.seed_before};", "a smaller run of this seed fails the same way)"]
    parts.append(Phrases(f"  seed {cand.seed}", seed_note, sep=" "))
    parts.extend(Phrases(f"  set {visible(k)}={visible(v)}", []) for k, v in cand.overrides)
    if not cand.interventions:
        parts.append(Phrases("  interventions:", ["none", "(the seed and the settings above fail by themselves)"],
                             sep=" "))
    else:
        parts.append(Phrases("  interventions:", []))
        parts.extend(Phrases(f"    {lead}", rest, indent=6) for lead, *rest in map(_intervention_parts, cand.interventions))
    parts.append(Phrases(f"  digest {found.outcome.digest[:16]}", []))
    if run_id:
        parts.append(Phrases(Text.assemble("recorded as run ", (run_id, "bold"), ":"), []))
        # whole commands, never split: they are meant to be copied
        parts.append(Phrases("  show it:     ", [f"evtool show {run_id}"], wrap_long=False))
        parts.append(Phrases("  replay it:   ", [f"evtool replay {run_id}", "(the dashboard, with the scrubber)"],
                             sep="   ", wrap_long=False))
        parts.append(Phrases("  run it again:", [f"evtool run {visible(display)} --replay-interventions {run_id}"],
                             wrap_long=False))
    return parts


def _intervention_parts(iv: tuple) -> list[str]:
    """One intervention as phrases: `at 1.234567s: pause consumer:billing#1`, then `for 1s`, ..."""
    from evtool.sim.faults import fault_words

    t, _kind, spec = iv
    first, *rest = fault_words(spec)
    return [f"at {t / 1e9:.6f}s: {first}", *rest]


def _print_counterexample(out: Console, found: Tried, check: str, stats: ShrinkStats | None, run_id: str | None,
                          display: str) -> None:
    for line in counterexample_report(found, check, stats, run_id, display):
        line.print(out)
