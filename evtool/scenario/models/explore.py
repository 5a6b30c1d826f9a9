"""`explore:`: what `evtool explore` may do to the scenario while it searches for a failing run."""


from typing import Literal

from pydantic import Field, field_validator

from evtool.scenario.models.base import Model, _custom

ExploreFaultKind = Literal["crash", "restart", "pause", "slow", "broker_restart", "duplicate", "drop"]

EXPLORE_FAULTS: tuple[str, ...] = ("crash", "restart", "pause", "slow", "broker_restart", "duplicate", "drop")
"""The faults explore can place, in the words of `faults:` (each is carried out as that fault is)."""


class Explore(Model):
    """The search space of `evtool explore`: which faults it may place, and how many in one run."""

    faults: list[ExploreFaultKind] = Field(
        default_factory=lambda: list(EXPLORE_FAULTS),
        description="the faults explore may place at the interesting points of a run (default: all of them)")
    max_faults: int = Field(2, ge=0, le=8, description="the most faults explore places in one run (0: seeds only)")
    scripted_faults: Literal["keep", "off"] = Field(
        "keep", description="keep: the scenario's own `faults:` stay in every run explored; off: explore starts "
                            "from the scenario without them, so whatever fails is explore's own doing")

    schedule: int | None = Field(
        None, ge=0, le=2**31, description="set by explore: a run with it orders the simultaneous events of "
                                          "different actors by a permutation drawn from this number, and "
                                          "makes the broker choices its profile allows (which ready consumer "
                                          "gets a message, the order of leases ending together) by draws from "
                                          "it")

    @field_validator("scripted_faults", mode="before")
    @classmethod
    def _yaml_words(cls, v: object) -> object:
        # YAML 1.1 reads a bare `off` as false (and `on` as true): take the word that was meant
        if v is False:
            return "off"
        if v is True:
            return "keep"
        return v

    @field_validator("faults")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        seen: set[str] = set()
        for kind in v:
            if kind in seen:
                raise _custom("explore_fault_repeated", "fault {found} is listed twice", "list each fault once",
                              found=repr(kind))
            seen.add(kind)
        return v
