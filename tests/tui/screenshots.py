"""Export the README screenshots (SVG, from the real app) into docs/images/.

Run from the repository root: ``.venv/bin/python -m tests.tui.screenshots``.
Every picture is the real dashboard on the bundled retries lesson, driven on
virtual time, so the pictures are the same on every machine.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the shared test helpers (as under pytest)

from evtool.scenario.lessons import checked_lessons
from evtool.scenario.loader import load_scenario
from evtool.tui.app import EvtoolApp

from . import scenes
from .helpers import LESSON, ROOT

OUT = ROOT / "docs" / "images"
SHOTS: list[tuple[str, str, tuple[int, int]]] = [
    ("dashboard-80x24.svg", "lesson-start", (80, 24)),
    ("dashboard-retries.svg", "mid-run-retries", (120, 36)),
    ("dashboard-dead-letters.svg", "dead-letters", (120, 36)),
    ("message-inspector.svg", "inspector", (120, 36)),
    ("run-over-checks.svg", "run-over", (120, 36)),
    ("quiz-80x24.svg", "quiz-answered", (80, 24)),
    ("sequence-view.svg", "sequence", (120, 32)),
    ("topic-fork.svg", "fanout", (100, 30)),
    ("saga-view.svg", "sagas", (120, 32)),
    ("saga-sequence.svg", "saga-sequence", (120, 36)),
    ("end-of-lesson.svg", "end", (100, 30)),
    ("variations-matrix.svg", "matrix", (100, 30)),
]


async def shoot(app: EvtoolApp, keys: tuple[str, ...], size: tuple[int, int], path: Path) -> None:
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
        await pilot.app.workers.wait_for_complete()  # the variations matrix runs in a worker
        await pilot.pause()
        await pilot.pause()
        path.write_text(app.export_screenshot(title="evtool"), encoding="utf-8")


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    loaded = load_scenario(LESSON)
    for name, scene, size in SHOTS:
        app, keys = scenes.SCENES[scene](loaded)
        await shoot(app, keys, size, OUT / name)
        print(OUT / name)
    picker: Any = EvtoolApp(host=None, lessons=checked_lessons(), auto_poll=False, threaded_hosts=False)
    await shoot(picker, ("down", "down"), (110, 30), OUT / "lesson-picker.svg")
    print(OUT / "lesson-picker.svg")


if __name__ == "__main__":
    asyncio.run(main())
