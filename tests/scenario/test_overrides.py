"""`--set path=value` overrides and `${name}` parameters."""

from __future__ import annotations

from typing import Any

import pytest
from fixture_files import VALID_FILES

from evtool.scenario import models as m
from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import LoadedScenario, load_scenario, load_text, parse_value

TEXT = """\
evtool: "1"
id: shop
parameters:
  workers: {default: 2, values: [1, 2, 4]}
  dispatch: {default: per_key, values: [per_key, per_partition, unordered]}
  prefix: {default: acct}
  think: {default: 5ms}
run:
  seed: 1
  duration: 10s
channels:
  orders:
    kind: queue
    dead_letter: orders.dlq
  orders.dlq:
    kind: queue
  ledger:
    kind: log
    partitions: 3
producers:
  checkout:
    to: orders
    arrival: {process: poisson, rate: 20/s}
    key: {dist: uniform, space: 5, format: "${prefix}-{n}"}
consumers:
  billing:
    from: orders
    instances: ${workers}
    processing: ${think}
    idempotency: {key: msg.id, window: 1h}
  statements:
    from: ledger
    dispatch: ${dispatch}
faults:
  - {name: crash, enabled: false, at: 5s, action: crash, target: "consumer:billing#0"}
  - {name: dupes, at: 0s, action: duplicate, target: "channel:orders", probability: 0.1, scope: per_message}
"""


def load(overrides: list[str] | dict[str, Any] | None = None) -> LoadedScenario:
    return load_text(TEXT, "shop.yaml", overrides)


def problems(overrides: list[str] | dict[str, Any]) -> list[tuple[str, str, str]]:
    with pytest.raises(ScenarioError) as info:
        load(overrides)
    return [(p.file, p.path, p.message + " | " + (p.hint or "")) for p in info.value.problems]


def test_defaults_are_substituted_with_their_types() -> None:
    sc = load().model
    assert sc.consumers["billing"].instances == 2
    assert sc.consumers["billing"].processing == 5_000_000
    assert sc.consumers["statements"].dispatch == "per_key"
    assert sc.producers["checkout"].key is not None and sc.producers["checkout"].key.format == "acct-{n}"


def test_parameter_set_by_name() -> None:
    loaded = load(["workers=4", "dispatch=unordered", "prefix=cust", "think=1s"])
    sc = loaded.model
    assert sc.consumers["billing"].instances == 4
    assert sc.consumers["statements"].dispatch == "unordered"
    assert sc.producers["checkout"].key.format == "cust-{n}"  # type: ignore[union-attr]
    assert sc.consumers["billing"].processing == 1_000_000_000
    assert loaded.parameters == {"workers": 4, "dispatch": "unordered", "prefix": "cust", "think": "1s"}
    assert loaded.overrides["workers"] == 4


def test_parameter_value_outside_its_values() -> None:
    [(file, path, text)] = problems(["dispatch=unorderd"])
    assert (file, path) == ("--set", "parameters.dispatch")
    assert "`unorderd` is not an allowed value of parameter `dispatch`" in text
    assert "did you mean `unordered`?" in text and "allowed: per_key, per_partition, unordered" in text
    [(_, _, text)] = problems(["workers=3"])
    assert "allowed: 1, 2, 4" in text


def test_parameter_default_outside_its_values() -> None:
    text = TEXT.replace("workers: {default: 2,", "workers: {default: 3,")
    with pytest.raises(ScenarioError) as info:
        load_text(text, "shop.yaml")
    (p,) = info.value.problems
    assert (p.line, p.column, p.path) == (4, 22, "parameters.workers.default")
    assert "the default `3` is not one of the parameter's `values`" in p.message


def test_unknown_parameter_reference_points_into_the_string() -> None:
    text = TEXT.replace('format: "${prefix}-{n}"', 'format: "x-${prefx}-{n}"')
    with pytest.raises(ScenarioError) as info:
        load_text(text, "shop.yaml")
    (p,) = info.value.problems
    # The string starts at column 45 (after the quote); `${` is 2 characters in.
    assert (p.line, p.column, p.path) == (24, 47, "producers.checkout.key.format")
    assert "unknown parameter `${prefx}`" in p.message and "did you mean `prefix`?" in (p.hint or "")


def test_plain_path() -> None:
    sc = load(["consumers.billing.concurrency=3", "run.duration=1m"]).model
    assert sc.consumers["billing"].concurrency == 3
    assert sc.run.duration == 60_000_000_000


def test_key_with_dots() -> None:
    sc = load(["channels.orders.dlq.capacity=5", "channels.orders.capacity=7"]).model
    dlq = sc.channels["orders.dlq"]
    orders = sc.channels["orders"]
    assert isinstance(dlq, m.QueueChannel) and dlq.capacity == 5
    assert isinstance(orders, m.QueueChannel) and orders.capacity == 7


def test_list_index() -> None:
    sc = load(["faults[0].enabled=true", "faults[1].probability=0.5"]).model
    assert sc.faults[0].enabled is True
    assert isinstance(sc.faults[1], m.DuplicateFault) and sc.faults[1].probability == 0.5


def test_list_index_out_of_range() -> None:
    [(file, path, text)] = problems(["faults[5].enabled=true"])
    assert (file, path) == ("--set", "faults")
    assert "there is no item [5] here" in text


def test_values_are_read_as_yaml() -> None:
    assert parse_value("2") == 2
    assert parse_value("true") is True
    assert parse_value("off") == "off"  # YAML 1.2: a string, not a boolean
    assert parse_value("30s") == "30s"
    assert parse_value("[a, b]") == ["a", "b"]
    assert parse_value("{x: 1}") == {"x": 1}
    assert parse_value("") == ""
    assert parse_value("a: b: c") == "a: b: c"  # not YAML: kept as text
    sc = load(["consumers.billing.idempotency=off"]).model
    assert sc.consumers["billing"].idempotency is None


def test_value_may_contain_equals_sign() -> None:
    sc = load(["consumers.billing.description=a=b"]).model
    assert sc.consumers["billing"].description == "a=b"


def test_dict_overrides_keep_their_types() -> None:
    sc = load({"consumers.billing.retry": {"max_attempts": 2, "on_exhausted": "drop"}}).model
    retry = sc.consumers["billing"].retry
    assert retry is not None and retry.max_attempts == 2 and retry.on_exhausted == "drop"


def test_missing_intermediate_mapping_is_created() -> None:
    [(file, path, text)] = problems(["consumers.billing.retry.max_attempts=2"])
    assert (file, path) == ("--set", "consumers.billing.retry.on_exhausted")
    assert "missing required key `on_exhausted`" in text and "from `--set consumers.billing.retry.max_attempts" in text


def test_wrong_value_names_the_override() -> None:
    [(file, path, text)] = problems(["consumers.billing.concurrency=lots"])
    assert (file, path) == ("--set", "consumers.billing.concurrency")
    assert "expected a whole number, found `lots`" in text and "(from `--set consumers.billing.concurrency=...`)" in text


def test_misspelt_component_name() -> None:
    [(file, path, text)] = problems(["consumers.biling.concurrency=2"])
    assert (file, path) == ("--set", "consumers.biling")
    assert "no consumer named `biling`" in text and "did you mean `billing`?" in text


def test_misspelt_field_name() -> None:
    [(file, path, text)] = problems(["consumers.billing.concurency=2"])
    assert (file, path) == ("--set", "consumers.billing.concurency")
    assert "unknown key `concurency`" in text and "did you mean `concurrency`?" in text


def test_misspelt_parameter_or_top_level_key() -> None:
    [(file, path, text)] = problems(["dispach=unordered"])
    assert (file, path) == ("--set", "dispach")
    assert "neither a parameter nor a top-level key" in text and "did you mean `dispatch`?" in text


def test_malformed_override() -> None:
    with pytest.raises(ScenarioError) as info:
        load(["workers"])
    assert "is not `path=value`" in info.value.problems[0].message
    with pytest.raises(ScenarioError) as info:
        load(["=3"])
    assert "has no path" in info.value.problems[0].message


def test_file_is_not_changed_by_overrides() -> None:
    a = load(["workers=4"])
    b = load()
    assert a.text == b.text and a.sha256 == b.sha256
    assert b.model.consumers["billing"].instances == 2


WITH_LESSON = [p for p in VALID_FILES if "\nlesson:" in p.read_text(encoding="utf-8")]


@pytest.mark.parametrize("path", WITH_LESSON, ids=[p.name for p in WITH_LESSON])
def test_every_lesson_variation_applies(path: Any) -> None:
    loaded = load_scenario(path)
    lesson = loaded.model.lesson
    assert lesson is not None
    names = {e.name for e in loaded.model.expect}
    for variation in lesson.try_next:
        if isinstance(variation, m.Variation):
            varied = load_scenario(path, variation.set)
            assert varied.overrides == variation.set
            assert set(variation.fails) <= names
