"""evtool.cli layer, and the console-script entry point (`main`), which imports nothing at import time."""

from __future__ import annotations


def main() -> None:
    """Console-script entry point: the collector's threshold raised first (`startup._startup_gc`), then the
    command line."""
    from evtool.cli.startup import _startup_gc

    _startup_gc()
    from evtool.cli.app import main as command_line

    command_line()
