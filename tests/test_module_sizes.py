"""Rooms of a sensible size (issue 12): no module in evtool/ is over 800 lines.

`SPLIT_PENDING` names the modules whose split is under way elsewhere; delete an entry when its module is split
(an entry for a module that is small again, or gone, is reported by the second test).
"""

from __future__ import annotations

from pathlib import Path

LIMIT = 800
PACKAGE = Path(__file__).resolve().parents[1] / "evtool"
SPLIT_PENDING = {
}


def _sizes() -> dict[str, int]:
    return {p.relative_to(PACKAGE).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
            for p in PACKAGE.rglob("*.py")}


def test_no_module_is_over_the_limit() -> None:
    sizes = _sizes()
    assert len(sizes) > 50, "the package was not found"
    over = {p: n for p, n in sizes.items() if n > LIMIT and p not in SPLIT_PENDING}
    assert not over, f"modules over {LIMIT} lines (split them): {over}"


def test_pending_splits_are_still_pending() -> None:
    sizes = _sizes()
    done = sorted(p for p in SPLIT_PENDING if sizes.get(p, 0) <= LIMIT)
    assert not done, f"split already: remove them from SPLIT_PENDING: {done}"
