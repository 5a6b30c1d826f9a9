"""What the hot modules' `cython` decorators are when Cython is not installed: no-ops.

The compiled build (`pip install .` where a C compiler is found, setup.py) compiles a few modules of the core and the
engine with Cython from their own `.py` source; the `.pxd` file beside each declares the classes and the
local types it compiles with. Those modules `import cython` for Cython's pure-Python mode decorators
(`cython.locals`) and fall back on this module when Cython is absent, so the same source runs unchanged
as plain Python (https://cython.readthedocs.io/en/latest/src/tutorial/pure.html).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def locals(**types: Any) -> Callable[[F], F]:  # noqa: A001 - Cython's name for it
    """Cython's `@cython.locals(name=type, ...)`: declares local types when compiled, nothing otherwise."""
    return _same


def _same(f: F) -> F:
    return f

