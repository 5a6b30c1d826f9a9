"""`evtool new NAME [--from LESSON]`: start a scenario file from a lesson or a plain template."""

from __future__ import annotations

import re

import typer

TEMPLATE = '''\
# yaml-language-server: $schema=evtool-scenario.schema.json
# A new evtool scenario. Run it:      evtool run {file}
# Check it without running:          evtool validate {file}
# The language: docs/scenario-language.md; bundled examples: evtool lessons
evtool: "1"
id: {id}
description: "One producer, one queue, two competing consumers with retries and a dead-letter queue."

run:
  seed: 1
  duration: 1m
  drain: {{max: 1m}}

broker:
  profile: default            # or rabbitmq-quorum, sqs-standard, kafka, nats-jetstream, ... (docs/profiles.md)

channels:
  orders:
    kind: queue
    dead_letter: orders.dlq
  orders.dlq:
    kind: queue
    role: dead_letter

producers:
  checkout:
    to: orders
    message: OrderPlaced
    arrival: {{process: poisson, rate: 10/s}}
    payload:
      orderId: "{{{{ uuid() }}}}"
      amount: "{{{{ rand.uniform(5, 500) | round(2) }}}}"

consumers:
  billing:
    from: orders
    instances: 2
    processing: {{dist: lognormal, median: 20ms, p99: 100ms}}
    fail_if:
      - {{probability: 0.02, error: UpstreamTimeout}}
    retry:
      max_attempts: 3
      backoff: {{type: exponential, initial: 200ms, multiplier: 2, jitter: full}}
      on_exhausted: dead_letter

faults: []

expect:
  - name: nothing-lost
    check: no_loss
    channel: orders
  - name: latency
    that: p(99, latency.e2e{{consumer=billing}}) < 2s
'''
"""The plain template (a valid, passing scenario); `{id}` and `{file}` are filled in."""

SCHEMA_NAME = "evtool-scenario.schema.json"
"""Written next to a new scenario, so the modeline works offline in the user's folder (yaml-language-server
resolves a relative `$schema=` path from the YAML file's own folder)."""
_MODELINE = re.compile(r"^#\s*yaml-language-server:\s*\$schema=.*$", re.MULTILINE)
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]*$")
_ID_LINE = re.compile(r"^id:[ \t]*.*$", re.MULTILINE)


def scenario_id_for(name: str) -> str:
    """The scenario id a file name gives: its stem (`checkout-retries.yaml` -> `checkout-retries`)."""
    from pathlib import Path

    stem = Path(name).name
    for suffix in (".yaml", ".yml"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    return stem


def with_new_id(text: str, new_id: str) -> str:
    """A lesson's text with its top-level `id:` replaced, comments and layout kept."""
    replaced, n = _ID_LINE.subn(f"id: {new_id}", text, count=1)
    if n == 0:
        # no top-level id line (unusual): put one after the version line
        return re.sub(r'^(evtool:.*)$', rf"\1\nid: {new_id}", text, count=1, flags=re.MULTILINE)
    return replaced


def packaged_schema() -> str:
    """The scenario JSON Schema shipped in the package (evtool/schemas/scenario.schema.json)."""
    from pathlib import Path

    return (Path(__file__).resolve().parent.parent / "schemas" / "scenario.schema.json").read_text(encoding="utf-8")


def with_modeline(text: str, target: str) -> str:
    """`text` whose first modeline points at `target` (added as the first line when there is none)."""
    line = f"# yaml-language-server: $schema={target}"
    replaced, n = _MODELINE.subn(lambda _: line, text, count=1)
    return replaced if n else f"{line}\n{text}"


def schema_beside(folder: object) -> tuple[str, str | None]:
    """Put the scenario schema in `folder` when it is missing or an older evtool schema; return the modeline
    target and what was done (None: nothing). A file of that name that is not evtool's is left alone and the
    modeline points at the packaged schema instead."""
    import json
    from pathlib import Path

    folder = Path(str(folder))
    target = folder / SCHEMA_NAME
    text = packaged_schema()
    if not target.exists():
        target.write_text(text, encoding="utf-8")
        return SCHEMA_NAME, f"wrote {target} (the schema your editor reads)"
    try:
        current = target.read_text(encoding="utf-8")
        ours = str(json.loads(current).get("title", "")).startswith("evtool scenario")
    except (OSError, ValueError, AttributeError):
        current, ours = "", False
    if current == text:
        return SCHEMA_NAME, None
    if ours:
        target.write_text(text, encoding="utf-8")
        return SCHEMA_NAME, f"updated {target} to this evtool's schema"
    packaged = (Path(__file__).resolve().parent.parent / "schemas" / "scenario.schema.json").as_uri()
    return packaged, None


def new(
    name: str = typer.Argument(..., help="The new scenario: a name (`my-test`) or a file path (`tests/my-test.yaml`).",
                               show_default=False),
    from_: str = typer.Option("", "--from", help="Start from this lesson (an id from `evtool lessons`) or file."),
) -> None:
    """Write NAME.yaml: a copy of a lesson with a new id (--from), or a small passing template. Never overwrites."""
    from pathlib import Path

    from evtool.cli.output import EXIT_INVALID, EXIT_OK, console, print_scenario_error
    from evtool.report.fmt import safe
    from evtool.scenario.errors import ScenarioError
    from evtool.scenario.lessons import LessonNotFound, find_lesson
    from evtool.scenario.yamlsource import read_text
    from evtool.store.errors import describe_os_error

    err = console(stderr=True, soft_wrap=True)
    new_id = scenario_id_for(name)
    if not _NAME_RE.match(new_id):
        err.print(f"[red]error[/red] `{safe(new_id)}` is not a valid scenario id: start with a letter, then letters, "
                  "digits, `_ . : -`", highlight=False)
        raise typer.Exit(EXIT_INVALID)
    path = Path(name)
    if path.suffix not in (".yaml", ".yml"):
        path = path.with_name(path.name + ".yaml")
    if path.exists():
        err.print(f"[red]error[/red] {safe(path)} already exists; evtool new never overwrites a file "
                  "(choose another name or delete it first)", highlight=False)
        raise typer.Exit(EXIT_INVALID)
    if not path.parent.is_dir():
        err.print(f"[red]error[/red] folder {safe(path.parent)} does not exist", highlight=False)
        raise typer.Exit(EXIT_INVALID)
    if from_:
        source = Path(from_)
        if not source.is_file():
            try:
                source = find_lesson(from_)
            except LessonNotFound as exc:
                err.print(f"[red]error[/red] {safe(exc)}", highlight=False)
                raise typer.Exit(EXIT_INVALID) from None
        try:
            text = with_new_id(read_text(source), new_id)
        except ScenarioError as exc:
            print_scenario_error(exc, con=err)
            raise typer.Exit(EXIT_INVALID) from None
        except OSError as exc:
            err.print(f"[red]error[/red] cannot read {safe(source)}: {safe(exc.strerror or exc)}", highlight=False)
            raise typer.Exit(EXIT_INVALID) from None
        origin = f"from {source.stem}"
    else:
        text = TEMPLATE.format(id=new_id, file=path)
        origin = "from the plain template"
    try:
        modeline_target, schema_note = schema_beside(path.parent)
    except OSError as exc:
        modeline_target, schema_note = SCHEMA_NAME, f"could not write the schema beside it: {exc.strerror or exc}"
    text = with_modeline(text, modeline_target)
    created = False
    try:
        with path.open("x", encoding="utf-8") as f:  # "x": fail rather than overwrite, even in a race
            created = True
            f.write(text)
    except FileExistsError:
        err.print(f"[red]error[/red] {safe(path)} already exists; evtool new never overwrites a file",
                  highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    except OSError as exc:
        if created:  # a full disk left a truncated scenario: remove it rather than leave a broken file
            path.unlink(missing_ok=True)
        err.print(f"[red]error[/red] {safe(describe_os_error(path, exc))}", highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    console(soft_wrap=True).print(f"[green]✓[/green] wrote {safe(path)} (id {safe(new_id)}, {safe(origin)}); "
                                  f"run it with: evtool run {safe(path)}", highlight=False)
    if schema_note:
        console(soft_wrap=True).print(f"[dim]{safe(schema_note)}[/dim]", highlight=False)
    raise typer.Exit(EXIT_OK)
