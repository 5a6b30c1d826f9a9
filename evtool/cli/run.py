"""`evtool run SCENARIO`: run a scenario headless with a live view, then the summary and the checks."""

from __future__ import annotations

from pathlib import Path

import typer

from evtool.cli.output import EXIT_INVALID
from evtool.core.targets import targets_text
from evtool.report.fmt import safe

DEFAULT_LESSON = "retries-dlq-poison"


def resolve_scenario_path(scenario: str | None, *, json_out: bool = False) -> Path:
    """A file path, or the id of a bundled lesson; the default lesson when None."""
    from evtool.cli.output import console

    if scenario is None:
        scenario = DEFAULT_LESSON
    p = Path(scenario)
    if p.exists():
        return p
    from evtool.scenario.lessons import lesson_dir

    lessons = lesson_dir()
    candidate = lessons / f"{scenario}.yaml"
    if candidate.exists():
        return candidate
    from evtool.scenario.errors import did_you_mean

    names = [f.stem for f in lessons.glob("*.yaml")]
    hint = did_you_mean(scenario, names) or "run `evtool lessons` to list the bundled lessons"
    if json_out:
        from evtool.cli.output import print_json_error

        print_json_error(scenario, "no such file or bundled lesson", hint)
        raise typer.Exit(EXIT_INVALID)
    console(stderr=True).print(f"[red]error[/red] {safe(scenario)}: no such file or bundled lesson\n  [cyan]hint:[/cyan] {safe(hint)}")
    raise typer.Exit(EXIT_INVALID)


def run(
    scenario: str | None = typer.Argument(None, help="A scenario file, or a bundled lesson id (default: "
                                                     f"{DEFAULT_LESSON}).", show_default=False),
    seed: int | None = typer.Option(None, "--seed", help="Override run.seed.", rich_help_panel="Simulation"),
    set_: list[str] = typer.Option([], "--set", help="Override a value: path=value (repeatable).",
                                   rich_help_panel="Simulation"),
    speed: str | None = typer.Option(None, "--speed", help="Virtual seconds per wall second (e.g. 2, 0.5), or max.",
                                     rich_help_panel="Simulation"),
    realtime: bool = typer.Option(False, "--realtime", help="Pace at 1x: virtual time follows the wall clock.",
                                  rich_help_panel="Simulation"),
    duration: str | None = typer.Option(None, "--duration", help="Override run.duration (e.g. 30s).",
                                        rich_help_panel="Simulation"),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON result for machines.",
                                  rich_help_panel="Output"),
    junit: Path | None = typer.Option(None, "--junit", help="Also write JUnit XML here: one test case per check.",
                                      rich_help_panel="Output"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No live view; only the final summary.",
                               rich_help_panel="Output"),
    tui: bool = typer.Option(False, "--tui", help="Open the dashboard instead.", rich_help_panel="Output"),
    answers: bool = typer.Option(False, "--answers", help="With a lesson: print the answers to its questions.",
                                 rich_help_panel="Output"),
    db: Path | None = typer.Option(None, "--db", help="Run store (default .evtool/runs.db or $EVTOOL_DB).",
                                   rich_help_panel="Recording"),
    no_record: bool = typer.Option(False, "--no-record", help="Do not record the run.", rich_help_panel="Recording"),
    record: str = typer.Option("full", "--record", help="full (every event) or summary.",
                               rich_help_panel="Recording"),
    transport: str = typer.Option("local", "--transport", help=f"{targets_text()}.",
                                  rich_help_panel="Brokers"),
    url: str | None = typer.Option(None, "--url", help="Broker URL (or EVTOOL_RABBITMQ_URL / _NATS_URL / "
                                                       "_REDIS_URL / _KAFKA_URL / _SQS_URL).", rich_help_panel="Brokers"),
    keep: bool = typer.Option(False, "--keep", help="Keep what the run declared on the broker.",
                              rich_help_panel="Brokers"),
    compare: str | None = typer.Option(None, "--compare", help="Run on several transports and compare, e.g. "
                                                               "local,rabbitmq.", rich_help_panel="Brokers"),
    local_profile: str | None = typer.Option(None, "--local-profile", help="With --compare: the profile of the "
                                             "local run (default: the profile of each broker compared; "
                                             "`scenario` = the scenario's own).", rich_help_panel="Brokers"),
    max_events: int | None = typer.Option(None, "--max-events", min=1, help="Stop (unknown) after this many kernel "
                                          "events; overrides run.budget.events.", rich_help_panel="Budget"),
    max_messages: int | None = typer.Option(None, "--max-messages", min=1, help="Stop (unknown) after this many "
                                            "published messages; overrides run.budget.messages.",
                                            rich_help_panel="Budget"),
    max_wall: str | None = typer.Option(None, "--max-wall", help="Stop (unknown) after this much wall time (e.g. "
                                        "30s); overrides run.budget.wall (default 1m, plus the paced time).",
                                        rich_help_panel="Budget"),
    max_memory: str | None = typer.Option(None, "--max-memory", help="Stop (unknown) when resident memory grows "
                                          "by more than this (e.g. 2GB); overrides run.budget.memory.",
                                          rich_help_panel="Budget"),
    variations: bool = typer.Option(False, "--variations", help="Run the lesson and each of its try_next "
                                    "variations; print checks × variations.", rich_help_panel="Compare"),
    profiles: str | None = typer.Option(None, "--profiles", help="Run under each broker profile (e.g. "
                                        "rabbitmq-quorum,kafka,sqs-fifo); print checks × profiles.",
                                        rich_help_panel="Compare"),
    replay_interventions: str | None = typer.Option(None, "--replay-interventions", help="Repeat a recorded run: "
                                                    "its seed, --set overrides and interventions (faults injected "
                                                    "by hand or placed by `evtool explore`).",
                                                    rich_help_panel="Simulation"),
) -> None:
    """Run a scenario: a live view, then the summary, the checks and how to re-run it.

    Exit codes: 0 every expectation passed, 1 one failed, 2 invalid input, 3 undecided (no data, drain timed out),
    130 interrupted.
    """
    from evtool.cli.runner import RunOptions, execute

    path = resolve_scenario_path(scenario, json_out=json_out)
    if variations or profiles is not None:
        from evtool.cli.matrix import run_matrix_command

        raise typer.Exit(run_matrix_command(path, variations=variations, profiles=profiles, sets=list(set_),
                                            seed=seed, json_out=json_out))
    display = str(path) if Path(scenario or "").exists() else (scenario or DEFAULT_LESSON)
    interventions: list = []
    if replay_interventions is not None:
        from evtool.cli.replay_interventions import replay_settings

        seed, set_, interventions, replay_interventions = replay_settings(replay_interventions, db, seed, list(set_))
    opts = RunOptions(path=path, display=display, seed=seed, sets=list(set_), speed=speed, realtime=realtime, duration=duration,
                      json_out=json_out, quiet=quiet, tui=tui, db=db, no_record=no_record, record=record,
                      transport=transport, url=url, keep=keep, compare=compare, local_profile=local_profile,
                      max_events=max_events, max_messages=max_messages, max_wall=max_wall, max_memory=max_memory,
                      answers=answers, junit=junit, replay_interventions=replay_interventions,
                      interventions=interventions)
    raise typer.Exit(execute(opts))
