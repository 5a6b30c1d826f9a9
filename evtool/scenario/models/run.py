"""`run:`, `broker:` and `schemas:`: how long and how a run goes, broker settings, message schemas."""


from typing import Any, Literal

from pydantic import Field, field_validator

from evtool.scenario.models.base import Model, Profile, _custom
from evtool.scenario.models.values import DurationDist
from evtool.scenario.types import PositiveDuration, Size

# --------------------------------------------------------------------------- run and broker


class Drain(Model):
    """After the load phase: wait until nothing is ready, in flight or delayed."""

    max: PositiveDuration = Field("1m", description="give up draining after this long")


DEFAULT_MAX_EVENTS = 5_000_000
"""Kernel events a run may process; the largest bundled lesson needs about 100,000."""
DEFAULT_MAX_MESSAGES = 2_000_000
"""Messages a run may publish; the largest bundled lesson publishes about 50,000."""
DEFAULT_EVENTS_PER_INSTANT = 50_000
"""Kernel events at one virtual instant before the run counts as a zero-time loop (lessons: at most 16)."""
DEFAULT_MAX_MEMORY = "300MB"
"""How far resident memory may grow during a run; the largest bundled lesson grows it by about 40 MB."""
DEFAULT_MAX_WALL_S = 60.0
"""`evtool run` without `wall`: an unpaced run may take this long (the slowest lesson takes about 10 s on a
busy machine); a paced run gets its paced time on top. The dashboard and the Python API have no default."""
BUDGET_CEILING = 10**12
"""No budget may be set above this: a number this large is a typo, not a run."""


class Budget(Model):
    """What one run may consume before it is stopped as `unknown` (a scenario from elsewhere is safe to run)."""

    events: int = Field(DEFAULT_MAX_EVENTS, ge=1, le=BUDGET_CEILING,
                        description="kernel events the run may process; `--max-events` overrides it")
    messages: int = Field(DEFAULT_MAX_MESSAGES, ge=1, le=BUDGET_CEILING,
                          description="messages the run may publish; `--max-messages` overrides it")
    wall: PositiveDuration | None = Field(None, description="wall-clock time the run may take; `--max-wall` "
                                                            "overrides it; `evtool run` stops an unpaced run "
                                                            "after 1m without it, a paced one 1m after its paced "
                                                            "time")
    memory: Size = Field(DEFAULT_MAX_MEMORY, ge=1, description="how far the process's resident memory may grow during "
                                                         "the run; `--max-memory` overrides it")
    events_per_instant: int = Field(DEFAULT_EVENTS_PER_INSTANT, ge=1, le=BUDGET_CEILING,
                                    description="events at one virtual instant before the run is stopped "
                                                "as a zero-time loop")


class Run(Model):
    """How the run is driven: seed, clock, phases."""

    seed: int = Field(description="the seed of every random stream; `--seed` overrides it")
    clock: Literal["virtual", "realtime"] = "virtual"
    speed: float | Literal["max"] = Field(
        "max", description="virtual seconds per wall second when paced; `max` runs as fast as possible"
    )
    duration: PositiveDuration = Field(description="the load phase: producers are active this long")
    drain: Drain = Field(default_factory=Drain)
    stop_when: str | None = Field(None, description="an assertion that ends the run early when it holds")
    budget: Budget = Field(default_factory=Budget, description="limits on events, messages and wall time")

    @field_validator("speed")
    @classmethod
    def _speed(cls, v: float | str) -> float | str:
        if isinstance(v, float | int) and not (0.01 <= v <= 10_000):
            raise _custom("evtool_range", "speed must be between 0.01 and 10000 (or `max`)", "e.g. `speed: 2`")
        return v


class Broker(Model):
    """The local core's semantics: which broker it imitates, and how far apart hops are."""

    profile: Profile = "default"
    hop_latency: DurationDist = "0s"
    delivery: Literal["at_least_once", "at_most_once"] = "at_least_once"
    persistence: Literal["durable", "memory"] = "durable"
    settings: dict[str, Any] = Field(default_factory=dict,
                                     description="override any field of the profile (see docs/profiles.md)")


# --------------------------------------------------------------------------- schemas


class UpcastRule(Model):
    """A declarative upcaster from one version to the next."""

    set: dict[str, Any] = Field(default_factory=dict)
    rename: dict[str, str] = Field(default_factory=dict)
    drop: list[str] = Field(default_factory=list)


class MessageSchema(Model):
    """A message type, its current version and how older versions are upcast."""

    version: int = Field(1, ge=1)
    fields: dict[str, Literal["string", "integer", "number", "boolean", "object", "array"]] = Field(
        default_factory=dict
    )
    upcast: dict[str, UpcastRule] = Field(default_factory=dict, description='keys like "1->2"')

    @field_validator("upcast")
    @classmethod
    def _upcast_keys(cls, v: dict[str, UpcastRule]) -> dict[str, UpcastRule]:
        for key in v:
            parts = key.split("->")
            if len(parts) != 2 or not all(p.strip().isdigit() for p in parts) or int(parts[1]) != int(parts[0]) + 1:
                raise _custom("evtool_upcast", "upcast key `{key}` must be `N->N+1`", 'e.g. "1->2"', key=key)
        return v


