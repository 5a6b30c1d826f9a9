"""Issue 13: a re-run line for list and map values is readable (`--set 'faults=[{at: 10s, ...}]'`, never
`'"'"'`), and it reads back, through the shell and `--set`, to the same overrides."""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from evtool.report.summary import rerun_command
from evtool.scenario.loader import parse_value

OVERRIDES: list[dict[str, Any]] = [
    {"consumers.billing.retry.non_retryable": ["ParseError"]},
    {"faults": [{"at": "10s", "action": "crash", "target": "consumer:billing#0"}]},
    {"faults[+]": {"at": "110s", "action": "redrive", "target": "channel:orders.dlq"}},
    {"producers.p.payload": {"note": "it's \"quoted\"", "n": 3, "ok": True, "none": None}},
    {"consumers.billing.idempotency": "off"},
]


@pytest.mark.parametrize("overrides", OVERRIDES)
def test_rerun_reads_back_to_the_same_overrides(overrides: dict[str, Any]) -> None:
    line = rerun_command("retries-dlq-poison", 7, overrides)
    assert "'\"'\"'" not in line or "'" in str(overrides)  # the shell's quote-in-quote only for a quote in a value
    words = shlex.split(line)
    assert words[:5] == ["evtool", "run", "retries-dlq-poison", "--seed", "7"]
    back = {}
    for flag, arg in zip(words[5::2], words[6::2], strict=True):
        assert flag == "--set"
        path, _, value = arg.partition("=")
        back[path] = parse_value(value)
    assert back == overrides


def test_a_list_of_maps_reads_as_yaml_flow() -> None:
    line = rerun_command("retries-dlq-poison", 7, OVERRIDES[1])
    assert line.endswith("--set 'faults=[{at: 10s, action: crash, target: \"consumer:billing#0\"}]'") or \
        line.endswith("--set 'faults=[{at: 10s, action: crash, target: consumer:billing#0}]'"), line
