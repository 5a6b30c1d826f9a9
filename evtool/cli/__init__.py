"""evtool.cli layer."""
