"""A lesson's progress as plain frozen data: what the host's `LessonTracker` hands out.

Kept apart from `evtool.sim.snapshot` (which re-exports these classes) because `evtool run`
narrates a lesson through the tracker without ever building a dashboard snapshot: importing
the snapshot's twenty-odd slotted dataclasses cost the run about 7 ms of start-up.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QuestionView:
    """A lesson question; the dashboard reveals the answer on a key."""

    question: str
    answer: str
    explain: str | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LessonStepView:
    """One narrated step of the lesson."""

    index: int
    say: str
    trigger: str
    pause: bool = False
    focus: tuple[str, ...] = ()
    ask: QuestionView | None = None


@dataclass(frozen=True, slots=True)
class LessonView:
    """The lesson's progress: which steps fired (and when), and the current one."""

    title: str
    summary: str
    steps: tuple[LessonStepView, ...]
    fired: tuple[tuple[int, int], ...] = ()  # (step index, virtual time)
    current: int | None = None

    @property
    def step(self) -> LessonStepView | None:
        """The current step, or None before the first fires."""
        return None if self.current is None else self.steps[self.current]
