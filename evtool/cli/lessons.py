"""`evtool lessons`: list the bundled lessons."""

from __future__ import annotations

import typer


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

    table = Table(title="evtool lessons", title_justify="left", show_lines=False, expand=False)
    table.add_column("id", style="bold cyan", no_wrap=True)
    table.add_column("title")
    table.add_column("level", no_wrap=True)
    table.add_column("concepts", style="dim")
    colours = {"beginner": "green", "intermediate": "yellow", "advanced": "red"}
    for i in infos:
        colour = colours.get(i.level, "white")
        table.add_row(i.id, i.title, f"[{colour}]{i.level}[/{colour}]", ", ".join(i.concepts))
    out = console()
    if not infos:
        out.print(f"no lesson teaches a concept matching `{concept}`")
    else:
        out.print(table)
        out.print(f"[dim]{len(infos)} lesson(s) in {infos[0].path.parent} · "
                  "evtool explain ID · evtool new NAME --from ID[/dim]")
    raise typer.Exit(EXIT_OK)
