"""The scenario-facing way to charge (purposes.py): an intent sold for a registered purpose,
and its hooks called once per state change, in the transaction that books it, whichever path
books it (the record pay, a notification twice, the query job, expiry, a refund)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from scenarios.engines.ledger import payments, purposes
from scenarios.engines.ledger.hooks import PURPOSES
from tests.support.factories import make_org, make_resident

CALLS: list[tuple[str, int, str]] = []


def _paid(session, intent, now):
    CALLS.append(("paid", intent.id, intent.status))


def _closed(session, intent, now):
    CALLS.append(("closed", intent.id, intent.status))


def _refunded(session, intent, refund, now):
    CALLS.append((f"refunded:{refund.amount_fen}", intent.id, intent.status))


TICKET = purposes.register(purposes.PaymentPurpose(kind="lgt_probe", on_paid=_paid, on_closed=_closed,
                                                   on_refunded=_refunded))


@pytest.fixture
def world(app, session, clock):
    CALLS.clear()
    with app.app_context():
        org = make_org(session, "venue_operator", name="收款场馆")
        payer = make_resident(session, name="付款人")
        session.flush()
        yield org.id, payer.person_id


def _charge(session, clock, world, subject_id=7, **kw):
    org_id, person_id = world
    return purposes.charge(session, TICKET, subject_id=subject_id, scenario="lg-test", payer_person_id=person_id,
                           payee_org_id=org_id, amount_fen=1000, description="门票", now=clock.now(), **kw)


def test_charge_names_the_subject_and_uses_the_configured_provider(session, clock, world):
    intent = _charge(session, clock, world)
    assert (intent.subject, intent.subject_type, intent.subject_id) == ("lgt_probe:7", "lgt_probe", "7")
    assert intent.provider == "record" and intent.status == "created"
    assert purposes.intent_for(session, "lgt_probe", 7).id == intent.id
    assert purposes.intent_for(session, "lgt_probe", 8) is None


def test_paid_fires_once_and_a_second_report_fires_nothing(session, clock, world):
    intent = _charge(session, clock, world)
    payments.pay_by_record(session, intent, clock.now())
    again = payments.mark_paid(session, out_trade_no=intent.out_trade_no, amount_fen=1000,
                               provider_txn_id="x", now=clock.now())
    assert again.outcome == "already"
    assert CALLS == [("paid", intent.id, "paid")]


def test_a_report_of_another_amount_fires_nothing(session, clock, world):
    intent = _charge(session, clock, world)
    payments.mark_paid(session, out_trade_no=intent.out_trade_no, amount_fen=999, provider_txn_id="x",
                       now=clock.now())
    assert CALLS == []


def test_closed_fires_once_on_expiry(session, clock, world):
    intent = _charge(session, clock, world, expires_in=timedelta(minutes=1))
    later = clock.now() + timedelta(minutes=2)
    assert payments.close_expired(session, later) == [intent.id]
    assert payments.close_expired(session, later) == []
    assert CALLS == [("closed", intent.id, "closed")]


def test_each_settled_refund_fires_once_with_the_state_it_leaves(session, clock, world):
    intent = _charge(session, clock, world)
    payments.pay_by_record(session, intent, clock.now())
    first = payments.refund(session, intent, amount_fen=400, now=clock.now())
    assert CALLS == [("paid", intent.id, "paid")]  # requested, not yet settled
    assert payments.settle_refund(session, first, succeeded=True, now=clock.now())
    assert not payments.settle_refund(session, first, succeeded=True, now=clock.now())
    second = payments.refund(session, intent, amount_fen=600, now=clock.now())
    payments.settle_refund(session, second, succeeded=False, now=clock.now())
    payments.settle_refund(session, second, succeeded=True, now=clock.now())
    assert CALLS[1:] == [("refunded:400", intent.id, "partially_refunded"),
                         ("refunded:600", intent.id, "refunded")]


def test_an_unregistered_purpose_cannot_charge_and_a_kind_is_registered_once(session, clock, world):
    with pytest.raises(ValueError):
        purposes.charge(session, purposes.PaymentPurpose(kind="lgt_nobody"), subject_id=1, scenario="x",
                        payer_person_id=world[1], payee_org_id=world[0], amount_fen=1, description="d",
                        now=clock.now())
    with pytest.raises(ValueError):
        purposes.register(purposes.PaymentPurpose(kind="lgt_probe", on_paid=_closed))
    with pytest.raises(ValueError):
        purposes.PaymentPurpose(kind="bad kind")
    assert purposes.register(TICKET) is TICKET and PURPOSES["lgt_probe"] is TICKET


def test_refund_gives_back_all_that_is_left_once_and_nothing_when_unpaid(session, clock, world):
    intent = _charge(session, clock, world)
    assert purposes.refund(session, intent, now=clock.now()) == 0  # never paid
    payments.pay_by_record(session, intent, clock.now())
    assert purposes.refund(session, intent, now=clock.now(), amount_fen=300) == 300
    assert purposes.refund(session, intent, now=clock.now(), reason="取消") == 700
    assert purposes.refund(session, intent, now=clock.now()) == 0
    assert [c[0] for c in CALLS] == ["paid", "refunded:300", "refunded:700"]
    assert intent.status == "refunded" and intent.refunded_fen == 1000


def test_a_seller_closes_an_unpaid_intent_once(session, clock, world):
    intent = _charge(session, clock, world)
    assert purposes.close(session, intent, now=clock.now())
    assert not purposes.close(session, intent, now=clock.now())
    assert CALLS == [("closed", intent.id, "closed")]
