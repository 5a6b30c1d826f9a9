"""evtool.core layer."""
