"""Bad scenario inputs: each names the file, line, column, path, what was wrong and a hint.

Every case starts from `BASE`, a small valid scenario, and breaks one thing.
The line and column asserted are 1-based and point at what the user must
edit; `test_cli_prints_no_traceback` runs every case through `evtool
validate` too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evtool.cli.app import app
from evtool.scenario.errors import Problem, ScenarioError
from evtool.scenario.loader import load_scenario, load_text
from evtool.scenario.yamlsource import MAX_FILE_BYTES, MAX_NODES

BASE = """\
evtool: "1"
id: shop
run:
  seed: 1
  duration: 10s
channels:
  orders:
    kind: queue
    dead_letter: orders.dlq
  orders.dlq:
    kind: queue
producers:
  checkout:
    to: orders
    arrival: {process: poisson, rate: 20/s}
consumers:
  billing:
    from: orders
    instances: 2
    retry:
      max_attempts: 3
      on_exhausted: dead_letter
"""
# BASE ends on line 22; text appended to it starts on line 23.


def replace(old: str, new: str) -> str:
    """BASE with the first `old` replaced by `new` (which must be there)."""
    assert old in BASE, old
    return BASE.replace(old, new, 1)


@dataclass(frozen=True)
class Case:
    """One bad input and the problem it must produce (message and hint are substrings)."""

    id: str
    text: str
    line: int
    column: int
    path: str
    message: str
    hint: str | None = ""


CASES = [
    # --- YAML syntax
    Case("unclosed-flow-mapping", replace("rate: 20/s}", "rate: 20/s"), 15, 14, "",
         "YAML syntax error: expected ',' or '}'", "`{` is not closed"),
    Case("tab-indent", replace("  seed: 1", "\tseed: 1"), 4, 1, "",
         "YAML syntax error: found character '\\t'", "indent with spaces"),
    Case("unquoted-colon", BASE + "lesson:\n  title: a: b\n  summary: x\n", 24, 11, "",
         "mapping values are not allowed here", "must be quoted"),
    Case("unclosed-quote", replace("id: shop", 'id: "shop'), 2, 5, "",
         "YAML syntax error", "not closed"),
    Case("two-documents", BASE + "---\nid: other\n", 23, 1, "",
         "more than one YAML document", "remove the `---`"),
    Case("undefined-alias", replace("seed: 1", "seed: *one"), 4, 9, "",
         "found undefined alias", "define the anchor"),
    # --- what YAML 1.1 gets wrong
    Case("duplicate-top-level-key", BASE + "id: other\n", 23, 1, "id",
         "duplicate key `id` (first defined on line 2)", "may appear once"),
    Case("duplicate-consumer", BASE + "  billing:\n    from: orders\n", 23, 3, "consumers.billing",
         "duplicate key `billing` (first defined on line 17)", "silently keep only the last"),
    Case("on-key", BASE + "lesson:\n  title: t\n  summary: s\n  steps:\n    - on: delivered\n      say: hi\n",
         27, 7, "lesson.steps[0].on", "the key `on` is read as a boolean", "use `event:`, not `on:`"),
    Case("yes-key", replace("    kind: queue\n    dead_letter", "    kind: queue\n    yes: 1\n    dead_letter"),
         9, 5, "channels.orders.yes", "the key `yes` is read as a boolean", "quote it ('yes')"),
    Case("python-tag", replace("id: shop", "id: !!python/object:os.system shop"), 2, 5, "id",
         "the YAML tag `!!python/object:os.system` is not allowed", "plain values only"),
    Case("merge-key", BASE + "base: &b {kind: queue}\nextra:\n  <<: *b\n", 25, 3, "",
         "merge keys (`<<:`) are not supported", "write the keys out"),
    Case("number-key", BASE + "schemas:\n  1: {version: 1}\n", 24, 3, "schemas.1",
         "a mapping key must be a name, found 1", "quote it"),
    # --- the document's shape
    Case("top-level-list", "- a\n- b\n", 1, 1, "", "a scenario is a mapping of keys, found a list",
         'start with `evtool: "1"`'),
    Case("language-version", replace('evtool: "1"', 'evtool: "2"'), 1, 9, "evtool",
         "unknown language version '2'", 'write `evtool: "1"`'),
    # --- wrong types
    Case("word-for-number", replace("instances: 2", "instances: three"), 19, 16, "consumers.billing.instances",
         "expected a whole number, found `three`", None),
    Case("float-for-int", replace("seed: 1", "seed: 1.5"), 4, 9, "run.seed",
         "expected a whole number, found `1.5`", None),
    Case("list-for-mapping", BASE.split("channels:")[0] + "channels: [orders]\n", 6, 11, "channels",
         "expected a mapping of keys, found a list", None),
    Case("union-int-or-word", replace("max_attempts: 3", "max_attempts: lots"), 21, 21,
         "consumers.billing.retry.max_attempts", "expected a whole number or `forever`; found `lots`", None),
    Case("union-duration-or-end",
         BASE + "faults:\n  - action: pause\n    target: consumer:billing\n    for: forever\n", 26, 10,
         "faults[0].for", "expected a duration above zero such as `30s` or `end`; found `forever`",
         "write a number and a unit"),
    # a limit of one member of a union (`Annotated[int, Field(ge=1)] | Literal['unlimited']`): the path has no
    # pydantic member name in it ('constrained-int'), the value is the one written, one problem, not two
    Case("union-limit-or-word", replace("instances: 2", "instances: 2\n    prefetch: 0"), 20, 15,
         "consumers.billing.prefetch", "must be at least 1 (or `unlimited`), found `0`", None),
    Case("union-word-for-limit", replace("instances: 2", "instances: 2\n    prefetch: many"), 20, 15,
         "consumers.billing.prefetch", "expected a whole number or `unlimited`; found `many`", None),
    Case("scalar-for-list", replace("max_attempts: 3", "max_attempts: 3\n      retry_on: ParseError"), 22, 17,
         "consumers.billing.retry.retry_on", "expected `any` or a list; found `ParseError`", "`[a, b]`"),
    Case("invalid-name", replace("id: shop", "id: 9shop"), 2, 5, "id", "`9shop` is not a valid name",
         "start with a letter"),
    Case("unknown-literal", replace("instances: 2", "instances: 2\n    ack: manaul"), 20, 10,
         "consumers.billing.ack", "expected one of `manual`, `auto`; found `manaul`", "did you mean `manual`?"),
    # --- missing required keys
    Case("missing-seed", replace("  seed: 1\n", ""), 3, 1, "run.seed", "missing required key `seed`",
         "seed: 42"),
    Case("missing-on-exhausted", replace("      on_exhausted: dead_letter\n", ""), 20, 5,
         "consumers.billing.retry.on_exhausted", "missing required key `on_exhausted`",
         "what happens after the last attempt"),
    Case("missing-arrival", replace("    arrival: {process: poisson, rate: 20/s}\n", ""), 13, 3,
         "producers.checkout.arrival", "missing required key `arrival`", "process: poisson"),
    Case("missing-scope", BASE + "faults:\n  - action: drop\n    target: channel:orders\n    probability: 0.5\n",
         24, 5, "faults[0].scope", "missing required key `scope`", "what one draw of the probability covers"),
    Case("missing-expectation-form", BASE + "expect:\n  - name: x\n", 24, 5, "expect[0]",
         "missing `check: NAME` or `that: ...`", "check: no_loss"),
    # --- unknown keys and names, with did-you-mean
    Case("unknown-key", replace("instances: 2", "instnaces: 2"), 19, 5, "consumers.billing.instnaces",
         "unknown key `instnaces`", "did you mean `instances`?"),
    Case("unknown-top-level-key", replace("consumers:", "consumer:"), 16, 1, "consumer",
         "unknown key `consumer`", "did you mean `consumers`?"),
    Case("unknown-key-in-expectation", BASE + "expect:\n  - check: no_loss\n    chanel: orders\n", 25, 5,
         "expect[0].chanel", "unknown key `chanel`", "did you mean `channel`?"),
    Case("unknown-channel-kind", replace("    kind: queue\n    dead_letter", "    kind: queu\n    dead_letter"), 8, 11,
         "channels.orders.kind", "unknown kind `queu`; expected one of `queue`", "did you mean `queue`?"),
    Case("unknown-arrival-process", replace("process: poisson", "process: poison"), 15, 24,
         "producers.checkout.arrival.process", "unknown process `poison`", "did you mean `poisson`?"),
    Case("unknown-fault-action", BASE + "faults:\n  - action: crsh\n    target: consumer:billing\n", 24, 13,
         "faults[0].action", "unknown action `crsh`", "did you mean `crash`?"),
    Case("unknown-dist", replace("instances: 2", "instances: 2\n    processing: {dist: lognorml, median: 1ms, p99: 2ms}"),
         20, 24, "consumers.billing.processing.dist", "unknown dist `lognorml`", "did you mean `lognormal`?"),
    Case("unknown-check", BASE + "expect:\n  - check: no_los\n", 24, 12, "expect[0].check",
         "unknown check `no_los`", "did you mean `no_loss`?"),
    # --- units
    Case("bare-number-duration", replace("duration: 10s", "duration: 30"), 5, 13, "run.duration",
         "a duration needs a unit, found the bare number 30", "units: ns, us, ms, s, m (or min), h, d"),
    Case("bare-number-rate", replace("rate: 20/s", "rate: 20"), 15, 39, "producers.checkout.arrival.rate",
         "a rate needs a unit, found the bare number 20", "`20/s`"),
    Case("bare-number-size", replace("    to: orders", "    to: orders\n    size: 4096"), 15, 11,
         "producers.checkout.size", "a size needs a unit, found the bare number 4096", "KiB"),
    Case("unknown-unit", replace("duration: 10s", "duration: 10 secs"), 5, 13, "run.duration",
         "`10 secs` is not a duration", "units: ns, us"),
    Case("too-long-duration", replace("duration: 10s", "duration: 999999d"), 5, 13, "run.duration",
         "`999999d` is too long", "292 years"),
    # --- negative or zero where not allowed
    Case("zero-instances", replace("instances: 2", "instances: 0"), 19, 16, "consumers.billing.instances",
         "must be at least 1, found `0`", None),
    Case("zero-attempts", replace("max_attempts: 3", "max_attempts: 0"), 21, 21,
         "consumers.billing.retry.max_attempts", "max_attempts must be at least 1", "write `forever`"),
    Case("zero-duration", replace("duration: 10s", "duration: 0s"), 5, 13, "run.duration",
         "`0s` is zero; this duration must be greater than zero", None),
    Case("negative-duration", replace("duration: 10s", "duration: -5s"), 5, 13, "run.duration",
         "`-5s` is negative", "time only runs forward"),
    Case("negative-max-deliveries",
         replace("    kind: queue\n    dead_letter", "    kind: queue\n    max_deliveries: -1\n    dead_letter"),
         9, 21, "channels.orders.max_deliveries", "max_deliveries must be at least 1", "write `unlimited`"),
    Case("probability-above-one",
         BASE + "faults:\n  - action: drop\n    target: channel:orders\n    probability: 1.5\n    scope: per_message\n",
         26, 18, "faults[0].probability", "must be at most 1.0, found `1.5`", None),
    Case("uniform-max-below-min",
         replace("instances: 2", "instances: 2\n    processing: {dist: uniform, min: 20ms, max: 10ms}"), 20, 49,
         "consumers.billing.processing.max", "`max` is below `min`", "swap them"),
    Case("rate-max-without-count", replace("rate: 20/s", "rate: max"), 15, 39, "producers.checkout.arrival.rate",
         "`rate: max` needs `count`", "count: 10000"),
    Case("lesson-step-without-trigger", BASE + "lesson:\n  title: t\n  summary: s\n  steps:\n    - say: hi\n",
         27, 7, "lesson.steps[0]", "exactly one trigger: `at` or `event`", "at: 0s"),
    # --- dangling references
    Case("consumer-reads-missing-channel", replace("    from: orders", "    from: ordres"), 18, 11,
         "consumers.billing.from", "no channel named `ordres`", "did you mean `orders`?"),
    Case("dead-letter-missing-channel", replace("dead_letter: orders.dlq", "dead_letter: orders.dead"), 9, 18,
         "channels.orders.dead_letter", "no channel named `orders.dead`", "did you mean `orders.dlq`?"),
    Case("emit-to-missing-channel", replace("    instances: 2\n", "    instances: 2\n    emit:\n      - to: invoices\n"),
         21, 13, "consumers.billing.emit[0].to", "no channel named `invoices`",
         "the channels defined are: `orders`, `orders.dlq`"),
    Case("fault-targets-missing-consumer", BASE + "faults:\n  - action: crash\n    target: consumer:biling\n",
         25, 13, "faults[0].target", "no consumer named `biling`", "did you mean `billing`?"),
    Case("fault-targets-missing-instance", BASE + "faults:\n  - action: crash\n    target: consumer:billing#2\n",
         25, 13, "faults[0].target", "`billing` has 2 instance(s); #2 is not one", "count from 0"),
    Case("during-missing-fault", BASE + "expect:\n  - that: count(delivered) > 5\n    during: fault:outage\n",
         25, 13, "expect[0].during", "no fault named `outage`", "no fault is defined"),
    Case("variation-fails-missing-expectation",
         BASE + "expect:\n  - name: nothing-lost\n    check: no_loss\nlesson:\n  title: t\n  summary: s\n"
         "  try_next:\n    - say: x\n      fails: [nothing-lst]\n",
         31, 15, "lesson.try_next[0].fails[0]", "no expectation named `nothing-lst`", "did you mean `nothing-lost`?"),
    Case("variation-does-not-load",
         BASE + "lesson:\n  title: t\n  summary: s\n  try_next:\n    - say: x\n      set: {consumers.billing.instances: 0}\n",
         28, 12, "lesson.try_next[0].set",
         "this variation does not load: consumers.billing.instances: must be at least 1, found `0`", None),
    Case("unknown-parameter", replace("instances: 2", "instances: ${n}"), 19, 16, "consumers.billing.instances",
         "unknown parameter `${n}`", "declare it first"),
    Case("effect-target-not-a-field", replace("    instances: 2\n", '    instances: 2\n    effects:\n      - {inc: "9lives"}\n'),
         21, 15, "consumers.billing.effects[0].inc", "`9lives` is not a state field", "name[expression]"),
    # --- the small languages inside strings (column points into the string)
    Case("unknown-event-kind", BASE + "lesson:\n  title: t\n  summary: s\n  steps:\n    - event: delivred{tag=poison}\n"
         "      say: hi\n", 27, 14, "lesson.steps[0].event", "`delivred` is not an event kind",
         "did you mean `delivered`?"),
    Case("unknown-metric", BASE + "expect:\n  - that: max(queue.dpeth{channel=orders}) < 5\n", 24, 11,
         "expect[0].that", "`queue.dpeth` is not an event kind or metric", "did you mean `queue.depth`?"),
    Case("unfinished-expression",
         replace("    instances: 2\n", '    instances: 2\n    fail_if:\n      - when: "msg.payload.amount <"\n        error: E\n'),
         21, 36, "consumers.billing.fail_if[0].when", "it ends too early", "missing at the end"),
    Case("unsafe-key-format", replace("    arrival:", '    key: {dist: uniform, space: 3, format: "{n:>999999999}"}\n    arrival:'),
         15, 44, "producers.checkout.key.format", "`{n:>999999999}` is not a short number format", "`{n}`"),
    Case("template-nests-too-deeply", replace("    arrival:", '    payload: {id: "{{ ' + "1+" * 100 + '1 }}"}\n    arrival:'),
         15, 23, "producers.checkout.payload.id", "nests more than 64 levels deep", "short expression"),
    Case("unknown-template-function", replace("    arrival:", '    payload: {id: "{{ uid() }}"}\n    arrival:'),
         15, 23, "producers.checkout.payload.id", "unknown function `uid`", "did you mean `uuid`?"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_located(case: Case) -> None:
    with pytest.raises(ScenarioError) as info:
        load_text(case.text, "bad.yaml")
    problems = info.value.errors
    assert problems, "a ScenarioError must carry at least one error"
    first = problems[0]
    assert (first.file, first.line, first.column, first.path) == ("bad.yaml", case.line, case.column, case.path), \
        first.format()
    assert case.message in first.message, first.format()
    if case.hint is None:
        assert first.hint in (None, ""), first.format()
    else:
        assert case.hint in (first.hint or ""), first.format()
    # One mistake gives one problem: no duplicate lines from union branches or follow-on errors.
    assert len(problems) == 1, info.value


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


def test_base_is_valid() -> None:
    assert load_text(BASE, "base.yaml").model.id == "shop"


def test_all_problems_of_a_file_are_reported_sorted_by_line() -> None:
    text = (BASE.replace("instances: 2", "instnaces: 2").replace("duration: 10s", "duration: 10")
            .replace("kind: queue\n    dead_letter", "kind: queu\n    dead_letter"))
    with pytest.raises(ScenarioError) as info:
        load_text(text, "bad.yaml")
    where = [(p.line, p.path) for p in info.value.problems]
    assert where == [(5, "run.duration"), (8, "channels.orders.kind"), (19, "consumers.billing.instnaces")]
    # The message lists them in the same order, one `file:line:col` each.
    assert str(info.value).index("bad.yaml:5:13") < str(info.value).index("bad.yaml:19:5")


def test_yaml_errors_are_all_reported_together() -> None:
    text = BASE + "id: again\nlesson:\n  title: t\n  summary: s\n  steps:\n    - on: delivered\n      say: x\n"
    with pytest.raises(ScenarioError) as info:
        load_text(text, "bad.yaml")
    assert [(p.line, p.path) for p in info.value.problems] == [(23, "id"), (28, "lesson.steps[0].on")]


# --- files: empty, binary, huge, not UTF-8, a YAML bomb


def _only(err: ScenarioError) -> Problem:
    assert len(err.problems) == 1, err
    return err.problems[0]


def test_empty_file(tmp_path: Path) -> None:
    f = tmp_path / "empty.yaml"
    f.write_text("")
    with pytest.raises(ScenarioError) as info:
        load_scenario(f)
    p = _only(info.value)
    assert (p.file, p.line, p.column, p.path) == (str(f), 1, 1, "")
    assert "the file is empty" in p.message and 'evtool: "1"' in (p.hint or "")


def test_comments_only_file_is_empty(tmp_path: Path) -> None:
    f = tmp_path / "comments.yaml"
    f.write_text("# just a comment\n\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(f)
    assert "the file is empty" in _only(info.value).message


def test_binary_file(tmp_path: Path) -> None:
    f = tmp_path / "image.yaml"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(ScenarioError) as info:
        load_scenario(f)
    p = _only(info.value)
    assert (p.line, p.column) == (1, 1)
    assert "binary file" in p.message and "UTF-8" in (p.hint or "")


def test_invalid_utf8_points_at_the_byte(tmp_path: Path) -> None:
    f = tmp_path / "latin1.yaml"
    f.write_bytes(b'evtool: "1"\nid: caf\xe9\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(f)
    p = _only(info.value)
    assert (p.line, p.column) == (2, 8)
    assert "not valid UTF-8" in p.message


def test_fifty_megabyte_file_is_refused_without_reading_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "huge.yaml"
    with f.open("wb") as fh:
        fh.write(b'evtool: "1"\n')
        fh.truncate(50 * 1024 * 1024)  # sparse: 50 MB on paper, nothing to read
    opened: list[object] = []
    real_open = Path.open

    def spy_open(self: Path, *args: object, **kwargs: object) -> object:
        opened.append(self)
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", spy_open)
    started = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        load_scenario(f)
    assert time.perf_counter() - started < 1.0
    assert opened == [], "the size check must come before reading"
    p = _only(info.value)
    assert (p.file, p.line, p.column) == (str(f), 1, 1)
    assert f"{50 * 1024 * 1024:,} bytes" in p.message and f"{MAX_FILE_BYTES:,}" in p.message


def test_text_just_over_the_limit_is_refused() -> None:
    text = "a: " + "x" * MAX_FILE_BYTES + "\n"
    with pytest.raises(ScenarioError) as info:
        load_text(text, "big.yaml")
    assert "larger than" in _only(info.value).message


def test_yaml_bomb_is_refused_quickly() -> None:
    lines = ['evtool: "1"', "id: bomb", "l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    started = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        load_text("\n".join(lines) + "\n", "bomb.yaml")
    assert time.perf_counter() - started < 5.0
    p = _only(info.value)
    # l0..l4 expand to ~111,000 values; l5 (10^6) crosses the budget.
    assert (p.line, p.column, p.path) == (8, 1, "l5")
    assert f"more than {MAX_NODES:,} values" in p.message and "aliases" in (p.hint or "")


def test_deep_nesting_is_refused() -> None:
    text = BASE + "x: " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(ScenarioError) as info:
        load_text(text, "deep.yaml")
    assert "nests too deeply" in _only(info.value).message


def test_directory_is_not_a_scenario(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path)
    assert "directory" in _only(info.value).message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "nope.yaml")
    assert "cannot read the file" in _only(info.value).message


# --- the same inputs through the command line


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cli_prints_no_traceback(case: Case, tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(case.text, encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(f)])
    out = result.output
    assert result.exit_code == 2, out
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in out
    assert f"{f}:{case.line}:{case.column}:" in out
    assert "1 error" in out


def test_dangling_channel_reported_with_model_errors() -> None:
    text = BASE.replace("duration: 10s", "duration: 10").replace("    from: orders", "    from: ordres")
    with pytest.raises(ScenarioError) as info:
        load_text(text, "bad.yaml")
    assert [(p.line, p.column, p.path, p.message) for p in info.value.problems] == [
        (5, 13, "run.duration", "a duration needs a unit, found the bare number 10"),
        (18, 11, "consumers.billing.from", "no channel named `ordres`"),
    ]
    assert info.value.problems[1].hint == "did you mean `orders`?"


def test_a_broken_expectation_is_one_problem_at_its_key_and_its_name_stays_known() -> None:
    """`during: 0` on an expectation written with `that:`: the problem is at `during` (pydantic names the union
    member `that`, which is also this mapping's key: it was taken for the key, and the problem was reported at
    the expression), and a lesson's `fails: [its name]` is not a second problem (the broken entry's name is
    known though the entry did not validate)."""
    text = BASE + ("expect:\n  - name: quiet\n    that: count(dead_lettered) == 0\n    during: 0\n"
                   "lesson:\n  title: t\n  summary: s\n  try_next:\n    - say: x\n      set: {run.seed: 2}\n"
                   "      fails: [quiet]\n")
    with pytest.raises(ScenarioError) as info:
        load_text(text, "bad.yaml")
    assert [(p.line, p.column, p.path) for p in info.value.errors] == [(26, 13, "expect[0].during")], info.value
    assert "found `0`" in info.value.errors[0].message


def test_a_broken_request_reply_keeps_its_responder_known() -> None:
    """A request-reply pattern that does not validate: references to its responder (a consumer by name) are not
    problems of their own."""
    text = BASE + ("patterns:\n  quote:\n    type: request_reply\n    channel: quotes\n    reply_to: nowhere\n"
                   "    requester: {name: shop, arrival: {process: poisson, rate: 5/s}, timeout: 1s}\n"
                   "    responder: {name: pricing}\n"
                   "faults:\n  - action: crash\n    target: consumer:pricing\n    at: 1s\n")
    with pytest.raises(ScenarioError) as info:
        load_text(text, "bad.yaml")
    assert [p.path for p in info.value.errors] == ["patterns.quote.reply_to"], info.value
