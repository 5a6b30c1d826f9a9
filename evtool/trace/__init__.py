"""evtool.trace layer."""
