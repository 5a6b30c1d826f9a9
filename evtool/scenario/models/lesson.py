"""`lesson:`: teaching metadata, narrated steps, questions and try-next variations."""


from typing import Any, Literal

from pydantic import Field, model_validator

from evtool.scenario.models.base import Model, _custom
from evtool.scenario.types import Duration, Level

# --------------------------------------------------------------------------- lesson


class Question(Model):
    """A question the lesson asks; the answer is revealed on a key."""

    question: str
    answer: str
    explain: str | None = None
    choices: list[str] | None = None


class LessonStep(Model):
    """A narrated step, triggered at a time or by a trace event."""

    at: Duration | Literal["end"] | None = None
    event: str | None = Field(None, description="a selector: delivered{tag=poison, attempt=2}")
    nth: int = Field(1, ge=1)
    say: str
    pause: bool = False
    focus: list[str] = Field(default_factory=list)
    ask: Question | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> 'LessonStep':
        if (self.at is None) == (self.event is None):
            raise _custom("evtool_trigger", "a lesson step has exactly one trigger: `at` or `event`",
                          "e.g. `at: 0s`, or `event: dead_lettered{tag=poison}`")
        return self


class Variation(Model):
    """A `try_next` experiment: overrides and the expectations it is meant to break."""

    say: str
    set: dict[str, Any] = Field(default_factory=dict, description="path -> value, as with --set")
    fails: list[str] = Field(default_factory=list, description="names of expectations expected to fail")
    unknown: list[str] = Field(default_factory=list, description="names of expectations the variation leaves "
                               "undecided (e.g. the drain never finishes)")


class Lesson(Model):
    """Teaching metadata and the narrated steps."""

    title: str
    summary: str
    level: Level = "beginner"
    concepts: list[str] = Field(default_factory=list)
    goals: list[str] = Field(default_factory=list)
    prerequisites: list[str] = Field(default_factory=list)
    steps: list[LessonStep] = Field(default_factory=list)
    try_next: list[Variation | str] = Field(default_factory=list)


