"""evtool.report layer."""
