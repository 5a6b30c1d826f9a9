"""A `ttl` under a profile where nothing expires (Redis streams: `message_expiry: none`) is warned, located.

Redis streams have no message TTL ("There is currently no option to tell the stream to just retain items that
are not older than a given period", redis.io, Streams): under `redis-streams` the core expires nothing, as
evtool's Redis transport ignores `ttl`, so a scenario that gives one is told where and why.
"""

from __future__ import annotations

import pytest

from evtool.core.profiles import PROFILES
from evtool.scenario.loader import load_text
from evtool.scenario.refs import PROFILES_WITHOUT_EXPIRY

TEXT = """
evtool: "1"
id: lint
broker: {{profile: {profile}}}
run: {{seed: 1, duration: 1s}}
channels:
  work: {{kind: queue, ttl: 5s}}
producers:
  load:
    to: work
    arrival: {{process: once}}
    count: 1
    ttl: 2s
    inject:
      - {{at: 0s, id: P, ttl: 1s}}
consumers:
  worker: {{from: work}}
"""


@pytest.mark.parametrize(("profile", "warned"), [("redis-streams", True), ("default", False),
                                                 ("nats-jetstream", False), ("rabbitmq-quorum", False)])
def test_a_ttl_where_nothing_expires_is_warned_where_it_is(profile: str, warned: bool) -> None:
    loaded = load_text(TEXT.format(profile=profile), "t.yaml")
    found = {w.path: w for w in loaded.warnings if "ttl" in w.path}
    if not warned:
        assert not found
        return
    assert set(found) == {"channels.work.ttl", "producers.load.ttl", "producers.load.inject[0].ttl"}
    assert (found["channels.work.ttl"].line, found["channels.work.ttl"].column) == (7, 28)
    assert (found["producers.load.ttl"].line, found["producers.load.inject[0].ttl"].line) == (13, 15)
    assert "has no effect" in found["channels.work.ttl"].message
    assert "capacity" in (found["channels.work.ttl"].hint or "")


def test_the_lint_knows_which_profiles_expire_nothing() -> None:
    """The scenario layer's copy of `message_expiry: none` equals the profiles'."""
    assert PROFILES_WITHOUT_EXPIRY == {n for n, p in PROFILES.items() if p.message_expiry == "none"}
