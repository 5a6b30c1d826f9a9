"""Matching a lesson's steps on the trace, on the host's side (never emitted into the trace).

A step fires at a virtual time or on the nth event matching its selector; a
step with `pause: true` asks the host to pause right after it.
"""

from __future__ import annotations

from collections.abc import Sequence

from evtool.core.events import TraceEvent
from evtool.scenario import models as m
from evtool.scenario.selectors import Selector, parse_selector
from evtool.sim.lessonview import LessonStepView, LessonView, QuestionView


def describe_trigger(step: m.LessonStep) -> str:
    """A step's trigger as written: ``at 20s``, ``at end`` or the selector (with `nth`)."""
    if step.event is not None:
        return step.event + (f" (#{step.nth})" if step.nth > 1 else "")
    if step.at == "end":
        return "at end"
    return f"at {(step.at or 0) / 1e9:g}s"


class LessonTracker:
    """Matches a lesson's step triggers against the trace and virtual time, on the host's side."""

    def __init__(self, lesson: m.Lesson | None) -> None:
        self.lesson = lesson
        steps = list(lesson.steps) if lesson is not None else []
        self.steps = steps
        self.selectors: dict[int, Selector] = {}
        self.counts: dict[int, int] = {}
        self.times: list[tuple[int, int]] = []
        self.end_steps: list[int] = []
        for i, s in enumerate(steps):
            if s.event is not None:
                self.selectors[i] = parse_selector(s.event)
            elif s.at == "end":
                self.end_steps.append(i)
            else:
                self.times.append((int(s.at or 0), i))
        self.times.sort()
        self.fired: list[tuple[int, int]] = []
        self.pause_request: int | None = None
        self.silent = False
        self.views = tuple(
            LessonStepView(index=i, say=s.say, trigger=describe_trigger(s), pause=s.pause, focus=tuple(s.focus),
                           ask=None if s.ask is None else QuestionView(s.ask.question, s.ask.answer, s.ask.explain,
                                                                       tuple(s.ask.choices or ())))
            for i, s in enumerate(steps))

    def _fire(self, index: int, t: int) -> None:
        self.fired.append((index, t))
        if self.steps[index].pause and not self.silent:
            self.pause_request = index

    def observe(self, batch: Sequence[TraceEvent]) -> None:
        """Match a batch of events against the pending event steps."""
        if not self.selectors:
            return
        for ev in batch:
            for i, sel in list(self.selectors.items()):
                if sel.matches(ev):
                    n = self.counts.get(i, 0) + 1
                    self.counts[i] = n
                    if n >= self.steps[i].nth:
                        del self.selectors[i]
                        self._fire(i, ev.t)
            if not self.selectors:
                return

    def at_time(self, now: int) -> None:
        """Fire the time steps whose time has come."""
        while self.times and self.times[0][0] <= now:
            t, i = self.times.pop(0)
            self._fire(i, max(t, 0))

    def at_end(self, now: int) -> None:
        """Fire the `at: end` steps."""
        for i in self.end_steps:
            self._fire(i, now)
        self.end_steps = []

    def next_pause_time(self) -> int | None:
        """The earliest pending time step that pauses (the host stops exactly there)."""
        for t, i in self.times:
            if self.steps[i].pause:
                return t
        return None

    def event_pause_pending(self) -> bool:
        """Whether some pending event step pauses (the host then advances one kernel event at a time)."""
        return any(self.steps[i].pause for i in self.selectors)

    def view(self) -> LessonView | None:
        """The lesson's progress, frozen."""
        if self.lesson is None:
            return None
        current = self.fired[-1][0] if self.fired else None
        return LessonView(title=self.lesson.title, summary=self.lesson.summary, steps=self.views,
                          fired=tuple(self.fired), current=current)


# ---------------------------------------------------------------------------- the host


