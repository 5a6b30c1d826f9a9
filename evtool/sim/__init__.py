"""evtool.sim layer."""

from __future__ import annotations


def compiled_status() -> str:
    """`compiled` when the run uses the optional compiled parts (today the trace digest's row encoder,
    `evtool/trace/_rowcodec.pyx`, built by `EVTOOL_COMPILE=1 pip install .`), else `pure`."""
    from evtool.trace.digest import COMPILED

    return "compiled" if COMPILED else "pure"
