"""evtool.sim layer."""

from __future__ import annotations


def compiled_status() -> str:
    """`compiled` when the run uses the compiled build (`pip install .` where a C compiler is found: the core's
    and the engine's hot modules, `evtool.COMPILED_MODULES`, and the trace digest's row encoder), `partly
    compiled` when only some of it is in use, else `pure` (no compiler, an editable install, or `EVTOOL_PURE=1`)."""
    import importlib
    import importlib.machinery

    from evtool import COMPILED_MODULES
    from evtool.trace.digest import COMPILED

    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    built = [name for name in COMPILED_MODULES
             if str(getattr(importlib.import_module(name), "__file__", "")).endswith(suffixes)]
    if COMPILED and len(built) == len(COMPILED_MODULES):
        return "compiled"
    return "partly compiled" if COMPILED or built else "pure"
