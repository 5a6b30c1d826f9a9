"""`parameters:` and the root `Scenario`, the whole file."""


from typing import Any, Literal

from pydantic import Field, field_validator

from evtool.scenario.models.actors import Consumer, Producer
from evtool.scenario.models.base import Model, _custom
from evtool.scenario.models.channels import Channel
from evtool.scenario.models.expect import Alert, Expectation
from evtool.scenario.models.explore import Explore
from evtool.scenario.models.faults import Fault
from evtool.scenario.models.lesson import Lesson
from evtool.scenario.models.patterns import Pattern
from evtool.scenario.models.run import Broker, MessageSchema, Run
from evtool.scenario.types import Name

# --------------------------------------------------------------------------- parameters and root


class Parameter(Model):
    """A named knob, referenced as `${name}` and set with `--set name=value`."""

    default: Any
    values: list[Any] | None = None
    description: str | None = None


class Scenario(Model):
    """A whole scenario file."""

    evtool: Literal["1"] = Field(description='the language version: "1"')
    id: Name
    description: str | None = None
    lesson: Lesson | None = None
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    run: Run
    broker: Broker = Field(default_factory=Broker)
    schemas: dict[str, MessageSchema] = Field(default_factory=dict)
    channels: dict[str, Channel] = Field(min_length=1)
    producers: dict[str, Producer] = Field(default_factory=dict)
    consumers: dict[str, Consumer] = Field(default_factory=dict)
    patterns: dict[str, Pattern] = Field(default_factory=dict)
    faults: list[Fault] = Field(default_factory=list)
    expect: list[Expectation] = Field(default_factory=list)
    alerts: list[Alert] = Field(default_factory=list)
    explore: Explore | None = Field(None, description="what `evtool explore` may do (docs/explore.md)")

    @field_validator("evtool", mode="before")
    @classmethod
    def _version(cls, v: Any) -> Any:
        if v in (1, 1.0, "1.0"):
            return "1"
        if v != "1":
            raise _custom("evtool_version", "unknown language version {found}; this evtool reads version \"1\"",
                          'write `evtool: "1"`', found=repr(v))
        return v
