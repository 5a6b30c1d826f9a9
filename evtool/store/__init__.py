"""evtool.store layer."""
