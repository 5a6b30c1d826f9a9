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
    import json

    UNSET = "(not set: each scenario's run.speed)"  # noqa: N806
    # one line per setting, in the file's own syntax, so a line can be copied into evtool.toml; never wrapped
    out = console(soft_wrap=True)
    where = str(cfg.file) if cfg.file else "none (evtool.toml, or [tool.evtool] in pyproject.toml, searched upward)"
    out.print(f"[dim]# configuration file: {safe(where)}[/dim]")
    lines = [(f"{name.split('.', 1)[1] if name.startswith('brokers.') else name} = "
              f"{json.dumps(s.shown) if s.value is not None else UNSET}", s.source, name.startswith("brokers."))
             for name, s in cfg.settings.items()]
    width = max(len(text) for text, _, _ in lines)
    header_done = False
    for text, source, broker in lines:
        if broker and not header_done:
            out.print("[bold]\\[brokers][/bold]")
            header_done = True
        out.print(f"{safe(text.ljust(width))}  [dim]# {safe(source)}[/dim]")
    raise typer.Exit(EXIT_OK)
