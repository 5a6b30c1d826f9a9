"""Telling a run that is still recording from one whose process died.

A run's row says `incomplete` from its start until its end is written. While
it records, the recorder stores its process id and host, and refreshes a
heartbeat (unix time) every `HEARTBEAT_S` seconds. A reader then calls an
`incomplete` run:

* `running` while its heartbeat is fresh (younger than `STALE_S`), or while
  its process is alive on this host;
* `died` once its heartbeat is stale and its process is gone (on another
  host the process cannot be checked: a stale heartbeat alone decides).

SIGKILL, a crash or a power cut all end that way. Both facts are required
because each alone can mislead: a pid can be reused by an unrelated
process, and a heartbeat can lag while a stopped (Ctrl-Z) process lives.
"""

from __future__ import annotations

import os
import socket
import time

HEARTBEAT_S = 1.0
STALE_S = 10.0


def this_host() -> str:
    """The host name stored with a run's pid."""
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is someone else's
    except OSError:
        return False
    return True


def run_state(pid: int | None, host: str | None, heartbeat: float | None, now: float | None = None) -> str:
    """`running` or `died` for a run without a result (see the module docstring)."""
    now = time.time() if now is None else now
    fresh = heartbeat is not None and now - heartbeat < STALE_S
    if fresh:
        return "running"
    here = host is None or host == this_host()
    if pid is not None and here and pid_alive(pid):
        return "running"
    return "died"
