"""A lesson's narration for `evtool run`: each step printed at the moment it happens, with its question.

`Narrator` is a trace listener: it matches the lesson's step triggers (with the
same `LessonTracker` the dashboard uses) and prints each step as it fires, in
order, through the `emit` callback it was given (the run's console: above the
live view, or straight into a pipe). At the end `steps()` says when each step
happened (or that it never did), and `steps_parts` renders that list for the
end-of-run report, so the summary says which step showed what.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from evtool.report.fmt import preset_summary, visible


def _first_sentence(text: str, limit: int = 240) -> str:
    flat = " ".join(text.split())
    m = re.match(r"(.+?[.!?])(\s|$)", flat)
    out = m.group(1) if m else flat
    if len(out) <= limit:
        return out
    return out[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + " …"  # cut between words


def _trigger(step: Any) -> str:
    from evtool.sim.host import describe_trigger

    return describe_trigger(step)


class Narrator:
    """Prints a lesson's steps as the run reaches them; a callable trace listener."""

    def __init__(self, lesson: Any, *, answers: bool = False,
                 emit: Callable[[RenderableType], None] | None = None) -> None:
        from evtool.sim.host import LessonTracker

        self.lesson = lesson
        self.answers = answers
        self.emit = emit
        self.tracker = LessonTracker(lesson)
        self.tracker.silent = True  # `evtool run` never pauses
        self.printed = 0

    def __call__(self, batch: Sequence[Any]) -> None:
        if not batch:
            return
        self.tracker.at_time(batch[0].t)
        self.tracker.observe(batch)
        self.tracker.at_time(batch[-1].t)
        self._flush()

    def finish(self, now: int) -> None:
        """The run ended: time steps up to `now`, then the `at: end` steps."""
        self.tracker.at_time(now)
        self.tracker.at_end(now)
        self._flush()

    def _flush(self) -> None:
        fired = self.tracker.fired
        while self.printed < len(fired):
            index, t = fired[self.printed]
            self.printed += 1
            if self.emit is not None:
                self.emit(self.render_step(index, t))

    def render_step(self, index: int, t: int) -> RenderableType:
        """One step as it happens: number, time, trigger, what to look at, and its question."""
        step = self.tracker.steps[index]
        head = Text.assemble(("step ", "bold magenta"), (f"{index + 1}", "bold magenta"),
                             (f" · {t / 1e9:.3f}s · ", "dim"), (visible(_trigger(step)), "magenta"))
        body = Table.grid(padding=(0, 0))
        body.add_column(width=3, no_wrap=True)
        body.add_column()
        body.add_row("", Text(visible(" ".join(step.say.split()))))
        if step.focus:
            body.add_row("", Text("look at: " + visible(", ".join(step.focus)), style="dim"))
        if step.ask is not None:
            choices = f"  ({visible(' | '.join(step.ask.choices))})" if step.ask.choices else ""
            body.add_row("", Text(f"? {visible(step.ask.question)}{choices}", style="cyan"))
            if self.answers:
                body.add_row("", Text(f"answer: {visible(step.ask.answer)}", style="green"))
                if step.ask.explain:
                    body.add_row("", Text(visible(" ".join(step.ask.explain.split())), style="green"))
        return Group(head, body)

    def steps(self) -> list[dict[str, Any]]:
        """Every step: when it happened (None: never), its trigger and what it showed (its first sentence)."""
        when = {i: t for i, t in self.tracker.fired}
        return [{"step": i + 1, "at_s": None if i not in when else round(when[i] / 1e9, 3),
                 "trigger": _trigger(s), "showed": _first_sentence(s.say),
                 "question": None if s.ask is None else s.ask.question}
                for i, s in enumerate(self.tracker.steps)]


def steps_parts(steps: list[dict[str, Any]]) -> list[RenderableType]:
    """The end-of-run list: which step happened when, and what it showed."""
    if not steps:
        return []
    t = Table(title="Lesson steps", title_justify="left", show_header=True, box=None, pad_edge=False)
    t.add_column("#", justify="right", no_wrap=True)
    t.add_column("when", justify="right", no_wrap=True)
    t.add_column("showed")
    for s in steps:
        when = "never" if s["at_s"] is None else f"{s['at_s']:.1f}s"
        style = "yellow" if s["at_s"] is None else ""
        showed = visible(s["showed"])
        if s["at_s"] is None:
            showed = f"did not happen ({visible(s['trigger'])}): {showed}"
        t.add_row(str(s["step"]), Text(when, style=style), Text(showed, style=style))
    return [t]


class RunHooks:
    """What `evtool run` adds to a run: the lesson's narration and numbers, a retry preset's words.

    `listeners` go to the engine; `finish` is called with the outcome once the engine finished
    (before it is recorded), `add_to` with the report before it is printed.
    """

    def __init__(self, scenario: Any, *, answers: bool = False,
                 emit: Callable[[RenderableType], None] | None = None, warnings: Sequence[Any] = ()) -> None:
        from evtool.report.facts import LessonFacts

        self.warnings = list(warnings)
        self.scenario = scenario
        self.facts = LessonFacts(scenario)
        self.narrator = (Narrator(scenario.lesson, answers=answers, emit=emit)
                         if scenario.lesson is not None and scenario.lesson.steps else None)
        self.listeners: list[Callable[[Sequence[Any]], None]] = [self.facts]
        if self.narrator is not None:
            self.listeners.append(self.narrator)

    def finish(self, outcome: Any, now: int) -> None:
        if self.narrator is not None:
            self.narrator.finish(now)
        outcome.summary["lesson_facts"] = self.facts.facts()
        presets = preset_summary(self.scenario)
        if presets:  # a framework's retry preset: the report speaks its words (report/fmt.py FRAMEWORK_WORDS)
            outcome.summary["retry_presets"] = presets

    def add_to(self, report: dict[str, Any]) -> None:
        report["steps"] = self.narrator.steps() if self.narrator is not None else []
        report["problems"] = [*(report.get("problems") or []), *self.facts.problems]
        report["warnings"] = [w.as_dict() for w in self.warnings]  # the lint warnings, for `--json`
