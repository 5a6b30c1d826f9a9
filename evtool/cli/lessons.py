"""`evtool lessons`: list the bundled lessons."""

from __future__ import annotations

import typer

WIDE = 110
"""The terminal width from which `evtool lessons` shows the concepts in a column of their own."""


def lessons(
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document for machines."),
    concept: str = typer.Option("", "--concept", help="Only lessons that teach this concept (e.g. idempotency)."),
) -> None:
    """List the bundled lessons: id, title, level and concepts (`--json` adds each file's path)."""
    import json

    from evtool.cli.output import EXIT_OK, console
    from evtool.scenario.lessons import list_lessons

    infos = list_lessons()
    if concept:
        want = concept.lower()
        infos = [i for i in infos if any(want in c.lower() for c in i.concepts)]
    if json_out:
        from evtool.report.jsondoc import lessons_doc

        typer.echo(json.dumps(lessons_doc(infos), indent=2))
        raise typer.Exit(EXIT_OK)

    from rich.table import Table

    from evtool.report.fmt import safe

    out = console()
    # Four columns need about 110 columns to show every title and concept whole; narrower (80 columns,
    # a student's terminal), each lesson's concepts go under its title instead of being cut with "…"
    wide = out.width >= WIDE
    table = Table(title="evtool lessons", title_justify="left", show_lines=not wide, expand=False)
    table.add_column("id" if wide else "id and level", no_wrap=True)
    table.add_column("title" if wide else "title and concepts", overflow="fold")
    if wide:
        table.add_column("level", no_wrap=True)
        table.add_column("concepts", style="dim", overflow="fold")
    colours = {"beginner": "green", "intermediate": "yellow", "advanced": "red"}
    for i in infos:
        colour = colours.get(i.level, "white")
        lesson, level = f"[bold cyan]{safe(i.id)}[/bold cyan]", f"[{colour}]{safe(i.level)}[/{colour}]"
        concepts = safe(", ".join(i.concepts))
        if wide:
            table.add_row(lesson, safe(i.title), level, concepts)
        else:
            table.add_row(f"{lesson}\n{level}", f"{safe(i.title)}\n[dim]{concepts}[/dim]")
    if not infos:
        out.print(f"no lesson teaches a concept matching `{safe(concept)}`")
    else:
        out.print(table)
        count = f"{len(infos)} lesson{'s' if len(infos) != 1 else ''}"
        out.print(f"[dim]{count} in {safe(infos[0].path.parent)}[/dim]")
        out.print("[dim]evtool explain ID · evtool run ID · evtool new NAME --from ID[/dim]")
    raise typer.Exit(EXIT_OK)
