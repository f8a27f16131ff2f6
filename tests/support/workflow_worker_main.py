"""``python -m tests.support.workflow_worker_main``: the worker process with the workflow handlers, where
``TEST_WF_HANDLER_DELAY`` slows each ``workflow.response`` escalation down, in the batch handler
(the delay per timer, before the batch's statements) and in the single one (so a test can kill
the process in the middle of a batch). Arguments as ``tests.support.worker_main``.

``TEST_WF_PAUSE_BEFORE_COMMIT=N`` and ``TEST_WF_PAUSE_FILE=path``: the N-th batch of escalations
stops at its commit, after every write of the batch (the tickets' updates, events, outbox rows
and the timers' ``fired`` marks), writes its ticket ids to ``path`` and sleeps there, so a test
can SIGKILL the process between a batch's writes and its commit.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    import sqlalchemy as sa

    import scenarios.engines.workflow.escalation  # noqa: F401  (registers the handlers)
    from app.timers import HANDLERS, HandlerEntry

    delay = float(os.environ.get("TEST_WF_HANDLER_DELAY", "0") or 0)
    pause_at = int(os.environ.get("TEST_WF_PAUSE_BEFORE_COMMIT", "0") or 0)
    pause_file = os.environ.get("TEST_WF_PAUSE_FILE", "")
    batches = 0
    entry = HANDLERS["workflow.response"]

    def slow(session, timer, clock) -> None:
        time.sleep(delay)
        entry.func(session, timer, clock)

    def slow_batch(session, timers, clock) -> None:
        nonlocal batches
        time.sleep(delay * len(timers))
        entry.batch(session, timers, clock)
        batches += 1
        if batches == pause_at:
            ids = [int(t.subject_id) for t in timers]

            def pause(committing) -> None:  # the worker's last statement (the fired marks) has run
                committing.flush()  # and nothing is left pending in the ORM either
                Path(pause_file).write_text(json.dumps(ids))
                time.sleep(600)

            sa.event.listen(session, "before_commit", pause, once=True)

    HANDLERS["workflow.response"] = HandlerEntry(entry.kind, slow, entry.max_attempts, slow_batch)
    from tests.support.worker_main import main as worker_main

    return worker_main(argv)


if __name__ == "__main__":
    sys.exit(main())
