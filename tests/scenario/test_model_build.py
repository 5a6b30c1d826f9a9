"""The scenario models build their validators once, at the first validation, not at import (start-up)."""

from __future__ import annotations

import subprocess
import sys

from evtool.scenario.loader import load_text

_CODE = """
import evtool.scenario.models as m
from pydantic import BaseModel
models = [v for v in vars(m).values() if isinstance(v, type) and issubclass(v, BaseModel) and v is not m.Model]
print(sum(1 for v in models if v.__pydantic_complete__), len(models))
from evtool.scenario.loader import load_text
load_text('evtool: "1"\\nid: x\\nrun: {seed: 1, duration: 1s}\\nchannels: {q: {kind: queue}}\\n', "x.yaml")
print(m.Scenario.__pydantic_complete__)
"""


def test_importing_the_models_builds_no_validator_and_the_first_load_builds_the_root() -> None:
    proc = subprocess.run([sys.executable, "-c", _CODE], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    built, total, after = proc.stdout.split()
    assert total != "0" and built == "0"
    assert after == "True"


def test_a_nested_model_validates_on_its_own_after_the_root_was_built() -> None:
    """Patterns validate a `Producer` or a `Consumer` by itself (request-reply, projections)."""
    from evtool.scenario import models as m

    load_text('evtool: "1"\nid: x\nrun: {seed: 1, duration: 1s}\nchannels: {q: {kind: queue}}\n', "x.yaml")
    producer = m.Producer.model_validate({"to": "q", "arrival": {"process": "constant", "rate": "5/s"}})
    assert producer.to == "q"
