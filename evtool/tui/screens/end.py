"""The end of a lesson: what happened (in words, reacting to the run), what to try next, and where to go.

It opens by itself when a lesson's run is over (and again with `e`). The
closing words react to the run: a check the lesson (or the variation) expects
to hold that failed is said, with what was observed, instead of the scripted
outcome. The try-next list has a key per variation (`1`...`9`) that launches
it in place; `r` runs the lesson again, `l` goes back to the lesson picker,
`m` shows the variations side by side (the matrix), esc stays on the
dashboard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from evtool.core.textsafe import visible
from evtool.scenario import models as m
from evtool.sim.snapshot import CheckView
from evtool.tui.format import markup_safe


@dataclass(frozen=True)
class Variation:
    """The variation a run is: its label, its overrides and the checks it is meant to break."""

    label: str = "lesson"
    overrides: dict[str, Any] = field(default_factory=dict)
    fails: tuple[str, ...] = ()
    say: str = ""


def variations(lesson: m.Lesson | None) -> list[tuple[Variation | None, str]]:
    """The lesson's try-next list: (a launchable variation, its text), or (None, a tip to try by hand)."""
    out: list[tuple[Variation | None, str]] = []
    n = 0
    for v in lesson.try_next if lesson else ():
        if isinstance(v, m.Variation) and v.set:
            n += 1
            say = " ".join(v.say.split())
            out.append((Variation(f"try {n}", dict(v.set), tuple(v.fails), say), say))
        else:
            out.append((None, " ".join((v.say if isinstance(v, m.Variation) else v).split())))
    return out


def what_happened(checks: Sequence[CheckView], expected_fails: Sequence[str] = ()) -> list[tuple[str, str]]:
    """Verdicts that differ from what the run expects: (style, sentence), one each."""
    out: list[tuple[str, str]] = []
    for c in checks:
        meant_to_fail = c.name in expected_fails
        if c.status == "fail" and not meant_to_fail:
            out.append(("bold red", f"✗ {c.name} failed: {c.observed} (expected: {c.expected})"))
        elif c.status == "pass" and meant_to_fail:
            out.append(("bold yellow", f"! {c.name} held, though this variation was meant to break it: "
                                       f"{c.observed}"))
        elif c.status == "unknown":
            out.append(("yellow", f"? {c.name} could not be decided: {c.observed}"))
    return out


def closing_text(outcome: str | None, checks: Sequence[CheckView], variation: Variation | None,
                 lesson: m.Lesson | None, quiz: tuple[int, int] = (0, 0), width: int | None = None) -> Text:
    """The closing words: the outcome, what happened instead of the script (if anything), the quiz score,
    the try-next list. With `width` (a short terminal) each try-next item is one line cut to that width,
    the check it breaks first, so the whole screen fits without scrolling."""
    t = Text()
    fails = variation.fails if variation else ()
    surprises = what_happened(checks, fails)
    if variation is not None and variation.overrides:
        t.append(f"You ran {variation.label}: ", style="bold")
        t.append(visible(variation.say) + "\n", style="")
        t.append("  " + visible(" ".join(f"--set {k}={v}" for k, v in variation.overrides.items())) + "\n\n",
                 style="cyan")
    passed = sum(1 for c in checks if c.status == "pass")
    if not surprises:
        if fails:
            t.append(f"✓ As this variation predicts: {', '.join(visible(f) for f in fails)} failed; "
                     f"the other checks held.\n", style="bold green")
        else:
            t.append(f"✓ The run {outcome or 'ended'}: every check held ({passed}/{len(checks)}).\n",
                     style="bold green")
    else:
        t.append("What happened instead of the lesson's script:\n", style="bold")
        for style, sentence in surprises:
            t.append("  " + visible(sentence) + "\n", style=style)
        t.append("  (the checks tab, 5, has the evidence)\n", style="dim")
    right, asked = quiz
    if asked:
        t.append(f"\nQuiz: {right} of {asked} right", style="bold cyan")
        t.append("\n" if width else " (stored with the run: `evtool runs` and the lesson picker show it)\n",
                 style="dim")
    items = variations(lesson)
    if items:
        t.append("\nTry next" + (" (its number runs it; m shows them all in full)" if width else "") + ":\n",
                 style="bold")
        for var, say in items:
            line = Text()
            if var is not None:
                key = var.label.split()[-1]
                line.append(f" {key} ", style="bold reverse")
                if width and var.fails:
                    line.append(" breaks " + visible(", ".join(var.fails)) + ":", style="yellow")
                line.append(" " + visible(say))
                if var.fails and not width:
                    line.append("  (breaks " + visible(", ".join(var.fails)) + ")", style="dim")
            else:
                line.append(" · ", style="dim")
                line.append(visible(say), style="dim")
            if width:
                line.truncate(width, overflow="ellipsis")
            t.append_text(line)
            t.append("\n")
    return t.rstrip() or t


def end_keys(replay: bool = False) -> Text:
    """The keys of the end screen (always on screen, under the text)."""
    t = Text()
    keys = [("l", "the lessons"), ("esc", "stay here")] if replay else [
        ("r", "run it again"), ("l", "the lessons"), ("m", "side by side"), ("esc", "stay here")]
    for key, words in keys:
        t.append(f" {key} ", style="bold reverse")
        t.append(f" {words}  ")
    return t


class EndModal(ModalScreen[None]):
    """The end of a lesson (see the module docstring)."""

    BINDINGS = [
        *[Binding(str(i), f"launch({i})", f"Launch variation {i}", show=False, id=f"end-launch-{i}")
          for i in range(1, 10)],
        Binding("r", "restart", "Run the lesson again", id="end-restart"),
        Binding("l", "lessons", "Back to the lessons", id="end-lessons"),
        Binding("m", "matrix", "The variations side by side", id="end-matrix"),
        Binding("escape,q,e", "close", "Stay on the dashboard", id="end-close"),
    ]

    DEFAULT_CSS = """
    EndModal { align: center middle; }
    EndModal > Vertical { width: 96%; max-width: 110; height: auto; max-height: 96%; border: round $accent;
                          background: $surface; padding: 0 1; }
    EndModal VerticalScroll { height: auto; max-height: 1fr; }
    EndModal #end-keys { height: auto; margin-top: 1; }
    """

    COMPACT_BELOW = 30
    """Terminal rows below which each try-next item is one line (80×24 fits without scrolling)."""

    def __init__(self, outcome: str | None, checks: Sequence[CheckView], variation: Variation | None,
                 lesson: m.Lesson | None, *, replay: bool = False, quiz: tuple[int, int] = (0, 0)) -> None:
        super().__init__()
        self.quiz = quiz
        self.outcome = outcome
        self.checks = tuple(checks)
        self.variation = variation
        self.lesson = lesson
        self.replay = replay
        self.items = [v for v, _ in variations(lesson) if v is not None]

    def compose(self) -> ComposeResult:
        """The closing text."""
        with Vertical() as box:
            title = self.lesson.title if self.lesson else "The run is over"
            box.border_title = markup_safe(f"The end: {title}")
            with VerticalScroll():
                yield Static(closing_text(self.outcome, self.checks, self.variation, self.lesson, self.quiz,
                                          width=self._compact_width()), id="end-text")
            yield Static(end_keys(self.replay), id="end-keys")

    def _compact_width(self) -> int | None:
        """The text's width in a short terminal (each item one line), else None."""
        width, height = self.app.size
        if height >= self.COMPACT_BELOW:
            return None
        return max(20, min(110, int(width * 0.96)) - 4)  # the box's width, less border and padding

    def on_resize(self) -> None:
        """Short or tall: lay the text out again."""
        self.query_one("#end-text", Static).update(
            closing_text(self.outcome, self.checks, self.variation, self.lesson, self.quiz,
                         width=self._compact_width()))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A launch key only for an existing variation; nothing launches from a replay."""
        if action == "launch":
            return not self.replay and 1 <= int(parameters[0]) <= len(self.items)  # type: ignore[call-overload]
        if action in ("restart", "matrix"):
            return not self.replay
        return True

    def action_launch(self, index: int) -> None:
        """Launch variation `index` (1-based) in place."""
        var = self.items[index - 1]
        self.dismiss(None)
        self.app.launch_variation(var)  # type: ignore[attr-defined]

    def action_restart(self) -> None:
        """Run the same lesson (or variation) again."""
        self.dismiss(None)
        self.app.launch_variation(self.variation)  # type: ignore[attr-defined]

    def action_lessons(self) -> None:
        """Back to the lesson picker."""
        self.dismiss(None)
        self.app.back_to_picker()  # type: ignore[attr-defined]

    def action_matrix(self) -> None:
        """The lesson and its variations side by side."""
        from evtool.tui.screens.matrix import MatrixModal

        self.app.push_screen(MatrixModal(self.app.base_path()))  # type: ignore[attr-defined]

    def action_close(self) -> None:
        """Back to the dashboard."""
        self.dismiss(None)
