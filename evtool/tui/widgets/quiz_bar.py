"""The quiz bar: the open question and its choices, docked above the footer so it is never below the fold.

While a question is waiting it shows the question and one key per choice
(`a`, `b`, `c`, ...); once answered it shows the verdict (right, or not
quite with the right answer) and the lesson's explanation, until the run goes
on. It is hidden when there is no question. Every piece of lesson text is
shown as text (control characters escaped), never as markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from evtool.core.textsafe import visible
from evtool.sim.snapshot import QuestionView, Snapshot
from evtool.tui.quiz import CHOICE_KEYS, Answer, Quiz, right_choice


def _say(text: str) -> str:
    return visible(" ".join(text.split()))


def quiz_text(q: QuestionView, answer: Answer | None, score: tuple[int, int], width: int) -> Text:
    """The bar's content for question `q` (answered or not)."""
    t = Text()
    right, asked = score
    if answer is None:
        t.append("? ", style="bold yellow")
        t.append(_say(q.question), style="bold")
        if q.choices:
            parts = [(CHOICE_KEYS[i] if i < len(CHOICE_KEYS) else "?", _say(c)) for i, c in enumerate(q.choices)]
            inline = sum(len(k) + len(c) + 4 for k, c in parts) <= max(20, width - 2)
            t.append("\n" if inline else "")
            for key, choice in parts:
                t.append("  " if inline else "\n  ")
                t.append(f" {key} ", style="bold reverse")
                t.append(" " + choice)
            t.append("\n")
            t.append("press a letter to answer · space goes on without answering", style="dim")
        else:
            t.append("\n")
            t.append("think, then press ", style="dim")
            t.append("a", style="bold")
            t.append(" to see the answer (not scored) · space goes on", style="dim")
    else:
        if answer.right is True:
            t.append("✓ Right: ", style="bold green")
            t.append(_say(q.answer), style="bold green")
        elif answer.right is False:
            want = right_choice(q)
            t.append("✗ Not quite: ", style="bold red")
            t.append("you chose ", style="")
            t.append(_say(q.choices[answer.chose or 0]), style="red")
            t.append("; the answer is ")
            if want is not None:
                t.append(f"({CHOICE_KEYS[want]}) ", style="bold")
            t.append(_say(q.answer), style="bold green")
        else:
            t.append("Answer: ", style="bold")
            t.append(_say(q.answer), style="bold green")
        if q.explain:
            t.append("\n")
            t.append(_say(q.explain))
        t.append("\n")
        t.append("space goes on", style="dim")
    if asked:
        t.append(f"   quiz {right}/{asked}", style="bold cyan")
    return t


class QuizBar(Static):
    """The quiz bar (see the module docstring)."""

    DEFAULT_CSS = """
    QuizBar { height: auto; max-height: 9; background: $boost; border-top: solid $warning;
              padding: 0 1; display: none; }
    """

    def __init__(self, quiz: Quiz, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.quiz = quiz
        self._key: tuple[object, ...] | None = None
        self._snap: Snapshot | None = None

    def update_from(self, snap: Snapshot) -> None:
        """Show the open question of this snapshot, or hide."""
        self._snap = snap
        open_q = self.quiz.open_question(snap.lesson)
        answer = self.quiz.answers.get(open_q[0]) if open_q else None
        # Shown while the question waits; the verdict stays until the run goes on.
        show = open_q is not None and (answer is None or (snap.paused and snap.outcome is None))
        key = (open_q, answer, show, self.quiz.score(snap.lesson), self.size.width)
        if key == self._key:
            return
        self._key = key
        self.display = show
        if show and open_q is not None:
            self.update(quiz_text(open_q[1], answer, self.quiz.score(snap.lesson), self.size.width or 78))

    def on_resize(self) -> None:
        """Lay the choices out again for the new width."""
        if self._snap is not None:
            self._key = None
            self.update_from(self._snap)
