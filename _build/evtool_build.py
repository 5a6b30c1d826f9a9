"""evtool's build backend: setuptools' own, plus Cython when a compiled build is asked for.

`pip install .` builds the pure-Python package (installs anywhere, no compiler needed).
`EVTOOL_COMPILE=1 pip install .` also compiles the optional accelerator (evtool/trace/_rowcodec.pyx, the
trace digest's row encoder; setup.py): it needs a C compiler, and this backend adds Cython to the build
requirements only then, so a plain build never downloads it.
"""

from __future__ import annotations

import os

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403 - every hook setuptools provides

CYTHON = "cython>=3.0"


def _compiled() -> list[str]:
    return [CYTHON] if os.environ.get("EVTOOL_COMPILE") == "1" else []


def get_requires_for_build_wheel(config_settings=None):  # type: ignore[no-untyped-def]
    """setuptools' requirements, plus Cython for a compiled build."""
    return _setuptools.get_requires_for_build_wheel(config_settings) + _compiled()


def get_requires_for_build_editable(config_settings=None):  # type: ignore[no-untyped-def]
    """setuptools' requirements, plus Cython for a compiled build."""
    return _setuptools.get_requires_for_build_editable(config_settings) + _compiled()
