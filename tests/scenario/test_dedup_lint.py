"""A dedup window that can drop nothing is almost always a mistake: the loader warns, located.

Since a broker deduplicates only messages that carry a dedup id (NATS Nats-Msg-Id, SQS
MessageDeduplicationId), a channel's `dedup_window` does nothing when none of its producers sends
one and the channel does not hash content (`content_based_dedup`).
"""

from __future__ import annotations

import pytest

from evtool.core.profiles import PROFILES
from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import load_text
from evtool.scenario.refs import PROFILES_SENDING_DEDUP_IDS
from evtool.sim.engine import Engine

TEXT = """
evtool: "1"
id: lint
broker: {{profile: {profile}}}
run: {{seed: 1, duration: 1s}}
channels:
  work: {{kind: queue, dedup_window: 5m{content}}}
producers:
  load: {{to: work, arrival: {{process: once}}, count: 1{dedup}}}
consumers:
  worker: {{from: work}}
"""


@pytest.mark.parametrize(("profile", "content", "dedup", "warned"), [
    ("default", "", "", True),                              # no producer sends a dedup id
    ("nats-jetstream", "", "", True),                       # NATS clients send no Nats-Msg-Id unless asked
    ("default", "", ", dedup_id: message_id", False),
    ("sqs-fifo", "", "", False),                            # sqs-fifo producers send one by default
    ("sqs-fifo", "", ", dedup_id: none", True),
    ("default", ", content_based_dedup: true", "", False),  # the channel hashes the payload
])
def test_a_dedup_window_without_dedup_ids_is_warned(profile: str, content: str, dedup: str, warned: bool) -> None:
    loaded = load_text(TEXT.format(profile=profile, content=content, dedup=dedup), "t.yaml")
    found = [w for w in loaded.warnings if w.path == "channels.work.dedup_window"]
    assert bool(found) == warned
    if warned:
        assert (found[0].line, found[0].column) == (7, 37)
        assert "dedup_id: message_id" in (found[0].hint or "")


def test_content_based_dedup_without_a_window_is_a_located_error() -> None:
    """ContentBasedDeduplication needs a deduplication interval: under a profile without one it is an error."""
    text = TEXT.format(profile="default", content="", dedup="").replace(
        "dedup_window: 5m", "content_based_dedup: true")
    with pytest.raises(ScenarioError) as exc:
        Engine(load_text(text, "t.yaml"))
    assert "t.yaml:7" in str(exc.value) and "content_based_dedup" in str(exc.value)


def test_the_lint_knows_which_profiles_send_dedup_ids() -> None:
    """The scenario layer's copy of `producer_dedup_id` equals the profiles'."""
    assert PROFILES_SENDING_DEDUP_IDS == {n for n, p in PROFILES.items() if p.producer_dedup_id == "message_id"}
