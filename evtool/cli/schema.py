"""`evtool schema`: the JSON Schema of the scenario language, for editors."""

from __future__ import annotations

from pathlib import Path

import typer


def schema(
    output: Path | None = typer.Option(None, "-o", "--output", help="Write to this file instead of stdout."),
) -> None:
    """Write the JSON Schema of the scenario language.

    Point an editor at it with a first line such as
    `# yaml-language-server: $schema=./evtool-scenario.schema.json`.
    """
    import json

    from evtool.scenario.schema import json_schema

    text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)
