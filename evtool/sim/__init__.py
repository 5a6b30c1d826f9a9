"""evtool.sim layer."""
