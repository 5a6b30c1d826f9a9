"""A bounded memo of parses by source text, shared by the small languages and the units.

A lesson and its variations repeat the same few dozen selectors, expressions, templates and durations;
the loader checks each variation and the run compiles them again. What is cached must be immutable (the
compiled objects are frozen: tests/scenario/test_compile_cache.py proves it for every lesson). Failures are
never cached: the error is raised again, with its column, on the next call.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TextCache(dict[K, V], Generic[K, V]):
    """A dict from source (text, or text and its context) to its parse, emptied when it reaches `limit`."""

    def __init__(self, limit: int = 2048) -> None:
        super().__init__()
        self.limit = limit

    def through(self, key: K, build: Callable[[], V]) -> V:
        """The parse of `key`: the cached one, else `build()` (which may raise; nothing is cached then)."""
        hit = self.get(key)
        if hit is None:
            hit = build()
            if len(self) >= self.limit:
                self.clear()
            self[key] = hit
        return hit
