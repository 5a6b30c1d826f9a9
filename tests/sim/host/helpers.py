"""Helpers for the host tests: the shared ones in `host_driving` (also used by the dashboard tests)."""

from __future__ import annotations

from host_driving import manual_host, tick_until, to_lesson_step

__all__ = ["manual_host", "tick_until", "to_lesson_step"]
