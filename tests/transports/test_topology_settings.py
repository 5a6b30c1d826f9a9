"""A real-broker topology reads `broker.settings` by the same rules as the core (`sim.plan.profile_for`).

docs/scenario-language.md (broker table): "a duration field without its `_ns` suffix takes a unit
(`ack_timeout: 10s`); `prefetch`, `prefetch_cap` and `max_deliveries` take `unlimited`". The topology of a
`--transport` run applied the raw settings and crashed on both spellings.
"""

from __future__ import annotations

from evtool.scenario.loader import load_text
from evtool.sim.plan import profile_for
from evtool.transports.topology import build_topology

SCENARIO = """
evtool: "1"
id: t-settings
run: {seed: 1, duration: 1s}
broker: {profile: rabbitmq-quorum, settings: {max_deliveries: 3, ack_timeout: 2s}}
channels: {q: {kind: queue}}
producers: {p: {to: q, arrival: {process: constant, rate: 1/s}, count: 1}}
consumers: {c: {from: q}}
"""


def test_settings_with_units_reach_the_topology() -> None:
    loaded = load_text(SCENARIO)
    topo = build_topology(loaded.model, "x-")
    assert topo.channels["q"].max_deliveries == 3
    assert profile_for(loaded).ack_timeout_ns == 2_000_000_000


def test_unlimited_reaches_the_topology() -> None:
    loaded = load_text(SCENARIO.replace("max_deliveries: 3", "max_deliveries: unlimited"))
    assert build_topology(loaded.model, "x-").channels["q"].max_deliveries is None
