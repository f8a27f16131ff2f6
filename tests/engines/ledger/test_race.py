"""Money never doubles or goes missing under real concurrency, with real commits (PostgreSQL).

- Through gunicorn (3 worker processes × 4 threads): 50 clients refund 30 fen each of a payment
  of 1,000 fen at once: exactly 33 refunds succeed (990 fen), the others get 409
  ``refund_exceeds_paid``, nobody a 5xx; two refunds racing for the last fen: one wins.
- Through gunicorn: 30 clients pay the same payment at once: one 200, 29 × 409
  ``payment_not_payable``, one transfer booked.
- Threads, each its own transaction: 30 spends of 1 point from an account holding 10: 10 pass, 20
  get ``insufficient_balance``, the balance ends at 0 and equals its entries.
The world is built on a reference organisation (committed tests add no reference rows).
"""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from app.clock import SystemClock
from app.errors import ApiError
from auth.organisations import Organisation
from scenarios.engines.ledger import payments, postings
from scenarios.engines.ledger.models import LgPaymentIntent, LgRefund, LgTransfer
from tests.support.database import backend
from tests.support.factories import bearer, make_resident, make_staff, token_for
from tests.support.gunicorn import post_json, serve

PAYEE = "310116-bureau-sports"
pg_only = pytest.mark.skipif(backend() != "postgresql", reason="needs PostgreSQL and gunicorn processes")


def _stand_in(app) -> Flask:
    stand_in = Flask("ledger-race")
    stand_in.extensions = app.extensions
    return stand_in


def _world(db, app, *, amount: int, paid: bool) -> tuple[int, dict[str, str], dict[str, str]]:
    """An intent of ``amount`` from a new resident to the reference payee; (id, payer's headers,
    a payee manager's headers)."""
    clock = SystemClock()
    with _stand_in(app).app_context(), db.transaction() as s:
        payee = s.scalar(sa.select(Organisation).where(Organisation.code == PAYEE))
        payer = make_resident(s, name="竞争付款人")
        manager = make_staff(s, payee, "staff")
        intent = payments.create(s, scenario="lg-test", payer_person_id=payer.person_id, payee_org_id=payee.id,
                                 amount_fen=amount, description="竞争", now=clock.now())
        if paid:
            payments.pay_by_record(s, intent, clock.now())
        return (intent.id, bearer(token_for(s, clock, payer)), bearer(token_for(s, clock, manager, payee)))


def _race(n: int, call: Callable[[int], tuple[int, dict]]) -> Counter:
    go = threading.Barrier(n)
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        go.wait()
        status, body = call(i)
        with lock:
            answers.append((status, body.get("code") if status >= 400 else None))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(answers) == n
    return Counter(answers)


@pytest.fixture
def server(committed_db, tmp_path):
    with serve(committed_db.engine.url.render_as_string(hide_password=False), tmp_path / "gunicorn.log") as base:
        yield base


def _state(db, intent_id: int) -> tuple[str, int, int, list]:
    """(status, refunded_fen, the refunds' sum, what verify finds)."""
    with db.transaction(write=False) as s:
        intent = s.get(LgPaymentIntent, intent_id)
        refunds = s.scalar(sa.select(sa.func.coalesce(sa.func.sum(LgRefund.amount_fen), 0))
                           .where(LgRefund.intent_id == intent_id))
        found = postings.verify(s)
        return intent.status, intent.refunded_fen, int(refunds), [*found["accounts"], *found["transfers"]]


@pg_only
@pytest.mark.slow
@pytest.mark.parametrize(("amount", "each", "clients", "wins"), [(1000, 30, 50, 33), (1, 1, 2, 1)])
def test_concurrent_refunds_never_exceed_what_was_paid(committed_db, _app, server, amount, each, clients, wins):
    intent_id, _, manager = _world(committed_db, _app, amount=amount, paid=True)
    answers = _race(clients, lambda i: post_json(f"{server}/api/v1/payments/{intent_id}/refunds",
                                                 {"amount_fen": each}, manager))
    assert answers == Counter({(201, None): wins, (409, "refund_exceeds_paid"): clients - wins}), answers
    status, refunded, refunds, disagreements = _state(committed_db, intent_id)
    assert refunded == refunds == wins * each
    assert status == ("refunded" if refunded == amount else "partially_refunded")
    assert disagreements == []


@pg_only
@pytest.mark.slow
def test_concurrent_payments_of_one_intent_book_it_once(committed_db, _app, server):
    intent_id, payer, _ = _world(committed_db, _app, amount=888, paid=False)
    answers = _race(30, lambda i: post_json(f"{server}/api/v1/payments/{intent_id}/pay", {}, payer))
    assert answers == Counter({(200, None): 1, (409, "payment_not_payable"): 29}), answers
    with committed_db.transaction(write=False) as s:
        booked = s.scalar(sa.select(sa.func.count()).select_from(LgTransfer)
                          .where(LgTransfer.reference == f"intent:{intent_id}"))
    assert booked == 1


@pg_only
def test_concurrent_spends_never_take_points_below_zero(committed_db, _app):
    clock = SystemClock()
    with _stand_in(_app).app_context(), committed_db.transaction() as s:
        person = make_resident(s, name="积分人").person_id
        payee = s.scalar(sa.select(Organisation.id).where(Organisation.code == PAYEE))
        points = postings.account(s, "points", person, unit="recycling", now=clock.now())
        source = postings.account(s, "organisation", payee, unit="recycling", now=clock.now())
        postings.post(s, kind="points", debit=source, credit=points, amount=10, reference="earn", now=clock.now())

    def spend(i: int) -> tuple[int, dict]:
        try:
            with committed_db.transaction() as s:
                postings.post(s, kind="points", debit=points, credit=source, amount=1, reference=f"spend:{i}",
                              now=clock.now())
            return 200, {}
        except ApiError as exc:
            return 409, {"code": exc.code}

    answers = _race(30, spend)
    assert answers == Counter({(200, None): 10, (409, "insufficient_balance"): 20}), answers
    with committed_db.transaction(write=False) as s:
        assert postings.cached_balance(s, points) == postings.derived_balance(s, points) == 0
        assert postings.verify(s) == {"accounts": [], "transfers": []}
