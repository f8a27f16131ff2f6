"""Two scanners, two connections, the same single-use code at the same moment: one wins.

Runs on SQLite (writers serialise on BEGIN IMMEDIATE) and on PostgreSQL (the second insert
of the jti waits for the first transaction, then finds the row).
"""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from app.clock import FrozenClock
from qr.keys import init_keys
from qr.passes import issue_pass
from qr.service import Scanner, issue_personal, verify
from qr.tokens import QrError
from tests.support.qr import make_keyring

ROUNDS = 8


def race(db, keyring, clock, token: str, allowed: set[str]) -> list[str]:
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def scan(device: int) -> None:
        barrier.wait(timeout=10)
        try:
            with db.transaction() as s:
                verify(s, token, clock=clock, allowed_purposes=allowed, scanner=Scanner("device", device),
                       keyring=keyring)
            outcome = "accepted"
        except QrError as err:
            outcome = err.code
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=scan, args=(i,)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return sorted(outcomes)


@pytest.fixture
def shared(settings, committed_db):
    """Not the ``app`` fixture: it would bind the database to one test connection."""
    clock = FrozenClock()
    keyring = make_keyring(settings, committed_db, clock)
    with committed_db.transaction() as s:
        init_keys(s, kek=keyring._kek, clock=clock)
    keyring.reload()
    return committed_db, keyring, clock


def test_single_use_personal_code_consumed_once_under_a_race(shared):
    db, keyring, clock = shared
    for _ in range(ROUNDS):
        with db.transaction() as s:
            token = issue_personal(s, holder_type="person", holder_id=9, clock=clock, keyring=keyring).token
        assert race(db, keyring, clock, token, {"personal"}) == ["accepted", "qr_replayed"]


def test_single_use_pass_consumed_once_under_a_race(shared):
    db, keyring, clock = shared
    for i in range(ROUNDS):
        with db.transaction() as s:
            _, token = issue_pass(s, purpose="parking_entry", ref=f"reservation:{i}", single_use=True,
                                  valid_until=clock.now() + timedelta(hours=1), clock=clock, keyring=keyring)
        assert race(db, keyring, clock, token, {"parking_entry"}) == ["accepted", "qr_replayed"]
