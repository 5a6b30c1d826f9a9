"""The lesson pane: the current step's text and the steps so far (the question itself is in the quiz bar)."""

from __future__ import annotations

import re

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from evtool.core.textsafe import visible
from evtool.sim.snapshot import LessonView, Snapshot
from evtool.tui import format as fmt
from evtool.tui.quiz import Quiz
from evtool.tui.screens.end import what_happened

_CODE = re.compile(r"`([^`]+)`")


def rich_say(text: str, style: str = "") -> Text:
    """Lesson text with `code` spans in bold cyan (control characters shown escaped, never markup)."""
    text = visible(text, multiline=True)
    out = Text(style=style)
    pos = 0
    for match in _CODE.finditer(text):
        out.append(text[pos:match.start()])
        out.append(match.group(1), style="bold cyan")
        pos = match.end()
    out.append(text[pos:])
    return out


class LessonPane(VerticalScroll):
    """The lesson's narration (see the module docstring)."""

    DEFAULT_CSS = """
    LessonPane { height: 1fr; }
    LessonPane > Static { width: 1fr; }
    """

    def __init__(self, quiz: Quiz | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.body = Static("", id="lesson-text")
        self.quiz = quiz or Quiz()
        self.variation: object | None = None
        """The variation the run is (its `fails` are expected): set by the dashboard."""
        self._key: tuple[object, ...] | None = None
        self.lesson: LessonView | None = None
        self._snap: Snapshot | None = None

    def compose(self):  # type: ignore[no-untyped-def]
        """The text lives in one Static."""
        yield self.body

    def on_resize(self) -> None:
        """Redraw for the new size (the list of steps shows only when there is room)."""
        if self._snap is not None:
            self.update_from(self._snap)

    def update_from(self, snap: Snapshot) -> None:
        """Show the lesson's state in this snapshot."""
        lesson = snap.lesson
        self.lesson = lesson
        self._snap = snap
        key = (lesson.fired if lesson else None, snap.paused_by, snap.outcome, snap.checks if snap.outcome else None,
               tuple(self.quiz.answers),
               snap.paused, self.size.height >= 20)
        if key == self._key:
            return
        self._key = key
        self.body.update(self._lesson_text(snap))

    def _lesson_text(self, snap: Snapshot) -> Text:
        lesson = snap.lesson
        t = Text()
        if lesson is None:
            t.append("No lesson in this scenario.\n\n", style="dim")
            t.append("Watch the lanes and the checks; press ", style="dim")
            t.append("?", style="bold")
            t.append(" for every key.", style="dim")
            return t
        step = lesson.step
        total = len(lesson.steps)
        if step is None:
            t.append(rich_say(lesson.summary))
            t.append("\n\nPress ", style="dim")
            t.append("space", style="bold")
            t.append(" to start.", style="dim")
            return t
        fired = {i for i, _ in lesson.fired}
        t.append(f"Step {step.index + 1} of {total}", style="bold reverse")
        t.append(" " + "".join("●" if i in fired else "○" for i in range(total)), style="cyan")
        when = dict(lesson.fired).get(step.index, 0)
        t.append(f" at {fmt.vtime(when)}", style="dim")
        right, asked = self.quiz.score(lesson)
        if asked:
            t.append(f" quiz {right}/{asked}", style="bold cyan")
        t.append("\n")
        t.append(rich_say(step.say))
        t.append("\n")
        msgs = [f.split(":", 1)[1] for f in step.focus if f.startswith("message:")]
        if msgs:
            t.append("\n▸ enter ", style="bold")
            t.append(f"inspects {visible(msgs[0])}, s shows its sequence", style="dim")
        if step.ask is not None:
            answer = self.quiz.answers.get(step.index)
            if answer is None:
                t.append("\n? a question waits below", style="bold yellow")
            else:
                mark, style = {True: ("✓ answered right", "bold green"), False: ("✗ not quite", "bold red"),
                               None: ("· answer shown", "dim")}[answer.right]
                t.append("\n" + mark, style=style)
        t.append("\n")
        if snap.paused_by and snap.paused and snap.outcome is None:
            t.append("\n‖ paused by the lesson: press ", style="yellow")
            t.append("space", style="bold yellow")
            t.append(" to go on", style="yellow")
        elif snap.outcome is not None:
            sym = "✓" if snap.outcome == "passed" else "✗" if snap.outcome == "failed" else "?"
            t.append(f"\n{sym} run {snap.outcome}", style="bold green" if snap.outcome == "passed" else "bold red")
            surprises = what_happened(snap.checks, getattr(self.variation, "fails", ()))
            if surprises:
                t.append("\nWhat happened instead:", style="bold")
                for style, sentence in surprises:
                    t.append("\n" + visible(sentence), style=style)
            t.append("\ne shows what to try next; the checks tab (5) tells why.", style="dim")
        if self.size.height < 20:
            return t
        t.append("\n")
        for s in lesson.steps:
            mark, style = ("✓", "green") if s.index in fired else ("○", "dim")
            if s.index == step.index:
                mark, style = "▶", "bold"
            t.append(f"{mark} {s.index + 1}. ", style=style)
            t.append(visible(s.trigger) + ("  ‖" if s.pause else "") + "\n", style="dim")
        return t
