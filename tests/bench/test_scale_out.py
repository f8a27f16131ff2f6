"""``python -m bench.scale_out`` in small, through its own functions: two instances (gunicorn,
two workers each) and two ``flask worker`` processes on one fresh PostgreSQL database, a short
mixed load over real HTTP with a gunicorn worker and a ``flask worker`` SIGKILLed half-way, then
every check of the script must pass. The script's timing (60 s, two real minutes for level 2)
becomes 10 s of load and the SLA tickets' clock moved forward (``--fast-forward``); the
one-instance phase and the throughput figures are left out.

PostgreSQL only: on SQLite one worker holds the lease, so there is no scale-out to test. It
creates and drops a database of its own on ``TEST_DATABASE_URL``'s server (never restarts it),
on free ports with temporary directories, so it runs beside the rest of ``pytest -n auto``.
"""
from __future__ import annotations

import os

import pytest

from bench.scale_out import Config, run
from tests.support.database import backend

pytestmark = [
    pytest.mark.db,
    pytest.mark.slow,
    pytest.mark.skipif(backend() != "postgresql", reason="several workers need PostgreSQL (SKIP LOCKED)"),
]


def test_two_instances_and_two_workers_lose_nothing_and_do_nothing_twice():
    cfg = Config(duration=10, single=0, filers=4, scanners=2, sla_tickets=3, fast_forward=True, wait_stale=False,
                 drain=30)
    progress: list[str] = []
    result = run(cfg, os.environ["TEST_DATABASE_URL"], say=progress.append)
    report = "\n".join([*progress, *result.lines])

    failed = [c.line() for c in result.checks if not c.ok]
    assert not failed, report
    # The checks had something to check: the races and the kill happened.
    facts = result.facts
    assert facts["kills"] == 1, report
    assert facts["tickets"] > 20 and facts["retried_other"] > 0 and facts["replayed"] > 0, report
    assert facts["acks"] > 0 and facts["codes_accepted"] > 0 and facts["codes_both"] > 0, report
    assert facts["escalations_1"] == 2 and facts["escalations_2"] == 1, report  # levels 1, 1 and 2 of the plan
    assert facts["outbox_sent"] >= facts["tickets"], report
