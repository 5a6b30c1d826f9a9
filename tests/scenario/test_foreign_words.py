"""Words from other brokers (and from the article the lessons follow) get a hint with evtool's word."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from evtool.scenario import models
from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import load_scenario
from evtool.scenario.vocabulary import FOREIGN, foreign_hint

BASE = """evtool: "1"
id: foreign
run: {seed: 1, duration: 10s}
channels:
  orders: {kind: queue}
consumers:
  billing: {from: orders}
"""


def _problems(tmp_path: Path, text: str) -> list[tuple[int, int, str, str]]:
    f = tmp_path / "s.yaml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(f)
    return [(p.line, p.column, p.message, p.hint or "") for p in err.value.problems]


@pytest.mark.parametrize(("old", "new", "word", "ours"), [
    ("{kind: queue}", "{kind: pubsub}", "pubsub", "`kind: topic`"),
    ("{kind: queue}", "{kind: exchange}", "exchange", "`kind: router`"),
    ("{kind: queue}", "{kind: fifo}", "fifo", "`kind: grouped_queue`"),
    ("{kind: queue}", "{kind: stream}", "stream", "`kind: log`"),
    ("{kind: queue}", "{kind: 事件总线}", "事件总线", "`kind: topic`"),
    ("{from: orders}", "{from: orders, consumer_group: b}", "consumer_group", "`group:`"),
    ("{from: orders}", "{from: orders, subscription: b}", "subscription", "`group:`"),
    ("{from: orders}", "{from: orders, queue_group: b}", "queue_group", "`group:`"),
    ("{from: orders}", "{from: orders, group.id: b}", "group.id", "`group:`"),
    ("{from: orders}", "{from: orders, prefetch_count: 5}", "prefetch_count", "`prefetch:`"),
    ("{from: orders}", "{from: orders, auto_ack: true}", "auto_ack", "`ack: auto`"),
    ("{from: orders}", "{from: orders, start_from: beginning}", "beginning", "`earliest`"),
    ("{from: orders}", "{from: orders, auto_offset_reset: earliest}", "auto_offset_reset", "`start_from:"),
    ("{kind: queue}", "{kind: queue, visibility_timeout: 30s}", "visibility_timeout", "`ack_timeout:`"),
    ("{kind: queue}", "{kind: queue, x-message-ttl: 30s}", "x-message-ttl", "`ttl:`"),
    ("{kind: queue}", "{kind: queue, maxReceiveCount: 3}", "maxReceiveCount", "`max_deliveries:`"),
    ("{kind: queue}", "{kind: queue, max_deliver: 3}", "max_deliver", "`max_deliveries:`"),
    ("{kind: queue}", "{kind: queue, dead_letter_exchange: x}", "dead_letter_exchange", "`dead_letter:`"),
    ("consumers:", "subscribers:", "subscribers", "`consumers:`"),
])
def test_a_foreign_word_is_located_and_named_in_evtool_terms(tmp_path: Path, old: str, new: str, word: str,
                                                             ours: str) -> None:
    problems = _problems(tmp_path, BASE.replace(old, new, 1))
    hits = [p for p in problems if f"`{word}` is" in p[3]]
    assert hits, problems
    line, col, _, hint = hits[0]
    assert ours in hint
    assert line >= 5 and col >= 1


def test_every_problem_in_the_file_is_reported_with_its_hint(tmp_path: Path) -> None:
    text = BASE.replace("{kind: queue}", "{kind: pubsub}").replace("{from: orders}",
                                                                   "{from: orders, consumer_group: x}")
    hints = [p[3] for p in _problems(tmp_path, text)]
    assert any("`pubsub` is general messaging vocabulary" in h for h in hints)
    assert any("`consumer_group` is Kafka/Redis vocabulary" in h for h in hints)


def _all_fields() -> set[str]:
    names: set[str] = set()
    for obj in vars(models).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            for name, info in obj.model_fields.items():
                names.add(info.alias or name.rstrip("_"))
    return names


def _literals() -> set[str]:
    values: set[str] = set()

    def walk(t: object) -> None:
        if typing.get_origin(t) is typing.Literal:
            values.update(a for a in typing.get_args(t) if isinstance(a, str))
        for a in typing.get_args(t):
            walk(a)

    for obj in vars(models).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            for info in obj.model_fields.values():
                walk(info.annotation)
    return values


def test_every_evtool_word_a_hint_names_is_a_real_key_or_value() -> None:
    """The table must not teach a word evtool does not have."""
    fields, values = _all_fields(), _literals()
    sections = set(models.Scenario.model_fields) | {"patterns"}
    for word, (_, ours) in FOREIGN.items():
        for token in re.findall(r"`([^`]+)`", ours):
            for part in re.split(r"[{},]\s*|\s\|\s", token):
                part = part.strip()
                if not part or part in ("…",):
                    continue
                if part.endswith(":") or ": " in part:
                    key, _, value = part.partition(":")
                    assert key.strip() in fields | sections, (word, key)
                    v = value.strip()
                    if v and re.fullmatch(r"[a-z_]+", v) and v not in ("true", "false"):
                        assert v in values or v in models.PATTERN_KINDS if hasattr(models, "PATTERN_KINDS") \
                            else v in values, (word, v)
                else:
                    assert part in values | fields | {"redrive", "event_sourced_aggregate", "effectively_once"} \
                        or re.fullmatch(r"[a-z_]+", part) is None, (word, part)


def test_unknown_words_get_no_foreign_hint() -> None:
    assert foreign_hint("billing") is None
    assert foreign_hint("") is None
    assert foreign_hint(3) is None
