"""evtool's build backend: setuptools' own, plus Cython for the optional compiled build.

`pip install .` compiles the core's and the engine's hot modules with Cython when it can and installs the
pure-Python package, with a warning, when it cannot (setup.py); so a wheel build asks for Cython.
`pip install -e .` stays pure (an edit to a `.py` file is what runs) and does not ask for it.
`EVTOOL_COMPILE=0` never compiles and never downloads Cython; `EVTOOL_COMPILE=1` compiles or fails, editable
installs included.
"""

from __future__ import annotations

import os

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403 - every hook setuptools provides

CYTHON = "cython>=3.0,<4"
"""Cython generates the compiled modules' C code: a next major version is tried here before a build takes it."""


def _compiled(editable: bool) -> list[str]:
    """Cython when this build may compile: always with EVTOOL_COMPILE=1, never with 0, else for a wheel."""
    mode = os.environ.get("EVTOOL_COMPILE", "").strip()
    if mode == "0" or (editable and mode != "1"):
        return []
    return [CYTHON]


def get_requires_for_build_wheel(config_settings=None):  # type: ignore[no-untyped-def]
    """setuptools' requirements, plus Cython (the build compiles when it can)."""
    return _setuptools.get_requires_for_build_wheel(config_settings) + _compiled(editable=False)


def get_requires_for_build_editable(config_settings=None):  # type: ignore[no-untyped-def]
    """setuptools' requirements, plus Cython only when EVTOOL_COMPILE=1 asks for a compiled editable install."""
    return _setuptools.get_requires_for_build_editable(config_settings) + _compiled(editable=True)
