"""A tiny recording process for the crash and concurrency tests.

    python record_child.py DB MODE BATCHES BATCH_SIZE

MODE `finish`: records BATCHES batches of synthetic events and finishes the run.
MODE `hang`: records BATCHES batches, waits for each commit and prints
`committed N` per batch, then prints `ready` and keeps recording forever
(the test kills it with SIGKILL or interrupts it with SIGINT).
"""

from __future__ import annotations

import sys
from itertools import count
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: tests/ holds synthetic_runs

from synthetic_runs import synthetic_header  # noqa: E402

from evtool.core.events import TraceEvent  # noqa: E402
from evtool.store.model import RunResult, utc_now_iso  # noqa: E402
from evtool.store.recorder import Recorder  # noqa: E402


def batch(first: int, size: int) -> list[TraceEvent]:
    """`size` synthetic events numbered from `first` (one `published` every 4 events)."""
    return [TraceEvent(i * 1000, "published" if i % 4 == 0 else "delivered", f"m-{i // 4}", "orders", "billing",
                       1, f"k-{i % 7}", 1, None, {"i": i} if i % 4 == 0 else None) for i in range(first, first + size)]


def main() -> None:
    """Run as described in the module docstring."""
    db, mode, batches, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rec = Recorder(db, batch_size=size, flush_interval=3600)
    header = synthetic_header()
    with rec:
        rec.start(header)
        print(f"run {header.id}", flush=True)
        for b in range(batches):
            rec.record(batch(b * size, size))
            if mode == "hang":
                assert rec.sync(timeout=30)
                print(f"committed {rec.committed}", flush=True)
        if mode == "finish":
            n = batches * size
            rec.finish(RunResult(outcome="passed", ended_at=utc_now_iso(), virtual_ns=(n - 1) * 1000, events=n,
                                 messages=(n + 3) // 4))
            print("finished", flush=True)
            return
        print("ready", flush=True)
        for b in count(batches):
            rec.record(batch(b * size, size))


if __name__ == "__main__":
    main()
