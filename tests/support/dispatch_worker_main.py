"""``python -m tests.support.dispatch_worker_main``: the worker process with the dispatch handlers, where
``TEST_DP_HANDLER_DELAY`` slows each offer timeout down (so a test can kill the process in the middle
of a batch). Arguments as ``tests.support.worker_main``.
"""
from __future__ import annotations

import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    import scenarios.engines.dispatch.offers  # noqa: F401  (registers the handler)
    from app.timers import HANDLERS, HandlerEntry
    from scenarios.engines.dispatch.models import OFFER_TIMEOUT_KIND

    delay = float(os.environ.get("TEST_DP_HANDLER_DELAY", "0") or 0)
    entry = HANDLERS[OFFER_TIMEOUT_KIND]

    def slow(session, timer, clock) -> None:
        time.sleep(delay)
        entry.func(session, timer, clock)

    HANDLERS[OFFER_TIMEOUT_KIND] = HandlerEntry(entry.kind, slow, entry.max_attempts, entry.batch)
    from tests.support.worker_main import main as worker_main

    return worker_main(argv)


if __name__ == "__main__":
    sys.exit(main())
