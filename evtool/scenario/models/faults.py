"""`faults:`: crashes, restarts, pauses, slowdowns, scaling, broker restarts, message faults."""


from typing import Annotated, Any, Literal

from pydantic import Field

from evtool.scenario.models.base import MAX_INSTANCES, Model
from evtool.scenario.models.values import DurationDist
from evtool.scenario.types import Duration, PositiveDuration

# --------------------------------------------------------------------------- faults


class FaultBase(Model):
    """When a fault happens and what it hits."""

    name: str | None = None
    at: Duration = "0s"
    every: PositiveDuration | None = None
    for_: PositiveDuration | Literal["end"] | None = Field(None, alias="for")
    target: str = Field(description="consumer:NAME, consumer:NAME#N, channel:NAME, producer:NAME, broker")
    enabled: bool = True


class CrashFault(FaultBase):
    """Crash consumer instances; they restart after `restart_after` (or never)."""

    action: Literal["crash"]
    restart_after: PositiveDuration | None = None


class RestartFault(FaultBase):
    """Restart a crashed or paused consumer instance."""

    action: Literal["restart"]


class PauseFault(FaultBase):
    """Stop an instance taking work for a while (a GC pause, a zombie)."""

    action: Literal["pause"]


class SlowFault(FaultBase):
    """Make a consumer slower (multiply its processing time, or add latency)."""

    action: Literal["slow"]
    latency_factor: float | None = Field(None, gt=0, le=1_000_000)
    latency: DurationDist | None = None


class ScaleFault(FaultBase):
    """Change a consumer's number of instances."""

    action: Literal["scale"]
    instances: int = Field(ge=0, le=MAX_INSTANCES)


class BrokerRestartFault(FaultBase):
    """Restart the broker: only durable state survives."""

    action: Literal["broker_restart"]
    downtime: Duration = "0s"


class ProbabilisticFault(FaultBase):
    """A fault that hits each message with a probability, within a scope."""

    probability: float = Field(ge=0.0, le=1.0)
    scope: Literal["per_message", "per_instance"] = Field(description="what one draw of the probability covers")


class DropFault(ProbabilisticFault):
    """Lose deliveries."""

    action: Literal["drop"]


class DuplicateFault(ProbabilisticFault):
    """Deliver some messages twice."""

    action: Literal["duplicate"]


class DelayFault(ProbabilisticFault):
    """Hold some deliveries back."""

    action: Literal["delay"]
    latency: DurationDist


class RedriveFault(FaultBase):
    """Send dead letters back to the channel they died in (all of them, or one message)."""

    action: Literal["redrive"]
    message: str | None = Field(None, description="one message id; all dead letters when omitted")


class PoisonFault(FaultBase):
    """Publish a poison message from the timeline."""

    action: Literal["poison"]
    tag: str = "poison"
    payload: dict[str, Any] = Field(default_factory=dict)
    key: str | None = None


Fault = Annotated[
    CrashFault | RestartFault | PauseFault | SlowFault | ScaleFault | BrokerRestartFault | DropFault
    | DuplicateFault | DelayFault | PoisonFault | RedriveFault,
    Field(discriminator="action"),
]


