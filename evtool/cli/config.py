"""`evtool config`: the effective configuration, and where each value came from."""

from __future__ import annotations

import typer


def config(
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document for machines."),
) -> None:
    """Show the effective settings (transport, record, db, speed, broker URLs) and where each came from.

    Read from `evtool.toml`, or `[tool.evtool]` in `pyproject.toml`, found upward from the working directory;
    EVTOOL_* environment variables override the file, and command-line flags override both. Passwords in URLs
    are shown as ***.
    """
    from evtool.cli.output import EXIT_INVALID, EXIT_OK, console
    from evtool.config import ConfigError, load
    from evtool.report.fmt import safe

    try:
        cfg = load()
    except ConfigError as exc:
        err = console(stderr=True, soft_wrap=True)
        err.print(f"[red]error[/red] {safe(exc.file)}:{exc.line}:{exc.column}: {safe(exc.message)}")
        if exc.hint:
            err.print(f"  [cyan]hint:[/cyan] {safe(exc.hint)}")
        raise typer.Exit(EXIT_INVALID) from None
    if json_out:
        from evtool.report.jsondoc import config_doc, dumps

        typer.echo(dumps(config_doc(cfg)))
        raise typer.Exit(EXIT_OK)
    from rich.table import Table

    out = console()
    out.print(f"configuration file: {safe(cfg.file) if cfg.file else 'none (evtool.toml or [tool.evtool] in pyproject.toml, searched upward)'}",
              soft_wrap=True)
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("setting", style="cyan", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("from", style="dim", overflow="fold")
    for name, s in cfg.settings.items():
        table.add_row(name, safe(s.shown), safe(s.source))
    out.print(table)
    raise typer.Exit(EXIT_OK)
