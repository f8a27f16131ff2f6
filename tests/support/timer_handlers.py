"""Timer handlers for the worker process tests (imported by tests/support/worker_main.py).

``test.hit`` records (timer id, process id) in ``test_timer_hits``, a table the tests
create with plain SQL; ``TEST_HANDLER_DELAY`` slows it down and ``TEST_HANDLER_MARKER``
names a file it touches when it starts, so a test knows a batch is under way.
``TEST_PAUSE_AFTER_HIT=N`` with ``TEST_PAUSE_FILE=path``: after this process's N-th hit, the
batch's transaction stops at its commit (every write done: the hits, the fired marks), writes
the hit's timer id to ``path`` and sleeps, so a test can SIGKILL it between writes and commit.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from app.timers import Timer, timer_handler

_hits_in_this_process = 0

HITS_TABLE = "test_timer_hits"
CREATE_HITS = f"CREATE TABLE {HITS_TABLE} (timer_id BIGINT NOT NULL, pid INTEGER NOT NULL)"
DROP_HITS = f"DROP TABLE IF EXISTS {HITS_TABLE}"


@timer_handler("test.hit")
def hit(session: Session, timer: Timer, clock: Clock) -> None:
    marker = os.environ.get("TEST_HANDLER_MARKER")
    if marker:
        Path(marker).touch()
    delay = float(os.environ.get("TEST_HANDLER_DELAY", "0") or 0)
    if delay:
        time.sleep(delay)
    session.execute(sa.text(f"INSERT INTO {HITS_TABLE} (timer_id, pid) VALUES (:t, :p)"),
                    {"t": timer.id, "p": os.getpid()})
    global _hits_in_this_process
    _hits_in_this_process += 1
    if _hits_in_this_process == int(os.environ.get("TEST_PAUSE_AFTER_HIT", "0") or 0):
        _pause_at_commit(session, os.environ["TEST_PAUSE_FILE"], timer.id)


def _pause_at_commit(session: Session, path: str, timer_id: int) -> None:
    def pause(committing: Session) -> None:
        committing.flush()
        Path(path).write_text(str(timer_id))
        time.sleep(600)

    sa.event.listen(session, "before_commit", pause, once=True)
