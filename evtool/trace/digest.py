"""The trace digest: one hash that says "this run did exactly this".

Same scenario, seed and evtool version give the same digest, whatever the
pacing and whether the run was recorded. Events are hashed in batches,
each event as a plain tuple of its fields encoded with `marshal` format
version 2: a value encoding (no back-references, so it does not depend on
which objects happen to be shared) that runs at C speed, about 0.6 µs an
event against 2.4 µs for `repr`.

Those bytes are also what the recorder stores (evtool.store.chunks, format
`R`): `shared_encoding(events)` hands a listener the encoding of the batch
this thread's digest folded in last, so a recorded run encodes its events
once. A batch that is not the one just digested (told by its size and its
first, middle and last event) gets None, and the listener encodes it itself.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import threading
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from evtool.core.events import TraceEvent

_MARSHAL_VERSION = 2
_LIST_HEADER = 5


def _compiled_encoder() -> Any:
    """The compiled row encoder (`_rowcodec`, built by `pip install .` where a C compiler is found), or
    None: without it, or with EVTOOL_PURE=1 in the environment, the digest uses `marshal` (the same bytes)."""
    if os.environ.get("EVTOOL_PURE"):
        return None
    try:
        from evtool.trace._rowcodec import encode_rows
    except ImportError:
        return None
    try:
        encode_rows([], "published")  # the kind count (`shared_batch`): an older build, compiled in place
    except TypeError:                 # before it and left behind by an update, takes rows only
        return None
    return encode_rows


_encode_rows = _compiled_encoder()
COMPILED = _encode_rows is not None
"""Whether the digest runs on the compiled row encoder."""
# slicing a TraceEvent copies its fields into a plain tuple at C speed (half the cost of `tuple(ev)`,
# which iterates a tuple subclass item by item)
_as_tuple = itemgetter(slice(None))
# The last batch each thread's digest encoded: (first row, middle row, last row, count, the row encodings).
_last = threading.local()


def as_rows(events: Sequence[TraceEvent]) -> list[tuple[Any, ...]]:
    """The events as plain tuples of their fields, in order.

    marshal encodes exact tuples only, and CPython indexes an exact tuple faster than a
    named tuple (its specialised `ev[i]` and `itemgetter` paths skip subclasses), so the
    engine converts each batch once and hands the rows to the digest and the metrics.
    """
    return list(map(_as_tuple, events))


def shared_encoding(events: Sequence[Sequence[Any]]) -> bytes | memoryview | None:
    """The rows' marshal (version 2) encodings of `events`, if they are the batch this thread's digest
    folded in last; else None (nothing is shared: encode them yourself).

    The engine hands its listeners the batch it has just digested, so a listener that stores the
    trace (the recorder) need not encode it again. The bytes are the events' own encodings without
    the list header (`marshal.loads` reads them after ``b"[" + count as <i4``). A batch is taken
    once: the same events asked for again, or any other events, get None.
    """
    shared = shared_batch(events)
    return None if shared is None else shared[0]


def shared_batch(events: Sequence[Sequence[Any]]) -> tuple[bytes | memoryview, int | None] | None:
    """`shared_encoding` and how many of the events are `published`: counted by the compiled encoder as it
    encoded them, None where the digest did not count them (the pure build: count them yourself)."""
    last = getattr(_last, "batch", None)
    if last is None:
        return None
    first, middle, final, n, body, published = last
    if n != len(events) or first != events[0] or final != events[-1] or middle != events[n // 2]:
        return None
    _last.batch = None
    return body, published


class TraceDigest:
    """An incremental SHA-256 over the trace."""

    __slots__ = ("_h", "count")

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self.count = 0

    def update(self, events: Sequence[TraceEvent]) -> None:
        """Fold a batch of events into the digest."""
        self.update_rows(as_rows(events))

    def update_rows(self, rows: list[tuple[Any, ...]]) -> None:
        """Fold in a batch already made plain tuples by `as_rows` (the same digest as `update`)."""
        if not rows:
            return
        # Drop the list header (type byte + length): what remains is the events' own encodings,
        # so the digest does not depend on where batches happen to be cut. The compiled encoder writes
        # exactly those bytes (tests/trace/test_rowcodec.py).
        n = len(rows)
        body: bytes | memoryview
        published: int | None = None
        if _encode_rows is not None:
            # the compiled encoder counts the `published` events on its way (for a recorder: `shared_batch`)
            body, published = _encode_rows(rows, "published")
        else:
            body = memoryview(marshal.dumps(rows, _MARSHAL_VERSION))[_LIST_HEADER:]
        self._h.update(body)
        self.count += n
        _last.batch = (rows[0], rows[n // 2], rows[-1], n, body, published)

    def hexdigest(self) -> str:
        """The digest so far (64 hex characters)."""
        return self._h.hexdigest()

    def short(self) -> str:
        """The first 16 hex characters, for display."""
        return self.hexdigest()[:16]
