"""``python -m tests.support.workflow_worker_main``: the worker process with the workflow handlers, where
``TEST_WF_HANDLER_DELAY`` slows each ``workflow.response`` escalation down, in the batch handler
(the delay per timer, before the batch's statements) and in the single one (so a test can kill
the process in the middle of a batch). Arguments as ``tests.support.worker_main``.
"""
from __future__ import annotations

import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    import scenarios.engines.workflow.escalation  # noqa: F401  (registers the handlers)
    from app.timers import HANDLERS, HandlerEntry

    delay = float(os.environ.get("TEST_WF_HANDLER_DELAY", "0") or 0)
    entry = HANDLERS["workflow.response"]

    def slow(session, timer, clock) -> None:
        time.sleep(delay)
        entry.func(session, timer, clock)

    def slow_batch(session, timers, clock) -> None:
        time.sleep(delay * len(timers))
        entry.batch(session, timers, clock)

    HANDLERS["workflow.response"] = HandlerEntry(entry.kind, slow, entry.max_attempts, slow_batch)
    from tests.support.worker_main import main as worker_main

    return worker_main(argv)


if __name__ == "__main__":
    sys.exit(main())
