"""`evtool run SCENARIO --compare local,rabbitmq`: one scenario on several transports, side by side.

The local side runs under the profile of the broker it is compared with (`rabbitmq-quorum` against
RabbitMQ, unless the scenario already names a RabbitMQ profile), so that the columns model the same broker;
with several brokers there is one local column per profile. `--local-profile NAME` (or `scenario`) says
otherwise. Every column says which profile it ran under, and the notes and problems of each run follow
the table (or are in `--json`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evtool.cli.output import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_UNKNOWN,
    console,
    print_option_error,
    print_scenario_error,
)
from evtool.core.targets import REAL_BROKERS, TARGETS
from evtool.report.fmt import safe

if TYPE_CHECKING:
    from evtool.cli.session import RunOptions
    from evtool.scenario.loader import LoadedScenario

COUNTS = ("published", "acked", "dead_lettered", "retries", "redelivered", "duplicates_skipped")


@dataclass
class Column:
    """One compared run: its label, what ran it, under which profile, and what it said."""

    label: str
    target: str
    profile: str
    outcome: Any
    notes: list[str] = field(default_factory=list)
    notes_for: str | None = None
    problems: list[str] = field(default_factory=list)
    not_applicable: dict[str, str] = field(default_factory=dict)
    """Checks whose verdict differs from the core's under the same profile because the broker lacks the
    mechanism they measure (check -> reason, `evtool.transports.check_notes`)."""


def mark_not_applicable(columns: list[Column]) -> None:
    """Fill each broker column's `not_applicable` with the checks it cannot judge whose verdict differs from
    the local column run under the same profile."""
    from evtool.transports.runner import differing_not_applicable

    for c in columns:
        if c.target == "local":
            continue
        local = next((x for x in columns if x.target == "local" and x.profile == c.profile), None)
        if local is not None:
            c.not_applicable = differing_not_applicable(local.outcome.checks, c.outcome.checks,
                                                        c.outcome.extra.get("not_applicable", {}),
                                                        local.outcome.summary.get("counts"))


def compare_table(names: list[str], outcomes: list[Any], profiles: list[str] | None = None,
                  not_applicable: list[dict[str, str]] | None = None) -> Any:
    """Checks and key counts of several runs, one column per run (the profile each ran under first)."""
    from rich import box
    from rich.table import Table

    from evtool.report.presentation import check_status

    t = Table(title="Compared runs", title_justify="left", box=box.SIMPLE_HEAD)
    t.add_column("")
    for n in names:
        t.add_column(n, justify="right")
    if profiles is not None:
        t.add_row("profile", *profiles)
    t.add_row("[bold]outcome[/bold]", *[o.outcome for o in outcomes])
    for key in COUNTS:
        t.add_row(key, *[f"{o.summary.get(key, 0):,}" for o in outcomes])
    lat = [o.summary.get("latency_ms", {}).get("p99") for o in outcomes]
    t.add_row("latency p99 (ms)", *["–" if v is None else f"{v:.1f}" for v in lat])
    check_names: list[str] = []
    for o in outcomes:
        for c in o.checks:
            if c["name"] not in check_names:
                check_names.append(c["name"])
    for name in check_names:
        cells = []
        for i, o in enumerate(outcomes):
            c = next((c for c in o.checks if c["name"] == name), None)
            if c is None:
                cells.append("–")
            else:
                sym, colour = check_status(c["status"])
                na = " (n/a)" if not_applicable and name in not_applicable[i] else ""
                cells.append(f"[{colour}]{sym} {c['status']}[/{colour}]{na}")
        t.add_row(f"check {name}", *cells)
    return t


def local_profiles(loaded: LoadedScenario, names: list[str], local_profile: str | None) -> list[str]:
    """The profiles the local side runs under: `local_profile` (``scenario`` = the scenario's own), else
    the profile of each broker compared (one each, in order), else the scenario's own."""
    from evtool.transports.runner import broker_profile

    own = loaded.model.broker.profile
    if local_profile is not None:
        return [own if local_profile == "scenario" else local_profile]
    out: list[str] = []
    for n in names:
        if n != "local":
            p = broker_profile(loaded, n)
            if p not in out:
                out.append(p)
    return out or [own]


def run_compare(loaded: LoadedScenario, opts: RunOptions, duration_ns: int | None) -> int:
    """Run on each transport named in --compare and print them side by side."""
    from evtool.core.profiles import PROFILES, get_profile
    from evtool.scenario.errors import ScenarioError, did_you_mean

    names = [n.strip() for n in (opts.compare or "").split(",") if n.strip()]
    bad = [n for n in names if n not in TARGETS]
    if len(names) < 2 or bad:
        return print_option_error(opts.json_out, "--compare", f"--compare {opts.compare!r}: give two or more of "
                                  f"{', '.join(TARGETS)}", did_you_mean(bad[0], TARGETS) if bad else None)
    lp = opts.local_profile
    if lp is not None and lp != "scenario" and lp not in PROFILES:
        hint = did_you_mean(lp, [*PROFILES, "scenario"]) or f"one of: scenario, {', '.join(PROFILES)}"
        return print_option_error(opts.json_out, "--local-profile", f"--local-profile {lp!r} is not a profile", hint)
    try:
        from evtool.transports import capabilities, run_on_transport
        from evtool.transports.runner import under_profile
    except ImportError:
        return print_option_error(opts.json_out, "--compare", "transports are not available in this build")
    from evtool.cli.session import run_limits
    from evtool.sim.engine import Engine
    from evtool.sim.rng import run_seed

    seed = run_seed(loaded.model, opts.seed)
    # the run budget (run.budget, --max-events/--max-messages/--max-wall/--max-memory) holds for every
    # column; the default wall budget is a real broker's: real time
    limits = run_limits(loaded, opts, duration_ns, 1.0)
    columns: list[Column] = []
    for name in names:
        if name == "local":
            profiles = local_profiles(loaded, names, lp)
            for p in profiles:
                try:
                    local = under_profile(loaded, p)
                except ScenarioError as exc:
                    print_scenario_error(exc)
                    return EXIT_INVALID
                broker = get_profile(p).broker
                label = "local" if len(profiles) == 1 else f"local·{broker}"
                outcome = Engine(local, seed=seed, duration_ns=duration_ns, limits=limits).run()
                notes = capabilities(local, broker) if broker in REAL_BROKERS else []
                columns.append(Column(label, "local", p, outcome, notes, broker if notes else None))
            continue
        from evtool.api import require_client

        try:
            require_client(name)
            outcome = run_on_transport(loaded, name, url=None, keep=opts.keep, seed=seed, duration_ns=duration_ns,
                                       listeners=[], limits=limits)
        except ScenarioError as exc:
            print_scenario_error(exc)
            return EXIT_INVALID
        except Exception as exc:  # noqa: BLE001 - a broker that is down is reported, not a traceback
            return print_option_error(opts.json_out, "--compare", f"the {name} run failed: {exc}",
                                      "see docs/transports.md")
        columns.append(Column(name, name, outcome.extra.get("profile", ""), outcome,
                              list(outcome.extra.get("warnings", [])), name,
                              list(outcome.extra.get("problems", []))))
    mark_not_applicable(columns)
    if opts.json_out:
        from evtool.report.jsondoc import compare_doc, dumps

        print(dumps(compare_doc([_column_json(c) for c in columns])))
    else:
        out = console()
        out.print(compare_table([c.label for c in columns], [c.outcome for c in columns],
                                [c.profile for c in columns], [c.not_applicable for c in columns]))
        for c in columns:
            if c.target == "local":
                out.print(f"[dim]{c.label} ran under profile {c.profile}[/dim]")
        for c in columns:
            if c.target != "local":
                for n in c.notes:
                    out.print(f"[yellow]note ({c.label})[/yellow] {safe(n)}")
            for p in c.problems:
                out.print(f"[red]problem ({c.label})[/red] {safe(p)}")
        for c in columns:
            for check, why in c.not_applicable.items():
                out.print(f"[yellow]not applicable on {c.label}[/yellow]: check {safe(check)} differs from "
                          f"the core because {safe(why)}")
    statuses = {ch["status"] for c in columns for ch in c.outcome.checks}
    if "fail" in statuses:
        return EXIT_FAILED
    if "unknown" in statuses or any(c.problems for c in columns):
        return EXIT_UNKNOWN
    return EXIT_OK


def _column_json(c: Column) -> dict[str, Any]:
    o = c.outcome
    return {"target": c.target, "label": c.label, "profile": c.profile, "outcome": o.outcome, "drain": o.drain,
            "counts": o.summary.get("counts", {}), "checks": o.checks, "notes": c.notes, "notes_for": c.notes_for,
            "problems": c.problems, "not_applicable": c.not_applicable}
