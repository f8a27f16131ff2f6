"""``python -m tests.support.slow_worker_main``: the test worker process (``tests.support.worker_main``)
where the handlers of the timer kinds in ``TEST_SLOW_KINDS`` (comma-separated) sleep
``TEST_HANDLER_DELAY`` seconds before they run, so a test can kill the process in the middle of a
batch. Arguments as ``tests.support.worker_main``.
"""
from __future__ import annotations

import importlib
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    from app.timers import HANDLERS, HandlerEntry

    for module in filter(None, os.environ.get("TEST_HANDLER_MODULES", "").split(",")):
        importlib.import_module(module)  # registers the handlers to slow down
    delay = float(os.environ.get("TEST_HANDLER_DELAY", "0") or 0)
    for kind in filter(None, os.environ.get("TEST_SLOW_KINDS", "").split(",")):
        entry = HANDLERS[kind]

        def slow(session, timer, clock, _run=entry.func) -> None:
            time.sleep(delay)
            _run(session, timer, clock)

        HANDLERS[kind] = HandlerEntry(entry.kind, slow, entry.max_attempts, None)
    from tests.support.worker_main import main as worker_main

    return worker_main(argv)


if __name__ == "__main__":
    sys.exit(main())
