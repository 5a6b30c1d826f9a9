"""SIGTERM handled like Ctrl-C while a run records.

`kill PID`, `timeout`, systemd, Docker and CI runners stop a process with
SIGTERM. Left at its default, SIGTERM ends the process at once: the run
stays `incomplete` (later shown as `died`) and its summary is lost. While a
run records, SIGTERM instead raises `KeyboardInterrupt` in the main thread,
so the code that already handles Ctrl-C records the run as `interrupted`
and prints its summary.

The handler is installed only from the main thread (Python delivers signals
there) and only over the default disposition (an application's own handler
is left alone). It restores the previous one on the first SIGTERM, so a
second SIGTERM during the clean-up ends the process as usual.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

_Handler = Callable[[int, FrameType | None], Any] | int | None


class SigtermAsInterrupt:
    """Install on `install()`, put the previous handler back on `restore()` (both idempotent)."""

    def __init__(self) -> None:
        self._previous: _Handler = None
        self._installed = False

    def install(self) -> bool:
        """Make SIGTERM raise KeyboardInterrupt; False when it cannot (not the main thread, a handler is set)."""
        if self._installed or threading.current_thread() is not threading.main_thread():
            return False
        try:
            current = signal.getsignal(signal.SIGTERM)
            if current not in (signal.SIG_DFL, None):
                return False
            self._previous = current
            signal.signal(signal.SIGTERM, self._on_sigterm)
        except (ValueError, OSError):
            return False
        self._installed = True
        return True

    def restore(self) -> None:
        """Put the previous SIGTERM handler back (from the main thread; elsewhere it stays until then)."""
        if not self._installed or threading.current_thread() is not threading.main_thread():
            return
        try:
            if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
                signal.signal(signal.SIGTERM, self._previous if self._previous is not None else signal.SIG_DFL)
        except (ValueError, OSError):
            return
        self._installed = False

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self.restore()  # a second SIGTERM ends the process
        raise KeyboardInterrupt("SIGTERM")


@contextmanager
def sigterm_as_interrupt() -> Iterator[bool]:
    """Within the block, SIGTERM raises KeyboardInterrupt (yields whether the handler was installed)."""
    guard = SigtermAsInterrupt()
    installed = guard.install()
    try:
        yield installed
    finally:
        guard.restore()
