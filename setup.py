"""Only the optional compiled part lives here; everything else is in pyproject.toml.

`EVTOOL_COMPILE=1 pip install .` compiles evtool/trace/_rowcodec.pyx (the trace digest's row encoder, byte
for byte what marshal writes) with Cython, which the in-tree backend (_build/evtool_build.py) then adds to
the build requirements (setuptools' build_ext compiles a .pyx source with Cython when it is installed).
Without the variable nothing is compiled and the package is pure Python.
"""

import os

from setuptools import Extension, setup

ext_modules = []
if os.environ.get("EVTOOL_COMPILE") == "1":
    ext_modules = [Extension("evtool.trace._rowcodec", ["evtool/trace/_rowcodec.pyx"])]

setup(ext_modules=ext_modules)
