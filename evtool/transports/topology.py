"""The scenario's channels as a `Topology` a transport declares (and the profile that goes with it)."""

from __future__ import annotations

from typing import Any

from evtool.core.profiles import Profile
from evtool.scenario import models as m
from evtool.sim.patterns import pattern_channels
from evtool.sim.plan import model_profile
from evtool.transports.base import ChannelPlan, Topology

DEFAULT_ACK_WAIT_NS = 30 * 1_000_000_000
"""The lease used where a broker needs one and the scenario sets none (NATS AckWait, the Redis claimer)."""


def _max_deliveries(spec: Any, profile: Profile) -> int | None:
    md = spec.max_deliveries
    if md == "unlimited" or md == 0:
        return None
    if md is None:
        return profile.max_deliveries
    return int(md)


def _dedup_window(spec: Any, profile: Profile) -> int | None:
    """The channel's dedup window as the core computes it: its own (``0s`` = off), else the profile's."""
    dw = spec.dedup_window
    if dw is None:
        return profile.dedup_window_ns
    return dw or None


def start_position(scenario: m.Scenario, channel: str, start_from: str, profile: Profile) -> str:
    """Where a new subscription of a consumer starts (decision 2): ``earliest`` or ``latest``.

    ``committed`` (the default: no committed position yet) is ``latest`` on a topic and the profile's
    ``log_start`` on a log, as the core's `Broker.subscribe` does.
    """
    if start_from in ("earliest", "latest"):
        return start_from
    return profile.log_start if isinstance(scenario.channels.get(channel), m.LogChannel) else "latest"


def build_topology(scenario: m.Scenario, prefix: str, profile: Profile | None = None, *,
                   patterns: bool = True) -> Topology:
    """Plan every channel of `scenario` under `prefix`.

    `profile` supplies the defaults a channel leaves unset (delivery limit);
    by default the scenario's own profile. With `patterns` (when they run on the broker) the plan also
    holds what the scenario's `patterns:` read: their groups and their private queues (`pattern_channels`).
    """
    if profile is None:
        profile = model_profile(scenario)  # broker.settings as the core reads them (`ack_timeout: 2s`)
    groups: dict[str, list[str]] = {}
    first: dict[tuple[str, str], Any] = {}      # (channel, group) -> the consumer that creates the group
    for cname, c in scenario.consumers.items():
        g = c.group or cname
        lst = groups.setdefault(c.from_, [])
        if g not in lst:
            lst.append(g)
        prev = first.get((c.from_, g))
        if prev is None or c.start < prev.start:
            first[(c.from_, g)] = c

    # the patterns' subscriptions (from the start, from the earliest message: never late) and private queues
    pattern_groups, private = pattern_channels(scenario) if patterns else ({}, [])
    for ch, gs in pattern_groups.items():
        lst = groups.setdefault(ch, [])
        lst.extend(g for g in gs if g not in lst)

    def late(channel: str) -> set[str]:
        """Groups created at their first subscribe: a late consumer starting from the latest message."""
        return {g for (ch, g), c in first.items()
                if ch == channel and c.start > 0
                and start_position(scenario, channel, c.start_from, profile) == "latest"}

    persistence = scenario.broker.persistence
    plans: dict[str, ChannelPlan] = {}
    for name, spec in scenario.channels.items():
        durable = bool(getattr(spec, "durable", True)) and persistence == "durable"
        if isinstance(spec, m.RouterChannel):
            plans[name] = ChannelPlan(name, "router", router_type=spec.type,
                                      bindings=[(b.to, b.pattern) for b in spec.bindings], durable=durable)
            continue
        if isinstance(spec, m.LogChannel):
            plans[name] = ChannelPlan(name, "log", groups=groups.get(name, []), durable=durable, late=late(name))
            continue
        plans[name] = ChannelPlan(
            name, spec.kind, groups=groups.get(name, []), ttl_ns=spec.ttl, capacity=spec.capacity,
            overflow=spec.overflow, max_deliveries=_max_deliveries(spec, profile), at_limit=profile.at_limit,
            reject_action=profile.reject_action,
            dead_letter=spec.dead_letter,
            ack_timeout_ns=spec.ack_timeout, dedup_window_ns=_dedup_window(spec, profile), durable=durable,
            late=late(name) if spec.kind == "topic" else set())
    for name in private:
        if name in plans:
            continue
        # as the pattern declares it on the core: a plain queue (`QueueConfig()`), the profile's defaults
        plans[name] = ChannelPlan(name, "queue", groups=groups.get(name, []),
                                  max_deliveries=profile.max_deliveries, at_limit=profile.at_limit,
                                  reject_action=profile.reject_action, dedup_window_ns=profile.dedup_window_ns,
                                  durable=persistence == "durable")
    return Topology(prefix, plans, patterns=patterns and bool(scenario.patterns))
