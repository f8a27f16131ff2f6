"""One supervising process for ``make run``: gunicorn and the worker as its children.

SIGINT or SIGTERM stops both and waits for them; if either dies the other is stopped too.
Children also get PR_SET_PDEATHSIG, so even a SIGKILL of the supervisor leaves no orphan.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# How long children get to stop; gunicorn's own graceful timeout must fit inside it, or a
# slow request makes us SIGKILL its master and strand its workers.
STOP_SECONDS = 20
GUNICORN_GRACEFUL_SECONDS = 15


def _die_with_parent(parent: int) -> None:
    """Runs in the child before exec: SIGTERM it when the supervisor dies, however it dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() != parent:  # the supervisor died before prctl: the signal will never come
        os._exit(1)


def commands(port: str) -> list[list[str]]:
    workers = os.environ.get("WEB_CONCURRENCY", "2")
    return [
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", workers,
         "--graceful-timeout", str(GUNICORN_GRACEFUL_SECONDS),
         # gunicorn ≥ 25 opens a control socket at one fixed path per user: a second server
         # (tests, make bench) would take it over and unlink it on exit. We do not use gunicornc.
         "--no-control-socket",
         "--access-logfile", "-", "--access-logformat", '{"gunicorn":"%(m)s %(U)s %(s)s"}', "wsgi:app"],
        [str(BIN / "flask"), "--app", "wsgi", "worker"],
    ]


def main() -> int:
    port = os.environ.get("PORT", "8000")
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    # before the children exist, so a signal during start-up still stops them cleanly
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    me = os.getpid()
    children: list[subprocess.Popen] = []
    for cmd in commands(port):
        if stopping:
            break
        children.append(subprocess.Popen(cmd, cwd=ROOT, preexec_fn=lambda: _die_with_parent(me)))
    code = 0
    while not stopping:
        for child in children:
            if child.poll() is not None:
                print(f"supervisor: {child.args[0]} exited with {child.returncode}", file=sys.stderr)
                rc = child.returncode  # killed by signal N: the shell's 128+N, not a negative status
                code = rc if rc > 0 else 128 - rc if rc < 0 else 1
                stopping = True
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return code


if __name__ == "__main__":
    sys.exit(main())
