"""evtool.sim layer."""

from __future__ import annotations

import importlib

HOT_MODULES = (
    "evtool.core.brokerstate",
    "evtool.core.queue_delivery",
    "evtool.core.broker",
    "evtool.core.queues",
    "evtool.sim.kernel",
    "evtool.sim.producer",
    "evtool.sim.consumer",
    "evtool.sim.engine",
    "evtool.trace.digest",
    "evtool.trace.metrics",
)
"""The modules `EVTOOL_COMPILE=1 pip install .` compiles with Cython (setup.py); see docs/architecture.md."""


def compiled_status() -> str:
    """`compiled` when every hot module was imported from a compiled build, `pure` when none, else `mixed`."""
    compiled = [str(getattr(importlib.import_module(n), "__file__", "")).endswith((".so", ".pyd"))
                for n in HOT_MODULES]
    if all(compiled):
        return "compiled"
    return "mixed" if any(compiled) else "pure"
