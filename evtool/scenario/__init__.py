"""evtool.scenario layer."""
