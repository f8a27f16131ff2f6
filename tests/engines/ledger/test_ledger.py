"""The ledger engine's rules on one connection (SQLite, and PostgreSQL under ``TEST_DB``):
balanced entries, derived balances, the floor of points, payment intents' states, refunds'
ceiling, and the append-only entries. The races are in test_race.py."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.errors import ApiError
from scenarios.engines.ledger import payments, postings
from scenarios.engines.ledger.models import LgDiscrepancy, LgEntry, LgPaymentIntent, LgTransfer
from tests.support.database import backend
from tests.support.factories import make_org, make_resident

SLUG = "lg-test"


@pytest.fixture
def world(app, session, clock):
    with app.app_context():
        org = make_org(session, "venue_operator", name="收款场馆")
        payer = make_resident(session, name="付款人")
        session.flush()
        yield org.id, payer.person_id


def _intent(session, clock, world, amount=1000, **kw) -> LgPaymentIntent:
    org_id, person_id = world
    return payments.create(session, scenario=SLUG, payer_person_id=person_id, payee_org_id=org_id,
                           amount_fen=amount, description="羽毛球场 1 小时", now=clock.now(), **kw)


def _code(call) -> str:
    with pytest.raises(ApiError) as info:
        call()
    return info.value.code


# ------------------------------------------------------------------------------ postings


def test_a_transfer_is_two_opposite_entries_and_balances_follow(session, clock, world):
    now = clock.now()
    a = postings.account(session, "payer", world[1], now=now)
    b = postings.account(session, "organisation", world[0], now=now)
    assert postings.account(session, "payer", world[1], now=now) == a  # found, not created twice
    posted = postings.post(session, kind="adjustment", debit=a, credit=b, amount=250, reference="t:1", now=now)
    legs = session.execute(sa.select(LgEntry.account_id, LgEntry.leg, LgEntry.amount)
                           .where(LgEntry.transfer_id == posted.transfer_id).order_by(LgEntry.leg)).all()
    assert [tuple(r) for r in legs] == [(a, 0, -250), (b, 1, 250)]
    postings.post(session, kind="adjustment", debit=b, credit=a, amount=50, reference="t:2", now=now)
    assert (postings.derived_balance(session, a), postings.derived_balance(session, b)) == (-200, 200)
    assert (postings.cached_balance(session, a), postings.cached_balance(session, b)) == (-200, 200)
    assert postings.verify(session) == {"accounts": [], "transfers": []}


def test_verify_lists_a_cached_balance_that_disagrees_with_the_entries(session, clock, world):
    now = clock.now()
    a = postings.account(session, "payer", world[1], now=now)
    b = postings.account(session, "organisation", world[0], now=now)
    postings.post(session, kind="adjustment", debit=a, credit=b, amount=10, reference="t", now=now)
    session.execute(sa.text("UPDATE lg_accounts SET balance = balance + 1 WHERE id = :id"), {"id": b})
    assert postings.verify(session)["accounts"] == [(b, 11, 10)]


def test_points_never_go_below_zero_and_a_refused_debit_writes_nothing(session, clock, world):
    now = clock.now()
    points = postings.account(session, "points", world[1], unit="recycling", now=now)
    source = postings.account(session, "organisation", world[0], unit="recycling", now=now)
    postings.post(session, kind="points", debit=source, credit=points, amount=30, reference="earn", now=now)
    postings.post(session, kind="points", debit=points, credit=source, amount=30, reference="spend", now=now)
    transfers = session.scalar(sa.select(sa.func.count()).select_from(LgTransfer))
    assert _code(lambda: postings.post(session, kind="points", debit=points, credit=source, amount=1,
                                       reference="spend", now=now)) == "insufficient_balance"
    assert session.scalar(sa.select(sa.func.count()).select_from(LgTransfer)) == transfers
    assert postings.cached_balance(session, points) == 0


def test_the_database_refuses_a_negative_points_balance_even_past_the_code(session, clock, world):
    points = postings.account(session, "points", world[1], unit="recycling", now=clock.now())
    with pytest.raises(sa.exc.IntegrityError):
        with session.begin_nested():
            session.execute(sa.text("UPDATE lg_accounts SET balance = -1 WHERE id = :id"), {"id": points})


@pytest.mark.parametrize("amount", [0, -1, 2**63, 1.5, True, "100", None])
def test_amounts_must_be_positive_whole_fen_within_64_bits(session, clock, world, amount):
    with pytest.raises(ApiError) as info:
        _intent(session, clock, world, amount=amount)
    assert info.value.code == "amount_invalid" and "amount_fen" in info.value.errors


def test_the_largest_64_bit_amount_is_accepted(session, clock, world):
    assert _intent(session, clock, world, amount=2**63 - 1).amount_fen == 2**63 - 1


def test_only_cny(session, clock, world):
    assert _code(lambda: _intent(session, clock, world, currency="USD")) == "currency_unsupported"


@pytest.mark.skipif(backend() != "postgresql", reason="the append-only trigger is PostgreSQL's")
def test_entries_and_transfers_are_append_only_on_postgresql(session, clock, world):
    now = clock.now()
    a = postings.account(session, "payer", world[1], now=now)
    b = postings.account(session, "organisation", world[0], now=now)
    postings.post(session, kind="adjustment", debit=a, credit=b, amount=10, reference="t", now=now)
    for statement in ("UPDATE lg_entries SET amount = amount", "DELETE FROM lg_entries",
                      "UPDATE lg_transfers SET amount = 11", "DELETE FROM lg_transfers"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            with session.begin_nested():
                session.execute(sa.text(statement))


# ------------------------------------------------------------------------------ payment intents


def test_paying_books_the_amount_from_payer_to_payee_once(session, clock, world):
    intent = _intent(session, clock, world, amount=3500)
    assert intent.status == "created" and intent.refunded_fen == 0
    payments.mark_pending(session, intent, clock.now())
    assert intent.status == "pending"
    payments.pay_by_record(session, intent, clock.now())
    assert intent.status == "paid" and intent.paid_at == clock.now()
    assert _code(lambda: payments.pay_by_record(session, intent, clock.now())) == "payment_not_payable"
    again = payments.mark_paid(session, out_trade_no=intent.out_trade_no, amount_fen=3500,
                               provider_txn_id="4200000001", now=clock.now())
    assert again.outcome == "already"
    payer = postings.account(session, "payer", world[1], now=clock.now())
    payee = postings.account(session, "organisation", world[0], now=clock.now())
    assert (postings.derived_balance(session, payer), postings.derived_balance(session, payee)) == (-3500, 3500)


def test_an_expired_intent_cannot_be_paid_and_is_closed_by_the_job(session, clock, world):
    intent = _intent(session, clock, world, expires_in=timedelta(minutes=15))
    kept = _intent(session, clock, world, expires_in=timedelta(minutes=30))
    clock.advance(minutes=15)
    assert _code(lambda: payments.pay_by_record(session, intent, clock.now())) == "payment_expired"
    assert payments.close_expired(session, clock.now()) == [intent.id]
    session.refresh(intent)
    session.refresh(kept)
    assert (intent.status, intent.closed_at, kept.status) == ("closed", clock.now(), "created")
    assert _code(lambda: payments.pay_by_record(session, intent, clock.now())) == "payment_not_payable"


def test_a_payment_reported_after_closing_is_still_booked(session, clock, world):
    """The provider took the money: the ledger must say so."""
    intent = _intent(session, clock, world)
    clock.advance(hours=1)
    payments.close_expired(session, clock.now())
    settled = payments.mark_paid(session, out_trade_no=intent.out_trade_no, amount_fen=intent.amount_fen,
                                 provider_txn_id="4200000002", now=clock.now())
    session.refresh(intent)
    assert (settled.outcome, intent.status, intent.closed_at) == ("booked", "paid", None)


def test_an_unknown_order_or_a_wrong_amount_is_a_discrepancy_not_a_payment(session, clock, world):
    intent = _intent(session, clock, world, amount=1000)
    unknown = payments.mark_paid(session, out_trade_no="Pnosuchorder", amount_fen=1000,
                                 provider_txn_id="4200000003", now=clock.now())
    wrong = payments.mark_paid(session, out_trade_no=intent.out_trade_no, amount_fen=999,
                               provider_txn_id="4200000004", now=clock.now())
    session.refresh(intent)
    assert (unknown.outcome, wrong.outcome, intent.status) == ("discrepancy", "discrepancy", "created")
    rows = session.execute(sa.select(LgDiscrepancy.kind, LgDiscrepancy.intent_id, LgDiscrepancy.expected_fen,
                                     LgDiscrepancy.reported_fen).order_by(LgDiscrepancy.id)).all()
    assert [tuple(r) for r in rows] == [("unknown_order", None, None, 1000), ("amount_differs", intent.id, 1000, 999)]
    assert session.scalar(sa.select(sa.func.count()).select_from(LgTransfer)) == 0


# ------------------------------------------------------------------------------ refunds


def _paid(session, clock, world, amount=1000) -> LgPaymentIntent:
    intent = _intent(session, clock, world, amount=amount)
    return payments.pay_by_record(session, intent, clock.now())


def test_refunds_add_up_to_the_amount_paid_and_no_further(session, clock, world):
    intent = _paid(session, clock, world, amount=1000)
    first = payments.refund(session, intent, amount_fen=400, now=clock.now(), reason="少打一小时")
    assert (intent.status, intent.refunded_fen, first.status) == ("partially_refunded", 400, "pending")
    with pytest.raises(ApiError) as info:
        payments.refund(session, intent, amount_fen=601, now=clock.now())
    assert info.value.code == "refund_exceeds_paid" and info.value.detail == {"refundable_fen": 600}
    assert intent.refunded_fen == 400
    payments.refund(session, intent, amount_fen=600, now=clock.now())
    assert (intent.status, intent.refunded_fen) == ("refunded", 1000)
    assert _code(lambda: payments.refund(session, intent, amount_fen=1, now=clock.now())) == "refund_exceeds_paid"


def test_an_unpaid_intent_cannot_be_refunded(session, clock, world):
    intent = _intent(session, clock, world)
    assert _code(lambda: payments.refund(session, intent, amount_fen=1, now=clock.now())) == "payment_not_refundable"


def test_a_refund_is_booked_back_once_when_it_succeeds_and_kept_for_a_retry_when_it_fails(session, clock, world):
    intent = _paid(session, clock, world, amount=1000)
    row = payments.refund(session, intent, amount_fen=300, now=clock.now())
    assert payments.settle_refund(session, row, succeeded=False, now=clock.now()) is False
    session.refresh(row)
    assert (row.status, row.attempts) == ("pending", 1)
    assert payments.settle_refund(session, row, succeeded=True, now=clock.now()) is True
    assert payments.settle_refund(session, row, succeeded=True, now=clock.now()) is False  # told twice
    payer = postings.account(session, "payer", world[1], now=clock.now())
    payee = postings.account(session, "organisation", world[0], now=clock.now())
    assert (postings.derived_balance(session, payer), postings.derived_balance(session, payee)) == (-700, 700)
    assert postings.verify(session) == {"accounts": [], "transfers": []}


def test_a_payers_export_holds_their_payments_and_refunds_and_nobody_elses(session, clock, world):
    from app.privacy.parts import Subject
    from scenarios.engines.ledger.personal_data import PERSONAL_DATA

    intent = _paid(session, clock, world, amount=1000)
    payments.refund(session, intent, amount_fen=300, now=clock.now(), reason="少打一小时")
    stranger = make_resident(session, name="旁人")
    session.flush()
    mine = PERSONAL_DATA.collect(session, Subject(world[1], (), clock))
    assert [(p["id"], p["amount_fen"], p["refunded_fen"]) for p in mine["payments"]] == [(intent.id, 1000, 300)]
    assert [(r["intent_id"], r["amount_fen"]) for r in mine["refunds"]] == [(intent.id, 300)]
    assert "payer_person_id" not in mine["payments"][0]
    assert PERSONAL_DATA.collect(session, Subject(stranger.person_id, (), clock)) == {"payments": [], "refunds": []}
