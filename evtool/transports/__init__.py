"""evtool.transports layer."""
