"""The lesson quiz: which question is open, the student's choice, the verdict and the score.

A question (a lesson step with `ask`) pauses the run; the student picks a
choice with a letter key (`CHOICE_KEYS`: letters, so they never collide with
the tab keys 1-5) and the answer is judged at once. The first choice counts:
the score is the questions answered right out of the questions with choices
that were asked. A question without choices is shown, and its answer revealed
on a key, but not scored. Pure logic; no Textual import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evtool.sim.snapshot import LessonView, QuestionView

CHOICE_KEYS = "abcdghijkl"
"""The key of each choice, in order (`e` and `f` are the end screen and the fault menu: skipped)."""


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold().rstrip(".")


def right_choice(q: QuestionView) -> int | None:
    """The index of the choice that is the answer (None when no choice matches it)."""
    want = _norm(q.answer)
    for i, c in enumerate(q.choices):
        if _norm(c) == want:
            return i
    return None


@dataclass(frozen=True)
class Answer:
    """One answered (or revealed) question."""

    step: int
    question: str
    chose: int | None  # the choice's index; None when the answer was only revealed
    right: bool | None  # None for a question without choices


@dataclass
class Quiz:
    """The quiz of one run of a lesson (see the module docstring)."""

    lesson: str = ""
    answers: dict[int, Answer] = field(default_factory=dict)

    def open_question(self, lesson: LessonView | None) -> tuple[int, QuestionView] | None:
        """The current step's question, while it is the current step (answered or not)."""
        step = lesson.step if lesson else None
        if step is None or step.ask is None:
            return None
        return step.index, step.ask

    def pending(self, lesson: LessonView | None) -> tuple[int, QuestionView] | None:
        """The open question when it is not answered yet."""
        q = self.open_question(lesson)
        return q if q is not None and q[0] not in self.answers else None

    def choose(self, step: int, q: QuestionView, index: int) -> Answer | None:
        """Judge choice `index` for the question of `step`; None when there is no such choice or it is answered."""
        if step in self.answers or not 0 <= index < len(q.choices):
            return None
        answer = Answer(step, q.question, index, right_choice(q) == index)
        self.answers[step] = answer
        return answer

    def reveal(self, step: int, q: QuestionView) -> Answer | None:
        """Show the answer of a question without choices (not scored)."""
        if step in self.answers:
            return None
        answer = Answer(step, q.question, None, None)
        self.answers[step] = answer
        return answer

    @property
    def scored(self) -> list[Answer]:
        """The answers that count."""
        return [a for a in self.answers.values() if a.right is not None]

    def score(self, lesson: LessonView | None = None) -> tuple[int, int]:
        """(right, asked): questions with choices answered right, out of those asked so far (fired steps)."""
        asked = {a.step for a in self.scored}
        if lesson is not None:
            for i, _t in lesson.fired:
                ask = lesson.steps[i].ask
                if ask is not None and ask.choices:
                    asked.add(i)
        return sum(1 for a in self.scored if a.right), len(asked)

    def records(self) -> list[dict[str, Any]]:
        """The answers as plain data (stored with the run)."""
        return [{"step": a.step + 1, "question": a.question, "chose": a.chose, "right": a.right}
                for a in sorted(self.answers.values(), key=lambda a: a.step)]
