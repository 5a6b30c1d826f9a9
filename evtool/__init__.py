"""evtool: a command-line event workbench.

Nothing heavy is imported here: `evtool --help` must start fast.
"""

import os as _os

__version__ = "0.1.0"

COMPILED_MODULES = (
    "evtool.core.message", "evtool.core.delivery", "evtool.core.queues", "evtool.core.brokerstate",
    "evtool.core.queue_delivery", "evtool.core.broker", "evtool.sim.kernel", "evtool.sim.context",
    "evtool.sim.consumer", "evtool.sim.lean", "evtool.sim.producer", "evtool.sim.engine", "evtool.sim.sampling",
)
"""The modules the compiled build (`pip install .` where a C compiler is found, setup.py) compiles with Cython
from their own `.py` source and the `.pxd` declarations beside it; the same `.py` files are the pure build."""

if _os.environ.get("EVTOOL_PURE"):
    # EVTOOL_PURE=1: run the pure-Python source even where a compiled build put extension modules beside it
    # (an extension module would otherwise be found first). Benchmarks and tests compare the two this way.
    import importlib.util as _util
    import sys as _sys

    class _SourceFirst:
        """Finds `evtool.*` modules as `.py` source files (packages and everything else: the usual finders)."""

        @staticmethod
        def find_spec(name: str, path: object = None, target: object = None) -> object:
            if name not in COMPILED_MODULES or not path:
                return None
            leaf = name.rpartition(".")[2]
            for entry in path:  # type: ignore[attr-defined]
                source = _os.path.join(entry, leaf + ".py")
                if _os.path.isfile(source):
                    return _util.spec_from_file_location(name, source)
            return None

    _sys.meta_path.insert(0, _SourceFirst())  # type: ignore[arg-type]
