"""The trace digest: one hash for "this run did exactly this", whoever watched it."""

from __future__ import annotations

from evtool.core.events import TraceEvent
from evtool.trace.digest import TraceDigest, as_rows


def test_digest_does_not_depend_on_batch_boundaries() -> None:
    """Flushing at other moments (a dashboard, a recorder) must not change the digest."""
    events = [TraceEvent(i, "published", f"m{i}", "q", "p", None, None, 0, None, {"x": i} if i % 3 else None)
              for i in range(50)]
    whole = TraceDigest()
    whole.update(events)
    pieces = TraceDigest()
    for cut in range(0, 50, 7):
        pieces.update(events[cut:cut + 7])
    assert whole.hexdigest() == pieces.hexdigest()


def test_rows_and_events_give_one_digest() -> None:
    """The engine hands the digest plain rows (`as_rows`); they hash as the events do."""
    events = [TraceEvent(i, "handled", f"m{i}", "q", "c", 0, "k", 1, None, {"latency": i}) for i in range(20)]
    a = TraceDigest()
    a.update(events)
    b = TraceDigest()
    b.update_rows(as_rows(events))
    assert a.hexdigest() == b.hexdigest() and a.count == b.count == 20
    c = TraceDigest()
    c.update(events[:-1] + [events[-1]._replace(data={"latency": 19, "bkey": "o-1"})])
    assert c.hexdigest() != a.hexdigest()  # every field counts, `data` included
