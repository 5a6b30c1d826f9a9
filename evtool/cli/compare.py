"""`evtool run SCENARIO --compare local,rabbitmq`: one scenario on several transports, side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from evtool.cli.output import EXIT_FAILED, EXIT_INVALID, EXIT_OK, EXIT_UNKNOWN, console

if TYPE_CHECKING:
    from evtool.cli.runner import RunOptions
    from evtool.scenario.loader import LoadedScenario

TRANSPORTS = ("local", "rabbitmq", "nats", "redis", "kafka", "sqs")
COUNTS = ("published", "acked", "dead_lettered", "retries", "redelivered", "duplicates_skipped")


def compare_table(names: list[str], outcomes: list[Any]) -> Any:
    """Checks and key counts of several runs, one column per transport."""
    from rich import box
    from rich.table import Table

    from evtool.report.summary import STATUS_STYLE

    t = Table(title="Compared runs", title_justify="left", box=box.SIMPLE_HEAD)
    t.add_column("")
    for n in names:
        t.add_column(n, justify="right")
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
        for o in outcomes:
            c = next((c for c in o.checks if c["name"] == name), None)
            if c is None:
                cells.append("–")
            else:
                sym, colour = STATUS_STYLE.get(c["status"], ("?", "yellow"))
                cells.append(f"[{colour}]{sym} {c['status']}[/{colour}]")
        t.add_row(f"check {name}", *cells)
    return t


def run_compare(loaded: LoadedScenario, opts: RunOptions, duration_ns: int | None) -> int:
    """Run on each transport named in --compare and print them side by side."""
    names = [n.strip() for n in (opts.compare or "").split(",") if n.strip()]
    bad = [n for n in names if n not in TRANSPORTS]
    err = console(stderr=True)
    if len(names) < 2 or bad:
        err.print(f"[red]error[/red] --compare {opts.compare!r}: give two or more of {', '.join(TRANSPORTS)}")
        return EXIT_INVALID
    from evtool.sim.engine import Engine

    seed = loaded.model.run.seed if opts.seed is None else opts.seed
    outcomes = []
    for name in names:
        if name == "local":
            outcomes.append(Engine(loaded, seed=seed, duration_ns=duration_ns).run())
            continue
        try:
            from evtool.transports import run_on_transport
        except ImportError:
            err.print("[red]error[/red] transports are not available in this build")
            return EXIT_INVALID
        try:
            outcomes.append(run_on_transport(loaded, name, url=None, keep=opts.keep, seed=seed,
                                             duration_ns=duration_ns, listeners=[]))
        except Exception as exc:  # noqa: BLE001 - a broker that is down is reported, not a traceback
            err.print(f"[red]error[/red] the {name} run failed: {exc}")
            return EXIT_INVALID
    console().print(compare_table(names, outcomes))
    statuses = {c["status"] for o in outcomes for c in o.checks}
    if "fail" in statuses:
        return EXIT_FAILED
    if "unknown" in statuses:
        return EXIT_UNKNOWN
    return EXIT_OK
