"""evtool.tui layer."""
