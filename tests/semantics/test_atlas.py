"""The semantics atlas: every scenario's documented outcome, on the core and on the real brokers.

Each scenario in ``scenarios/`` encodes one documented broker behaviour per message (see `atlas.py` for
the header every file carries). A scenario runs on the core under its profile and, where evtool has a
transport for that broker (RabbitMQ, NATS JetStream, Redis Streams), on the real broker in real time.
The documented outcome is "every check passes"; nothing here is weakened to fit what evtool does.

Where evtool disagrees with the documentation today, the case is listed ONCE in `KNOWN_DISAGREEMENTS`
and runs as a strict xfail: when the fix lands, the XPASS fails and the entry must be removed.
"""

from __future__ import annotations

from typing import Any

import pytest

from .atlas import ENTRIES, HEADER_KEYS, SCENARIOS, Entry, run_target

KNOWN_DISAGREEMENTS: dict[str, dict[str, str]] = {
}
"""scenario id -> {target: why evtool (core or transport) disagrees with the documented outcome}."""

NOT_RUN_ON_REAL_BROKER: dict[str, dict[str, str]] = {
}
"""scenario id -> {transport: why the real-broker run is impossible in a few seconds here (a skip, not a
disagreement: the behaviour cannot be observed, so nothing is claimed)}."""


def _params() -> list[Any]:
    out = []
    for e in ENTRIES:
        for target in e.targets:
            marks: list[Any] = []
            if target != "core":
                marks.append(pytest.mark.broker)
                why = NOT_RUN_ON_REAL_BROKER.get(e.id, {}).get(target)
                if why:
                    marks.append(pytest.mark.skip(reason=why))
            reason = KNOWN_DISAGREEMENTS.get(e.id, {}).get(target)
            if reason:
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            out.append(pytest.param(e, target, id=f"{e.id}-{target}", marks=marks))
    return out


@pytest.mark.parametrize("e,target", _params())
def test_documented_outcome(e: Entry, target: str, request: pytest.FixtureRequest) -> None:
    url = None if target == "core" else request.getfixturevalue(f"{target}_url")
    verdict = run_target(e, target, url)
    assert verdict.ok, f"{e.id} on {target} departs from the documented outcome ({e.header['outcome']}):\n" \
                       f"{verdict.describe()}"


def test_the_atlas_is_big_enough() -> None:
    assert len(SCENARIOS) >= 40


@pytest.mark.parametrize("e", ENTRIES, ids=[e.id for e in ENTRIES])
def test_every_scenario_names_its_source_and_asserts_per_message(e: Entry) -> None:
    missing = [k for k in HEADER_KEYS if not e.header.get(k)]
    assert not missing, f"{e.path.name}: the atlas header lacks {missing}"
    assert str(e.header["url"]).startswith("https://"), e.header["url"]
    assert e.path.stem == e.id, "the file is named after the scenario id"
    text = e.path.read_text(encoding="utf-8")
    assert "profile:" in text, "an atlas scenario names its broker profile"
    assert "msg=" in text, "an atlas scenario asserts per message (a selector with msg=...)"
    assert "id:" in text.split("inject:", 1)[-1], "injected messages carry explicit ids"


def test_the_registries_name_real_cases() -> None:
    by_id = {e.id: e for e in ENTRIES}
    for registry in (KNOWN_DISAGREEMENTS, NOT_RUN_ON_REAL_BROKER):
        for sid, targets in registry.items():
            assert sid in by_id, f"unknown scenario {sid}"
            for target in targets:
                assert target in by_id[sid].targets, f"{sid} does not run on {target}"
