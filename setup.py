"""Only the optional compiled build lives here; everything else is in pyproject.toml.

`EVTOOL_COMPILE=1 pip install .` compiles, with Cython:

* the core's and the engine's hot modules (`evtool.COMPILED_MODULES`), from their own `.py` source, with
  the `.pxd` declarations beside each (extension types for the per-message classes, typed locals on the
  hot path: Cython's pure-Python mode, https://cython.readthedocs.io/en/latest/src/tutorial/pure.html);
* evtool/trace/_rowcodec.pyx (the trace digest's row encoder, byte for byte what marshal writes) and
  evtool/trace/_foldfast.pyx (the metrics' latency buckets, the same counts as the pure code).

The in-tree backend (_build/evtool_build.py) then adds Cython to the build requirements. Without the
variable nothing is compiled and the package is pure Python; `EVTOOL_PURE=1` at run time uses the pure
source even where a compiled build is installed.
"""

import ast
import os
import sys
from pathlib import Path

from setuptools import Extension, setup


def compiled_modules() -> list[str]:
    """`evtool.COMPILED_MODULES`, read from the source (the package is not importable while it builds)."""
    tree = ast.parse(Path(__file__).with_name("evtool").joinpath("__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "COMPILED_MODULES":
            return list(ast.literal_eval(node.value))
    raise SystemExit("evtool/__init__.py: COMPILED_MODULES not found")


ext_modules = []
try:
    from Cython.Build import cythonize
except ImportError:  # pip asks the backend for the build requirements first: Cython comes with them
    cythonize = None
if os.environ.get("EVTOOL_COMPILE") == "1" and cythonize is None and "egg_info" not in sys.argv:
    # (egg_info: pip asking for the build requirements; the backend adds Cython to them)
    raise SystemExit("EVTOOL_COMPILE=1 needs Cython (pip install 'cython>=3.0', or build with isolation)")
if os.environ.get("EVTOOL_COMPILE") == "1" and cythonize is not None:
    sources = [Extension(name, [name.replace(".", "/") + ".py"]) for name in compiled_modules()]
    sources.append(Extension("evtool.trace._rowcodec", ["evtool/trace/_rowcodec.pyx"]))
    sources.append(Extension("evtool.trace._foldfast", ["evtool/trace/_foldfast.pyx"]))
    # annotation_typing off: a compiled module takes the same values the pure one does (annotations such
    # as `int` or `str | None` would otherwise be enforced as C-level types)
    ext_modules = cythonize(sources, language_level=3, compiler_directives={"annotation_typing": False},
                            nthreads=os.cpu_count() or 1)

setup(ext_modules=ext_modules)
