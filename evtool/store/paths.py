"""Where the run database lives."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "EVTOOL_DB"
DEFAULT_RELATIVE = Path(".evtool") / "runs.db"


def default_db_path() -> Path:
    """The run database path: `$EVTOOL_DB` if set, else `./.evtool/runs.db` in the working directory."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path.cwd() / DEFAULT_RELATIVE


def resolve_db_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--db PATH` if given, else `default_db_path()`."""
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser()
    return default_db_path()
