"""The trace digest: one hash that says "this run did exactly this".

Same scenario, seed and evtool version give the same digest, whatever the
pacing and whether the run was recorded. Events are hashed in batches as
their tuple representation (ints, strings and small dicts of scalars all
have a stable repr).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from evtool.core.events import TraceEvent

_tuple_repr = tuple.__repr__


class TraceDigest:
    """An incremental SHA-256 over the trace."""

    __slots__ = ("_h", "count")

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self.count = 0

    def update(self, events: Sequence[TraceEvent]) -> None:
        """Fold a batch of events into the digest."""
        if not events:
            return
        self._h.update("\n".join(map(_tuple_repr, events)).encode("utf-8", "surrogatepass"))
        self._h.update(b"\n")
        self.count += len(events)

    def hexdigest(self) -> str:
        """The digest so far (64 hex characters)."""
        return self._h.hexdigest()

    def short(self) -> str:
        """The first 16 hex characters, for display."""
        return self.hexdigest()[:16]
