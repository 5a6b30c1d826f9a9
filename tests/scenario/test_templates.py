"""Payload templates: types, seeded randomness, and the limits that keep them small."""

from __future__ import annotations

import random

import pytest

from evtool.scenario.templates import TemplateError, TemplateRuntimeError, compile_payload, compile_template


def render(text: str, **env: object) -> object:
    return compile_template(text).render(env, random.Random(7))


def test_a_whole_template_keeps_its_type() -> None:
    assert render("{{ rand.randint(1, 5) }}") in range(1, 6)
    assert isinstance(render("{{ rand.randint(1, 5) }}"), int)
    assert render("acct-{{ key }}", key="007") == "acct-007"
    assert render("{{ rand.uniform(5, 500) | round(2) }}") == round(random.Random(7).uniform(5, 500), 2)


def test_same_seed_same_payload() -> None:
    payload = compile_payload({"id": "{{ uuid() }}", "items": ["{{ choice(['a', 'b', 'c']) }}", 3]})
    a = payload({}, random.Random(1))
    b = payload({}, random.Random(1))
    assert a == b and a["items"][1] == 3  # type: ignore[index]
    assert payload({}, random.Random(2)) != a


def test_unknown_names_and_functions_suggest() -> None:
    with pytest.raises(TemplateError) as info:
        compile_template("{{ kye }}")
    assert "`kye` is not a known name" in info.value.message and info.value.hint == "did you mean `key`?"
    with pytest.raises(TemplateError) as info:
        compile_template("x {{ uid() }}")
    assert info.value.column == 5 and info.value.hint == "did you mean `uuid`?"


def test_unclosed_braces() -> None:
    with pytest.raises(TemplateError) as info:
        compile_template("a {{ key")
    assert info.value.column == 2


def test_limits() -> None:
    with pytest.raises(TemplateError, match="nests more than 64 levels"):
        compile_template("{{ " + "1+" * 100 + "1 }}")
    with pytest.raises(TemplateError, match="too long"):
        compile_template("x" * 5000)
    with pytest.raises(TemplateRuntimeError, match="too much"):
        render("{{ 'x' * 100000 }}")
    with pytest.raises(TemplateRuntimeError, match="remainder"):
        render("{{ '%999999999s' % 1 }}")
    with pytest.raises(TemplateRuntimeError, match="ZeroDivisionError"):
        render("{{ 1 / 0 }}")
    with pytest.raises(TemplateError, match="not allowed"):
        compile_template("{{ [x for x in msg] }}")
    with pytest.raises(TemplateError, match="cannot be read"):
        compile_template("{{ msg.__class__ }}")


# --- results are bounded, run-time errors are template errors ----------------------------------

@pytest.mark.parametrize("text", [
    "{{ 'a' * 10000 * 10000 * 10000 }}",
    "x{{ [[[0] * 100] * 100] * 100 }}",
    "{{ str([[0] * 1000] * 1000) }}",
    "{{ upper([[1] * 1000] * 1000) }}",
    "{{ 'x' * 9000 + 'y' * 9000 + 'z' * 9000 + 'w' * 9000 + 'v' * 9000 + 'u' * 9000 + 't' * 9000 + 's' * 9000"
    " + 'r' * 9000 + 'q' * 9000 + 'p' * 9000 + 'o' * 9000 }}",
    "{{ " + " * ".join(["123456789012345678901234567890"] * 60) + " }}",
    "{{ round(5, -1000000000) }}",
])
def test_huge_results_are_refused(text: str) -> None:
    with pytest.raises(TemplateRuntimeError, match="too large|too much|bits|digits"):
        compile_template(text).render({"key": "k"}, random.Random(1))


@pytest.mark.parametrize(("text", "phrase"), [
    ("{{ msg[5] }}", "no entry 5"),
    ("{{ msg.a[3] }}", "no entry 3"),
    ("{{ n[0] }}", "cannot be indexed"),
    ("{{ -key }}", "needs a number"),
    ("{{ -msg }}", "needs a number"),
])
def test_subscript_and_minus_errors_are_template_errors(text: str, phrase: str) -> None:
    with pytest.raises(TemplateRuntimeError, match=phrase):
        compile_template(text).render({"msg": {"a": [1]}, "key": "k", "n": 3}, random.Random(1))


def test_small_results_still_render() -> None:
    env = {"msg": {"a": [1, 2]}, "key": "k", "n": 3}
    assert compile_template("{{ msg.a[1] }}-{{ -n }}-{{ key * 3 }}").render(env, random.Random(1)) == "2--3-kkk"
    assert compile_template("{{ [n] * 3 }}").render(env, random.Random(1)) == [3, 3, 3]
