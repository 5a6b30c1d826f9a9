"""A redrive fault on a channel that is not a queue is refused by the loader with a located error.

Found by random testing (tests/property): `action: redrive` on a topic or a log passed validation and the
run crashed with a bare `ValueError: redrive needs a queue channel` from the broker core.
"""

from __future__ import annotations

import pytest

from evtool.scenario.errors import ScenarioError
from evtool.scenario.loader import load_text
from evtool.sim.engine import Engine

TEXT = """
evtool: "1"
id: redrive-target
run: {{seed: 1, duration: 1s}}
channels:
  main: {{kind: {kind}}}
producers: {{p: {{to: main, arrival: {{process: constant, rate: 5/s}}}}}}
consumers: {{c: {{from: main}}}}
faults:
  - {{action: redrive, at: 500ms, target: "channel:main"}}
"""


@pytest.mark.parametrize("kind", ["topic", "log"])
def test_redrive_of_a_non_queue_is_a_located_error(kind: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_text(TEXT.format(kind=kind), "s.yaml")
    text = str(err.value)
    assert "s.yaml:10:" in text and "redrive" in text and kind in text


@pytest.mark.parametrize("kind", ["queue", "grouped_queue"])
def test_redrive_of_a_queue_runs(kind: str) -> None:
    outcome = Engine(load_text(TEXT.format(kind=kind), "s.yaml")).run()
    assert outcome.drain == "complete"
