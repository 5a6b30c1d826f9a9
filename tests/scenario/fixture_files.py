"""Where the scenario fixtures live, and how an invalid fixture states what it expects.

An invalid fixture starts with two comment lines::

    # expect: LINE:COLUMN PATH: message fragment
    # schema: rejects | accepts | unparsable

`schema` says what the JSON Schema makes of the file's raw YAML data:
`accepts` for problems beyond a schema (a dangling reference), `unparsable`
when the strict reader refuses the YAML itself (duplicate or boolean keys).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
LESSONS = ROOT / "evtool" / "lessons"

VALID_FILES = sorted([*LESSONS.glob("*.yaml"), *(FIXTURES / "valid").glob("*.yaml")])
INVALID_FILES = sorted((FIXTURES / "invalid").glob("*.yaml"))

_EXPECT_RE = re.compile(r"^# expect: (\d+):(\d+) (\S*): (.+)$")
_SCHEMA_RE = re.compile(r"^# schema: (rejects|accepts|unparsable)$")


@dataclass(frozen=True)
class Expected:
    """The problem an invalid fixture must produce first."""

    line: int
    column: int
    path: str
    message: str
    schema: str


def expected(path: Path) -> Expected:
    """Read the `# expect:` and `# schema:` header of an invalid fixture."""
    first, second = path.read_text(encoding="utf-8").splitlines()[:2]
    m = _EXPECT_RE.match(first)
    s = _SCHEMA_RE.match(second)
    assert m and s, f"{path.name}: the first two lines must be `# expect: ...` and `# schema: ...`"
    return Expected(int(m[1]), int(m[2]), m[3], m[4], s[1])
