"""Errors the run store raises; each message is meant to be shown to the user as is."""

from __future__ import annotations


class StoreError(Exception):
    """A run-store problem the user can act on (bad path, newer schema, ...)."""


class RunNotFound(StoreError):
    """No run matches the reference the user gave."""


class AmbiguousRun(StoreError):
    """A run-id prefix matches more than one run; `candidates` lists them."""

    def __init__(self, message: str, candidates: list[str]) -> None:
        super().__init__(message)
        self.candidates = candidates


class RecorderError(StoreError):
    """The recorder's writer failed; the run itself is unaffected but its record is partial."""
