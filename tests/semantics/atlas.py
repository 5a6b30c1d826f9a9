"""The semantics atlas: small scenarios that each encode one documented broker behaviour, per message.

Every file in ``scenarios/`` starts with a YAML comment block::

    # atlas:
    #   section: "Poison Message Handling"
    #   url: https://www.rabbitmq.com/docs/quorum-queues
    #   quote: "the sentence of the broker's documentation the scenario follows"
    #   outcome: "the documented fate of each message, in words"
    #   verified: "what the installed broker did with a plain client script (optional)"

and its ``expect:`` block states that outcome per message id. `run_target` runs one scenario on the core
(the local engine under the scenario's profile) or on a real broker through evtool's transport and
returns each check's verdict; `tests/semantics/test_atlas.py` compares them with the documented
outcome (every check passes) and `tests/semantics/table.py` writes the README's table from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SCENARIO_DIR = HERE / "scenarios"
SCENARIOS = sorted(SCENARIO_DIR.glob("*.yaml"))

TRANSPORT_OF_PROFILE = {
    "rabbitmq-classic": "rabbitmq",
    "rabbitmq-quorum": "rabbitmq",
    "nats-jetstream": "nats",
    "redis-streams": "redis",
    "kafka": "kafka",
    "sqs-standard": "sqs",
    "sqs-fifo": "sqs",
}
"""The real broker (or endpoint: Tansu for Kafka, moto for SQS) a profile can be checked against."""

HEADER_KEYS = ("section", "url", "quote", "outcome")


@dataclass(frozen=True)
class Entry:
    """One atlas scenario: its file, id, profile and documentation header."""

    path: Path
    id: str
    profile: str
    header: dict[str, Any]

    @property
    def targets(self) -> list[str]:
        """``core`` and, where a transport exists for the profile's broker, that transport."""
        t = TRANSPORT_OF_PROFILE.get(self.profile)
        return ["core"] if t is None else ["core", t]


def read_header(path: Path) -> dict[str, Any]:
    """The ``# atlas:`` comment block at the top of a scenario file, parsed as YAML."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[2:] if line.startswith("# ") else line[1:])
    doc = yaml.safe_load("\n".join(lines)) or {}
    if not isinstance(doc, dict) or not isinstance(doc.get("atlas"), dict):
        raise ValueError(f"{path.name}: the file must start with a `# atlas:` comment block")
    return doc["atlas"]


def entry(path: Path) -> Entry:
    """Read a scenario's id, profile and header without validating it (fields may not exist yet)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    profile = ((raw.get("broker") or {}).get("profile")) or "default"
    return Entry(path, raw["id"], profile, read_header(path))


ENTRIES = [entry(p) for p in SCENARIOS]


@dataclass
class Verdict:
    """What one run of a scenario on one target gave."""

    checks: dict[str, str]  # expectation name -> pass | fail | unknown
    observed: dict[str, str]
    drain: str
    problems: list[str]
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Every check passed (the documented outcome), the run drained and the broker saw no errors."""
        return (self.error is None and bool(self.checks) and all(s == "pass" for s in self.checks.values())
                and self.drain == "complete" and not self.problems)

    def describe(self) -> str:
        """A readable account for an assertion message."""
        if self.error is not None:
            return self.error
        rows = [f"  {s:7} {n}: {self.observed.get(n, '')}" for n, s in self.checks.items()]
        rows.append(f"  drain: {self.drain}")
        if self.problems:
            rows.append(f"  broker problems: {self.problems}")
        return "\n".join(rows)

    def short(self) -> str:
        """One table cell: ✓, or ✗ with the failing checks."""
        if self.error is not None:
            return "error: " + self.error.splitlines()[0][:60]
        if self.ok:
            return "✓"
        bad = [n for n, s in self.checks.items() if s != "pass"]
        extra = [] if self.drain == "complete" else [f"drain {self.drain}"]
        return "✗ " + ", ".join(bad + extra + (["broker errors"] if self.problems else []))


def run_target(e: Entry, target: str, url: str | None = None) -> Verdict:
    """Run scenario `e` on `target` (``core`` or a transport name) and collect each check's verdict.

    A scenario that does not load (it uses a field the language does not have yet) gives a Verdict
    with `error` set: that is a disagreement to register, not a crash of the atlas.
    """
    from evtool.scenario.errors import ScenarioError
    from evtool.scenario.loader import load_scenario

    try:
        loaded = load_scenario(e.path)
    except ScenarioError as exc:
        return Verdict({}, {}, "n/a", [], error=f"does not load: {exc}")
    if target == "core":
        from evtool.sim.engine import Engine

        out = Engine(loaded).run()
        problems: list[str] = []
    else:
        from evtool.transports.runner import run_on_transport

        out = run_on_transport(loaded, target, url=url)
        problems = [str(p) for p in out.extra.get("problems", [])]
    return Verdict({c["name"]: c["status"] for c in out.checks},
                   {c["name"]: str(c.get("observed", "")) for c in out.checks}, out.drain, problems)
