"""Two copies of one message (a publish duplicated by a fault) that both die are two dead letters.

Found running `order-saga` on RabbitMQ (its `dup-payment-commands` fault doubles 2% of the saga's payment
commands; a declined card rejects both copies): the RabbitMQ adapter reported a dead letter once per message
id and death history, so the second copy's death was never recorded, the run kept it in flight and the drain
timed out (outcome unknown) where the core completed. It now skips only a delivery RabbitMQ flags as
redelivered, which is how the broker marks a copy it handed out before: "If a message is delivered to a
consumer and then requeued [...] then RabbitMQ will set the redelivered flag on it when it is delivered again"
(https://www.rabbitmq.com/docs/confirms). Checked on RabbitMQ 3.10.8 here: 10 of 20
dead letters recorded before, 20 of 20 now. NATS (+TERM, then evtool's copy) is checked alongside; Redis keeps a
rejected entry pending under `redis-streams` (no dead letter on either side), so it is not.
"""

from __future__ import annotations

import pytest

from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine
from evtool.transports.runner import run_on_transport

from .scenarios import PROFILES

pytestmark = pytest.mark.broker

DUPLICATED_DEATHS = """
evtool: "1"
id: t-dup-dead
run: {seed: 7, duration: 1s, drain: {max: 8s}}
broker: {profile: PROFILE}
channels:
  cmds: {kind: queue, dead_letter: cmds.dlq}
  cmds.dlq: {kind: queue, role: dead_letter}
producers:
  p: {to: cmds, arrival: {process: constant, rate: 20/s}, count: 10}
consumers:
  c:
    from: cmds
    processing: 5ms
    fail_if: [{probability: 1.0, error: Declined, retryable: false}]
faults:
  - {name: dup, at: 0s, for: end, action: duplicate, target: channel:cmds, probability: 1.0, scope: per_message}
expect:
  - {name: all-dead, that: "count(dead_lettered{channel=cmds}) == 20"}
"""


@pytest.mark.parametrize("transport", ["rabbitmq", "nats"])
def test_both_copies_of_a_duplicated_message_are_dead_letters(transport: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(f"{transport}_url")
    loaded = load_text(DUPLICATED_DEATHS.replace("PROFILE", PROFILES[transport]))
    local = Engine(loaded).run()
    real = run_on_transport(loaded, transport, url=url)
    assert real.extra["problems"] == []
    for o in (local, real):
        counts = o.summary["counts"]
        assert (counts["published"], counts["rejected"], counts["dead_lettered"]) == (20, 20, 20), counts
        assert o.drain == "complete" and o.outcome == "passed"
