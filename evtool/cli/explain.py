"""`evtool explain LESSON_OR_FILE`: the lesson text, the topology as a diagram, the expectations.

The topology is drawn as a tree that follows the messages: each producer,
the channel it publishes to, routers and their bindings, the consumers that
read each channel, what those consumers emit (and where it goes), and the
dead-letter edges. Patterns are listed with the channels they read and write.
"""

from __future__ import annotations

from typing import Any

import typer


def explain(
    target: str = typer.Argument(..., help="A lesson id (see `evtool lessons`) or a scenario file.",
                                 show_default=False),
    answers: bool = typer.Option(False, "--answers", help="Also print the answers to the lesson's questions."),
    set_: list[str] = typer.Option([], "--set", help="Override a value first: path=value (repeatable)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document for machines."),
) -> None:
    """Print a lesson (or any scenario): its text and steps, its topology as a diagram, and its expectations."""
    from pathlib import Path

    from evtool.cli.output import EXIT_INVALID, EXIT_OK, console, print_scenario_error
    from evtool.report.fmt import safe
    from evtool.scenario.errors import ScenarioError
    from evtool.scenario.lessons import LessonNotFound, find_lesson
    from evtool.scenario.loader import load_scenario

    out = console()
    path = Path(target)
    if not path.is_file():
        try:
            path = find_lesson(target)
        except LessonNotFound as exc:
            if json_out:
                from evtool.cli.output import print_json_error

                print_json_error(target, str(exc), "run `evtool lessons` to list the bundled lessons")
                raise typer.Exit(EXIT_INVALID) from None
            console(stderr=True).print(f"[red]error[/red] {safe(exc)}", markup=True, highlight=False)
            raise typer.Exit(EXIT_INVALID) from None
    try:
        loaded = load_scenario(path, set_)
    except ScenarioError as err:
        if json_out:
            import json

            from evtool.cli.output import json_error

            typer.echo(json.dumps(json_error(err.problems), indent=2))
            raise typer.Exit(EXIT_INVALID) from None
        print_scenario_error(err)
        raise typer.Exit(EXIT_INVALID) from None
    sc = loaded.model
    if json_out:
        from evtool.report.jsondoc import dumps, explain_doc

        typer.echo(dumps(explain_doc(loaded, target)))
        raise typer.Exit(EXIT_OK)
    for renderable in render_explanation(sc, str(path), answers=answers):
        out.print(renderable, crop=False)  # a command to copy is printed whole
    raise typer.Exit(EXIT_OK)


# --------------------------------------------------------------------------- rendering (pure: model in, renderables out)


def render_explanation(sc: Any, source: str, *, answers: bool = False) -> list[Any]:
    """Everything `explain` prints, as rich renderables, in order."""
    from rich.rule import Rule
    from rich.text import Text

    from evtool.report.fmt import visible

    parts: list[Any] = []
    if sc.lesson is not None:
        parts.extend(render_lesson(sc, answers=answers))
    else:
        parts.append(Text.assemble(("scenario ", "bold"), (visible(sc.id), "bold cyan"),
                                   (f"  ({visible(source)})", "dim")))
        if sc.description:
            parts.append(Text(visible(" ".join(sc.description.split()))))
    parts.append(Rule("topology", align="left", style="dim"))
    parts.append(topology_tree(sc))
    parts.append(Rule("expectations", align="left", style="dim"))
    parts.append(expectations_view(sc))
    return parts


def render_lesson(sc: Any, *, answers: bool = False) -> list[Any]:
    """The lesson block: title, level, concepts, summary, goals, steps and what to try next."""
    from rich.console import Group
    from rich.text import Text

    from evtool.report.fmt import safe as escape
    from evtool.report.fmt import visible as v_

    lesson = sc.lesson
    parts: list[Any] = []
    title = Text.assemble((v_(lesson.title), "bold"), ("  ", ""), (v_(sc.id), "cyan"), ("  ", ""),
                          (lesson.level, {"beginner": "green", "intermediate": "yellow"}.get(lesson.level, "red")))
    parts.append(title)
    if lesson.concepts:
        parts.append(Text("concepts: " + v_(", ".join(lesson.concepts)), style="dim"))
    if lesson.prerequisites:
        parts.append(Text("before this: " + v_(", ".join(lesson.prerequisites)), style="dim"))
    parts.append(Text(""))
    parts.append(Text(v_(" ".join(lesson.summary.split()))))
    if lesson.goals:
        parts.append(Text("\nGoals", style="bold"))
        parts.extend(hang("  • ", v_(g)) for g in lesson.goals)
    if lesson.steps:
        parts.append(Text("\nSteps", style="bold"))
        for i, step in enumerate(lesson.steps, 1):
            parts.append(Text.from_markup(f"  [bold]{i}.[/bold] [magenta]{escape(step_trigger(step))}[/magenta]"
                                          + ("  [yellow]⏸ pauses[/yellow]" if step.pause else ""), emoji=False))
            parts.append(hang("     ", v_(" ".join(step.say.split()))))
            if step.focus:
                parts.append(Text("     focus: " + v_(", ".join(step.focus)), style="dim"))
            if step.ask is not None:
                parts.append(Text.from_markup(f"     [cyan]? {escape(step.ask.question)}[/cyan]", emoji=False))
                if step.ask.choices:
                    parts.append(Text("       choices: " + v_(" | ".join(step.ask.choices)), style="dim"))
                if answers:
                    parts.append(Text(f"       answer: {v_(step.ask.answer)}", style="green"))
                    if step.ask.explain:
                        parts.append(Text("       " + v_(" ".join(step.ask.explain.split())), style="green"))
    if lesson.try_next:
        parts.append(Text("\nTry next", style="bold"))
        for v in lesson.try_next:
            if isinstance(v, str):
                parts.append(hang("  • ", v_(" ".join(v.split()))))
                continue
            parts.append(hang("  • ", v_(" ".join(v.say.split()))))
            if v.set:
                sets = " ".join(set_argument(k, val) for k, val in v.set.items())
                # a command to copy: never wrapped (a terminal that is too narrow cuts it, a pipe keeps it)
                # (in a Group: rich joins bare Texts into one and would lose `no_wrap`)
                parts.append(Group(Text(v_(f"      evtool run {sc.id} {sets}"), style="cyan", no_wrap=True,
                                        overflow="ignore")))
            if v.fails:
                parts.append(Text("      turns red: " + v_(", ".join(v.fails)), style="red"))
            if v.unknown:
                parts.append(Text("      stays undecided: " + v_(", ".join(v.unknown)), style="yellow"))
            if v.set and not v.fails and not v.unknown:
                parts.append(Text("      every expectation still holds", style="green"))
    return parts


def hang(prefix: str, text: str, style: str = "") -> Any:
    """`prefix` then `text`, its wrapped lines indented under the text (a hanging indent)."""
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid()
    grid.add_column(width=len(prefix), no_wrap=True)
    grid.add_column()
    grid.add_row(Text(prefix), Text(text, style=style))
    return grid


def step_trigger(step: Any) -> str:
    """How a lesson step is triggered, in words: `at 20s`, `at the end`, `on dead_lettered{...} (2nd)`."""
    from evtool.scenario.units import format_duration

    if step.event is not None:
        nth = f" (occurrence {step.nth})" if step.nth > 1 else ""
        return f"on {step.event}{nth}"
    if step.at == "end":
        return "at the end"
    return f"at {format_duration(step.at)}"


def set_argument(path: str, value: Any) -> str:
    """One `--set path=value` as a user would type it in a shell."""
    from evtool.report.fmt import set_argument as fmt_set_argument

    return fmt_set_argument(path, value)


# --------------------------------------------------------------------------- topology


def _fmt_ns(ns: Any) -> str:
    from evtool.scenario.units import format_duration

    return format_duration(ns) if isinstance(ns, int) else str(ns)


def channel_label(name: str, spec: Any) -> str:
    """`queue orders  capacity 10000 · ack timeout 30s` (rich markup)."""
    from evtool.report.fmt import safe as escape

    kind = spec.kind
    bits: list[str] = []
    if kind == "router":
        bits.append(f"{spec.type} router")
    if kind == "log":
        bits.append(f"{spec.partitions} partition(s)")
        if spec.retention.time != "forever" or spec.retention.count is not None:
            bits.append("retention " + (_fmt_ns(spec.retention.time) if spec.retention.time != "forever"
                                        else f"{spec.retention.count} records"))
    if kind == "grouped_queue":
        bits.append(f"one in flight per {spec.group_by}")
    if kind in ("queue", "grouped_queue", "topic"):
        if spec.capacity is not None:
            bits.append(f"capacity {spec.capacity} ({spec.overflow})")
        if spec.ack_timeout is not None:
            bits.append(f"ack timeout {_fmt_ns(spec.ack_timeout)}")
        if spec.ttl is not None:
            bits.append(f"ttl {_fmt_ns(spec.ttl)}")
        if spec.max_deliveries is not None:
            bits.append(f"max deliveries {spec.max_deliveries}")
        if spec.dedup_window is not None:
            bits.append(f"dedup {_fmt_ns(spec.dedup_window)}")
        if spec.role != "normal":
            bits.append(spec.role.replace("_", "-"))
    if not getattr(spec, "durable", True):
        bits.append("not durable")
    colour = {"queue": "blue", "grouped_queue": "blue", "topic": "magenta", "log": "green",
              "router": "yellow"}.get(kind, "white")
    head = f"[{colour}]{kind}[/{colour}] [bold]{escape(name)}[/bold]"
    return head + (f"  [dim]{escape(' · '.join(bits))}[/dim]" if bits else "")


def producer_label(name: str, spec: Any) -> str:
    """`producer checkout  OrderPlaced · poisson 20/s · key uniform(500)`."""
    from evtool.report.fmt import safe as escape
    from evtool.scenario.units import format_rate

    a = spec.arrival
    if a.process in ("constant", "poisson"):
        arrival = f"{a.process} {format_rate(a.rate)}"
    elif a.process == "burst":
        arrival = f"bursts of {a.size} every {_fmt_ns(a.every)}"
    elif a.process == "once":
        arrival = f"all at {_fmt_ns(a.at)}"
    else:
        arrival = f"{len(a.stages)} stage(s)"
    bits = [spec.message, arrival]
    if spec.count is not None:
        bits.append(f"{spec.count} messages")
    if spec.key is not None:
        bits.append(f"key {spec.key.dist}" + (f"({spec.key.space})" if spec.key.space else ""))
    if spec.sequence != "none":
        bits.append(f"seq {spec.sequence}")
    if spec.inject:
        tags = sorted({i.tag for i in spec.inject if i.tag})
        bits.append(f"{sum(i.count for i in spec.inject)} injected" + (f" ({', '.join(tags)})" if tags else ""))
    if spec.instances > 1:
        bits.append(f"×{spec.instances}")
    return f"[bold green]producer[/bold green] [bold]{escape(name)}[/bold]  [dim]{escape(' · '.join(bits))}[/dim]"


def retry_words(r: Any) -> str:
    """A consumer's retry in a few words; with a preset, in that framework's own words.

    Spring Cloud Stream counts attempts (maxAttempts counts the first delivery), retries in-process in the
    binder's RetryTemplate and hands over to the binder's DLQ; Camel counts redeliveries (maximumRedeliveries
    excludes the first attempt: N is N + 1 attempts), redelivers in-process and ends in the dead letter channel.
    """
    from evtool.report.fmt import FRAMEWORK_WORDS, preset_limit

    if r.preset in FRAMEWORK_WORDS:
        w = FRAMEWORK_WORDS[r.preset]
        target = w["target_short"] if r.on_exhausted == "dead_letter" else r.on_exhausted
        how = w["retrier"].replace(", in-process", "")
        where = f"in-process ({how})" if r.mode == "in_place" else f"{r.mode}, not the preset's in-process retry"
        return (f"retry {r.preset}: {preset_limit(r.preset, r.max_attempts)} ({w['counts']}), {r.backoff.type}, "
                f"{where} → {target}")
    return f"retry {r.max_attempts}× {r.backoff.type} ({r.mode}) → {r.on_exhausted}"


def consumer_label(name: str, spec: Any) -> str:
    """`consumer billing ×3  group billing · prefetch 5 · retry 4× exponential → dead_letter`."""
    from evtool.report.fmt import safe as escape

    bits: list[str] = []
    if spec.group:
        bits.append(f"group {spec.group}")
    if spec.concurrency > 1:
        bits.append(f"concurrency {spec.concurrency}")
    if spec.prefetch is not None:
        bits.append(f"prefetch {spec.prefetch}")
    if spec.ack == "auto":
        bits.append("auto-ack")
    if spec.dispatch != "per_partition":
        bits.append(f"dispatch {spec.dispatch}")
    if spec.batch is not None:
        bits.append(f"batches of {spec.batch.size}")
    if spec.retry is not None:
        bits.append(retry_words(spec.retry))
    if spec.idempotency is not None:
        bits.append(f"idempotent by {spec.idempotency.key}")
    if spec.reply == "auto":
        bits.append("replies")
    inst = f" ×{spec.instances}" if spec.instances > 1 else ""
    return (f"[bold cyan]consumer[/bold cyan] [bold]{escape(name)}{inst}[/bold]"
            + (f"  [dim]{escape(' · '.join(bits))}[/dim]" if bits else ""))


def pattern_channels(spec: Any) -> tuple[list[str], list[str]]:
    """The channels a pattern reads and the channels it writes."""
    t = spec.type
    if t == "request_reply":
        return [spec.channel], [spec.channel]  # the requester writes it, the responder reads it
    if t == "saga":
        writes = [s.send.to for s in spec.steps] + [s.compensate.to for s in spec.steps if s.compensate]
        reads = [spec.trigger.from_] + ([spec.reply_channel] if spec.reply_channel else [])
        return reads, list(dict.fromkeys(writes))
    if t == "event_sourced_aggregate":
        return [spec.commands.from_], []
    if t == "outbox":
        return [], [spec.relay.to]
    return [], []


def _emits(spec: Any) -> list[tuple[str, str]]:
    out = [(e.message, e.to) for e in spec.emit]
    for mtype, h in spec.handles.items():
        out.extend((f"{e.message} (on {mtype})", e.to) for e in h.emit)
    return list(dict.fromkeys(out))


def topology_tree(sc: Any) -> Any:
    """The scenario's topology as a rich Tree, following messages from the producers."""
    from rich.tree import Tree

    from evtool.report.fmt import safe as escape

    root = Tree(f"[bold]{escape(sc.id)}[/bold]", guide_style="dim")
    expanded: set[str] = set()
    readers: dict[str, list[str]] = {}
    for cname, c in sc.consumers.items():
        readers.setdefault(c.from_, []).append(cname)
    pattern_reads: dict[str, list[str]] = {}
    for pname, p in sc.patterns.items():
        for ch in pattern_channels(p)[0]:
            pattern_reads.setdefault(ch, []).append(pname)

    def add_channel(parent: Any, name: str, edge: str = "→") -> None:
        spec = sc.channels.get(name)
        if spec is None:
            parent.add(f"{edge} [red]{escape(name)}[/red] [dim](not declared)[/dim]")
            return
        if name in expanded:
            parent.add(f"{edge} {channel_label(name, spec)} [dim](shown above)[/dim]")
            return
        expanded.add(name)
        node = parent.add(f"{edge} {channel_label(name, spec)}")
        if spec.kind == "router":
            for b in spec.bindings:
                add_channel(node, b.to, f"[yellow]⇒ {escape(b.pattern or '(all)')}[/yellow] →")
        for cname in readers.get(name, []):
            c = sc.consumers[cname]
            cnode = node.add(consumer_label(cname, c))
            for message, to in _emits(c):
                add_channel(cnode, to, f"emits [italic]{escape(message)}[/italic] →")
            if c.dead_letter is not None:
                add_channel(cnode, c.dead_letter, "[red]☠ failed messages[/red] →")
        for pname in pattern_reads.get(name, []):
            p = sc.patterns[pname]
            if p.type == "request_reply":
                r = p.responder
                inst = f" ×{r.instances}" if r.instances > 1 else ""
                node.add(f"[bold cyan]responder[/bold cyan] [bold]{escape(r.name)}{inst}[/bold] "
                         f"[dim](pattern {escape(pname)}) · replies to {p.reply_to.replace('_', ' ')}[/dim]")
            else:
                node.add(f"[bold yellow]pattern[/bold yellow] [bold]{escape(pname)}[/bold] [dim]({p.type})[/dim]")
        dl = getattr(spec, "dead_letter", None)
        if dl is not None:
            add_channel(node, dl, "[red]☠ dead letters[/red] →")
        if spec.kind != "router" and not readers.get(name) and not pattern_reads.get(name):
            node.add("[dim](no consumer: messages wait here)[/dim]")

    for pname, p in sc.producers.items():
        add_channel(root.add(producer_label(pname, p)), p.to)
    for pname, p in sc.patterns.items():
        reads, writes = pattern_channels(p)
        pnode = root.add(f"[bold yellow]pattern[/bold yellow] [bold]{escape(pname)}[/bold] [dim]({p.type})[/dim]")
        if p.type == "request_reply":
            q = p.requester
            inst = f" ×{q.instances}" if q.instances > 1 else ""
            retry = f" · retry {q.retry.max_attempts}× → {q.retry.on_exhausted}" if q.retry is not None else ""
            pnode = pnode.add(f"[bold green]requester[/bold green] [bold]{escape(q.name)}{inst}[/bold] "
                              f"[dim]{escape(q.message)} · timeout {_fmt_ns(q.timeout)}{escape(retry)}[/dim]")
        elif reads:
            pnode.add("[dim]reads " + escape(", ".join(reads)) + "[/dim]")
        for w in writes:
            add_channel(pnode, w, "sends →")
    rest = [n for n in sc.channels if n not in expanded]
    if rest:
        other = root.add("[dim]channels no producer reaches[/dim]")
        for n in rest:
            if n not in expanded:
                add_channel(other, n, "·")
    return root


# --------------------------------------------------------------------------- expectations


def expectation_text(e: Any) -> str:
    """One expectation in words: the assertion, or the check with its fields."""
    if hasattr(e, "that"):
        text = e.that
        if e.during is not None:
            text += f"  during {e.during if isinstance(e.during, str) else [_fmt_ns(x) for x in e.during]}"
        return text
    skip = {"name", "check", "when", "within", "because", "allow_unknown"}
    fields = []
    for key, value in e.model_dump(exclude_defaults=True).items():
        if key in skip or value is None:
            continue
        shown = "[" + ", ".join(map(str, value)) + "]" if isinstance(value, list) else value
        fields.append(f"{key}={shown}")
    return e.check + (f"({', '.join(fields)})" if fields else "")


class ExpectationsView:
    """The `expect` block laid out for the width it gets: a table where every name and expression fits on a
    line of its column, else one block per expectation (its name and when, then its expression and its
    reason, each wrapped between words), as the run's checks are (`report.summary.ChecksView`)."""

    def __init__(self, sc: Any) -> None:
        self.sc = sc

    def __rich_console__(self, console: Any, options: Any) -> Any:
        rows = [(e.name or f"expect[{i}]", expectation_text(e), _when(e)) for i, e in enumerate(self.sc.expect)]
        widths = [max(len(r[k]) for r in rows) for k in range(3)]
        because = max((len(" ".join((e.because or "").split())) for e in self.sc.expect), default=0)
        fits = 4 + sum(widths) + 3 * 2 + (min(because, 30) + 3 if because else 0) <= options.max_width
        yield expectations_table(self.sc) if fits else self.stacked(rows)

    def stacked(self, rows: list[tuple[str, str, str]]) -> Any:
        from rich.console import Group

        from evtool.report.fmt import text, visible

        parts: list[Any] = []  # scenario text: control characters shown (`visible`), never markup (`hang`'s Text)
        for e, (name, expects, when) in zip(self.sc.expect, rows, strict=True):
            head = text(name, "cyan")
            head.append(visible(f"  {when}"), style="dim")
            parts += [head, hang("    ", visible(expects))]
            if e.because:
                parts.append(hang("    because ", visible(" ".join(e.because.split())), "dim"))
        return Group(*parts)


def _when(e: Any) -> str:
    when = e.when + (f" within {_fmt_ns(e.within)}" if e.within is not None else "")
    return when + (", aborts" if getattr(e, "abort", False) else "")


def expectations_view(sc: Any) -> Any:
    """The `expect` block for `evtool explain`: `ExpectationsView`, or a line saying there is none."""
    from rich.text import Text

    return ExpectationsView(sc) if sc.expect else Text("(no expectations: every run passes)", style="dim")


def expectations_table(sc: Any) -> Any:
    """The `expect` block as a table: name, what is checked, when, and why (`ExpectationsView` picks it where
    it fits)."""
    from rich.table import Table
    from rich.text import Text

    from evtool.report.fmt import text

    if not sc.expect:
        return Text("(no expectations: every run passes)", style="dim")
    table = Table(show_header=True, header_style="bold", expand=False, show_lines=False)
    table.add_column("name", style="cyan", no_wrap=True)
    table.add_column("expects", no_wrap=True)  # chosen only where every expression fits (ExpectationsView)
    table.add_column("when", style="dim", no_wrap=True)
    because = any(e.because for e in sc.expect)
    if because:  # without any, the expressions get its width
        table.add_column("because", style="dim", overflow="fold")
    for i, e in enumerate(sc.expect):
        table.add_row(text(e.name or f"expect[{i}]"), text(expectation_text(e)), text(_when(e)),
                      *([text(" ".join((e.because or "").split()))] if because else []))
    return table
