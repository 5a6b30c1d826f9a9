"""`--set` appends to a list (`faults[+]=…`) and adds a map entry, so every variation fits one command line."""

from __future__ import annotations

import shlex

import pytest

from evtool.report.fmt import flow_value, set_argument
from evtool.scenario.errors import ScenarioError
from evtool.scenario.lessons import find_lesson
from evtool.scenario.loader import load_scenario, parse_value

LESSON = find_lesson("retries-dlq-poison")


def test_append_a_fault() -> None:
    base = load_scenario(LESSON).model
    sc = load_scenario(LESSON, ["faults[+]={at: 110s, action: redrive, target: channel:orders.dlq}"]).model
    assert len(sc.faults) == len(base.faults) + 1
    assert sc.faults[-1].action == "redrive" and sc.faults[-1].target == "channel:orders.dlq"


def test_append_twice_keeps_both_in_order() -> None:
    base = load_scenario(LESSON).model
    sc = load_scenario(LESSON, ["faults[+]={at: 10s, action: crash, target: consumer:billing}",
                                "faults[+]={at: 20s, action: restart, target: consumer:billing}"]).model
    assert [f.action for f in sc.faults[len(base.faults):]] == ["crash", "restart"]


def test_append_to_a_list_the_file_does_not_have_yet() -> None:
    sc = load_scenario(LESSON, ["alerts[+]={name: deep, that: 'max(queue.depth{channel=orders}) > 100'}"]).model
    assert sc.alerts[-1].name == "deep"


def test_append_into_a_nested_list_and_set_a_key_of_the_new_item() -> None:
    sc = load_scenario(LESSON, ["consumers.billing.retry.non_retryable[+]=ParseError"]).model
    assert sc.consumers["billing"].retry.non_retryable[-1] == "ParseError"


def test_add_a_map_entry() -> None:
    sc = load_scenario(find_lesson("pubsub-fanout"), ["consumers.fraud={from: order-events}"]).model
    assert sc.consumers["fraud"].from_ == "order-events"


def test_an_appended_item_with_a_problem_is_located_on_the_set() -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(LESSON, ["faults[+]={at: 110s, action: redrivex}"])
    (p,) = err.value.errors
    assert p.file == "--set" and "redrivex" in p.message and "faults[+]" in p.message
    assert p.hint == "did you mean `redrive`?"


def test_append_to_something_that_is_not_a_list() -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(LESSON, ["run[+]=3"])
    assert "`[+]` appends to a list" in err.value.errors[0].message


@pytest.mark.parametrize("value", [
    {"at": "110s", "action": "redrive", "target": "channel:orders.dlq"}, ["ParseError"], "forever", 3, 0.5,
    None, True, "10s", "a b", "3", {"x": [1, "a:b"]}, "it's", "", "{not: a map}",
])
def test_a_copied_set_argument_reads_back_the_same_value(value: object) -> None:
    (flag, word) = shlex.split(set_argument("p", value))
    assert flag == "--set" and word.startswith("p=")
    assert parse_value(word[2:]) == value


def test_flow_values_are_readable() -> None:
    assert flow_value({"at": "110s", "action": "redrive", "target": "channel:orders.dlq"}) == \
        "{at: 110s, action: redrive, target: channel:orders.dlq}"
    assert set_argument("consumers.billing.retry.non_retryable", ["ParseError"]) == \
        "--set 'consumers.billing.retry.non_retryable=[ParseError]'"
