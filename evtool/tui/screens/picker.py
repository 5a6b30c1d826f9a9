"""The lesson picker: the bundled lessons with title, level and concepts; enter opens one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from evtool.core.textsafe import visible
from evtool.report.presentation import LEVEL_STYLE
from evtool.scenario.lessons import LessonInfo


def _score_text(score: Any) -> str:
    return f"{score.right}/{score.asked}" if score is not None and score.asked else ""


def lesson_label(info: LessonInfo, scores: tuple[Any, Any] | None = None) -> Text:
    """One line of the list: level, title, and the best quiz score so far."""
    t = Text()
    t.append(f"{info.level or '—':<13}", style=LEVEL_STYLE.get(info.level, "dim"))
    t.append(visible(info.title), style="bold" if info.error is None else "red")
    if scores is not None and _score_text(scores[0]):
        best = scores[0]
        t.append(f"  quiz {_score_text(best)}", style="bold green" if best.right == best.asked else "cyan")
    return t


def lesson_preview(info: LessonInfo, scores: tuple[Any, Any] | None = None) -> Text:
    """The highlighted lesson: summary, concepts, goals, quiz scores."""
    t = Text()
    t.append(visible(info.title) + "\n", style="bold")
    t.append(f"{visible(info.id)}  ·  {visible(info.level)}\n\n", style="dim")
    if info.error:
        t.append(f"✗ this lesson does not load: {visible(info.error)}\n", style="bold red")
        return t
    t.append(visible(info.summary) + "\n\n")
    if scores is not None and _score_text(scores[1]):
        t.append("Quiz: ", style="bold")
        t.append(f"best {_score_text(scores[0])}, last {_score_text(scores[1])}\n\n", style="cyan")
    if info.concepts:
        t.append("Concepts: ", style="bold")
        t.append(", ".join(visible(c) for c in info.concepts) + "\n\n", style="cyan")
    if info.goals:
        t.append("You will be able to:\n", style="bold")
        for g in info.goals:
            t.append(f"  • {visible(g)}\n")
    t.append("\nenter opens it · space pauses · ? lists every key", style="dim")
    return t


class LessonPickerScreen(Screen[None]):
    """Pick a lesson (the app opens it in the dashboard)."""

    BINDINGS = [
        Binding("q", "app.quit", "Quit", id="picker-quit"),
        Binding("question_mark", "app.help", "Help", id="picker-help", key_display="?"),
    ]

    @dataclass
    class Picked(Message):
        """A lesson was chosen."""

        info: LessonInfo

    def __init__(self, lessons: list[LessonInfo], scores: dict[str, tuple[Any, Any]] | None = None) -> None:
        super().__init__()
        self.lessons = lessons
        self.scores = scores or {}
        """Lesson id -> (best, latest) quiz score."""

    def compose(self) -> ComposeResult:
        """The list and the preview side by side."""
        yield Static(Text(" evtool  lessons: pick one and press enter ", style="reverse bold"), id="picker-title")
        with Horizontal(id="picker-body"):
            yield OptionList(*[Option(lesson_label(info, self.scores.get(info.id)), id=str(i)) for i, info in enumerate(self.lessons)],
                             id="lesson-list")
            with VerticalScroll(id="lesson-preview-box"):
                yield Static("", id="lesson-preview")
        yield Footer()

    def on_mount(self) -> None:
        """Focus the list and preview the first lesson."""
        options = self.query_one(OptionList)
        options.focus()
        if self.lessons:
            options.highlighted = 0
            self._preview(0)
        else:
            self.query_one("#lesson-preview", Static).update("No lessons found.")

    def _preview(self, index: int) -> None:
        self.query_one("#lesson-preview", Static).update(lesson_preview(self.lessons[index], self.scores.get(self.lessons[index].id)))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """Preview the highlighted lesson."""
        self._preview(int(event.option.id or 0))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Open the chosen lesson."""
        info = self.lessons[int(event.option.id or 0)]
        if info.error:
            self.notify(f"{visible(info.id)} does not load: {visible(info.error)}", severity="error",
                        markup=False)
            return
        self.post_message(self.Picked(info))
