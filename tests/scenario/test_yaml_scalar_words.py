"""A plain scalar that cannot start a number is read as text without trying the number patterns.

The shortcut must give exactly what the patterns give: checked on every plain scalar of the bundled
lessons and on generated texts built from the characters the patterns care about.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import yaml

from evtool.scenario import yamlsource
from evtool.scenario.yamlsource import _scalar

LESSONS = sorted((Path(__file__).resolve().parents[2] / "evtool" / "lessons").glob("*.yaml"))
PATTERNS = ("_INT_RE", "_OCT_RE", "_HEX_RE", "_FLOAT_RE", "_INF_RE", "_NAN_RE")


def _node(text: str) -> yaml.ScalarNode:
    return yaml.ScalarNode("tag:yaml.org,2002:str", text, style=None)


def _no_pattern_matches(text: str) -> bool:
    return not any(getattr(yamlsource, p).match(text) for p in PATTERNS)


def test_every_text_a_pattern_matches_starts_like_a_number() -> None:
    alphabet = "0123456789+-.eExXoabfinINaA_ \n"
    rng = random.Random(14)
    texts = ["".join(t) for n in range(1, 4) for t in itertools.product(alphabet, repeat=n)]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(4, 12))) for _ in range(20_000)]
    texts += [".inf", "-.Inf", ".nan", "0o17", "0x1F", "1e5", "+3", "x1", "e5", "inf", "nan", "1_000"]
    for text in texts:
        if text and text[0] not in yamlsource._NUMBER_STARTS:
            assert _no_pattern_matches(text), text


def test_words_read_as_before() -> None:
    for text, value in [("billing", "billing"), ("e5", "e5"), ("inf", "inf"), ("x1", "x1"), ("true", True),
                        ("Null", None), ("12", 12), ("-1.5", -1.5), ("0x10", 16), ("0o10", 8), (".5", 0.5),
                        ("1.2.3", "1.2.3"), ("-", "-"), ("30s", "30s"), ("10/s", "10/s")]:
        assert _scalar(_node(text)) == value, text


def test_every_plain_scalar_of_the_lessons_reads_as_the_patterns_read_it() -> None:
    seen = 0
    for path in LESSONS:
        for node in yaml.compose_all(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader):
            stack = [node]
            while stack:
                n = stack.pop()
                if isinstance(n, yaml.ScalarNode):
                    if n.style is None and n.value and n.value[0] not in yamlsource._NUMBER_STARTS:
                        assert _no_pattern_matches(n.value), n.value
                        assert _scalar(_node(n.value)) in (n.value, None, True, False)
                        seen += 1
                elif isinstance(n, yaml.SequenceNode):
                    stack.extend(n.value)
                elif isinstance(n, yaml.MappingNode):
                    stack.extend(v for kv in n.value for v in kv)
    assert seen > 1000
