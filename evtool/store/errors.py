"""Errors the run store raises; each message is meant to be shown to the user as is."""

from __future__ import annotations


class StoreError(Exception):
    """A run-store problem the user can act on (bad path, newer schema, ...)."""


class RunNotFound(StoreError):
    """No run matches the reference the user gave."""


class AmbiguousRun(StoreError):
    """A run-id prefix matches more than one run; `candidates` lists them."""

    def __init__(self, message: str, candidates: list[str]) -> None:
        super().__init__(message)
        self.candidates = candidates


class RecorderError(StoreError):
    """The recorder's writer failed; the run itself is unaffected but its record is partial."""


def describe_sqlite_error(path: object, exc: BaseException) -> str:
    """What an SQLite (or file system) failure on the run database at `path` means, in words.

    SQLite's messages name the symptom ("file is not a database", "database
    disk image is malformed", "database or disk is full"); these say what
    the user is looking at and what to do.
    """
    text = str(exc)
    low = text.lower()
    errno = getattr(exc, "errno", None)
    if "disk is full" in low or errno == 28 or ("disk i/o error" in low and _nearly_full(path)):
        return f"disk full: cannot write the run database {path} ({text}); free some space or use another --db"
    if "not a database" in low:
        return f"{path} is not a run database (not an SQLite file); pass the right --db"
    if "malformed" in low or "corrupt" in low:
        return f"the run database {path} is damaged (truncated or corrupt: {text}); use another --db"
    if "readonly" in low or "read-only" in low or errno == 30:
        return f"the run database {path} is read-only ({text})"
    if "locked" in low or "busy" in low:
        return f"the run database {path} is locked by another process ({text}); try again"
    if "unable to open" in low:
        return f"cannot open the run database {path} ({text}); check the path and its permissions"
    return f"the run database {path}: {text}"


def describe_os_error(path: object, exc: OSError) -> str:
    """What a failure to write the file `path` means, in words (a full disk first of all)."""
    import errno

    reason = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded",
              errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
              errno.EISDIR: "it is a directory", errno.ENOENT: "its folder does not exist"}.get(exc.errno or 0)
    if reason is not None:
        return f"{reason}: cannot write {path}"
    return f"cannot write {path}: {exc.strerror or exc}"


def _nearly_full(path: object) -> bool:
    """Whether the file system holding `path` has (almost) no space left.

    On a full disk SQLite in WAL mode often reports "disk I/O error" (it
    failed to grow the WAL or its index) rather than SQLITE_FULL; the free
    space says which it was.
    """
    import os
    from pathlib import Path

    try:
        folder = Path(str(path)).resolve().parent
        st = os.statvfs(folder)
    except (OSError, ValueError):
        return False
    return st.f_bavail * st.f_frsize < (1 << 20)
