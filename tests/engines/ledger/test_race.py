"""Money never doubles or goes missing under real concurrency, with real commits (PostgreSQL).

- Through gunicorn (3 worker processes × 4 threads): 50 clients refund 30 fen each of a payment
  of 1,000 fen at once: exactly 33 refunds succeed (990 fen), the others get 409
  ``refund_exceeds_paid``, nobody a 5xx; two refunds racing for the last fen: one wins.
- Through gunicorn: 30 clients pay the same payment at once: one 200, 29 × 409
  ``payment_not_payable``, one transfer booked.
- Through gunicorn with WeChat Pay configured (the local fake server) and the test scenario's
  hooks: 8 payments whose notifications each arrive three times, racing three runs of the query
  job (threads, each its own transaction) that find them paid: each payment booked once and its
  ``on_paid`` fired once, every notification answered 204.
- Threads, each its own transaction: 30 spends of 1 point from an account holding 10: 10 pass, 20
  get ``insufficient_balance``, the balance ends at 0 and equals its entries.
The world is built on a reference organisation (committed tests add no reference rows).
"""
from __future__ import annotations

import random
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from app.clock import SystemClock
from app.errors import ApiError
from auth.organisations import Organisation
from scenarios.engines.ledger import payments, postings, settlement, wechatpay
from scenarios.engines.ledger.models import LgPaymentIntent, LgRefund, LgTransfer
from tests.engines.ledger import scenario as lgt
from tests.support import fake_wechatpay as fw
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


@pg_only
def test_transfers_in_opposite_directions_between_two_accounts_never_deadlock(committed_db, _app):
    """A payment (payer → payee) and a refund (payee → payer) at the same moment lock the same two
    accounts: taken in the order debit, credit they would deadlock (PostgreSQL aborts one, a 500);
    ``post`` locks them in id order, so every one of 40 racing transfers each way is booked."""
    clock = SystemClock()
    with _stand_in(_app).app_context(), committed_db.transaction() as s:
        person = make_resident(s, name="往返付款人").person_id
        payee = s.scalar(sa.select(Organisation.id).where(Organisation.code == PAYEE))
        a = postings.account(s, "payer", person, now=clock.now())
        b = postings.account(s, "organisation", payee, now=clock.now())

    def move(i: int) -> tuple[int, dict]:
        debit, credit = (a, b) if i % 2 else (b, a)
        with committed_db.transaction() as s:
            postings.post(s, kind="payment", debit=debit, credit=credit, amount=1, reference=f"both-ways:{i}",
                          now=clock.now())
        return 200, {}

    answers = _race(80, move)
    assert answers == Counter({(200, None): 80}), answers
    with committed_db.transaction(write=False) as s:
        assert postings.cached_balance(s, a) == postings.derived_balance(s, a) == 0
        assert postings.verify(s) == {"accounts": [], "transfers": []}


# ------------------------------------------------- the seller's hooks: notifications racing the query job


@pytest.fixture
def wechat_app(committed_db, tmp_path, monkeypatch):
    """gunicorn serving the app with the ledger's test scenario, WeChat Pay configured against the
    local fake server (keys in files, as in production); the hooks table created and dropped."""
    fake = fw.FakeWeChatPay()
    wx_server, wx_base = fw.start(fake)
    (tmp_path / "merchant.pem").write_text(fake.merchant_private_pem)
    (tmp_path / "wechatpay.pem").write_text(fake.platform_public_pem)
    env = {"LEDGER_PROVIDER": "wechatpay", "WECHATPAY_APPID": fw.APPID, "WECHATPAY_MCHID": fw.MCHID,
           "WECHATPAY_APIV3_KEY": fw.APIV3_KEY, "WECHATPAY_CERT_SERIAL_NO": fw.MERCHANT_SERIAL,
           "WECHATPAY_PRIVATE_KEY_PATH": str(tmp_path / "merchant.pem"),
           "WECHATPAY_PUBLIC_KEY_PATH": str(tmp_path / "wechatpay.pem"), "WECHATPAY_PUBLIC_KEY_ID": fw.PUBLIC_KEY_ID,
           "WECHATPAY_NOTIFY_URL": "https://example.invalid/api/v1/payments/notify/wechatpay",
           "WECHATPAY_API_BASE": wx_base}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with committed_db.transaction() as s:
        s.execute(sa.text(lgt.CREATE_HOOKS))
    config = wechatpay.WeChatPayConfig(appid=fw.APPID, mchid=fw.MCHID, apiv3_key=fw.APIV3_KEY,
                                       cert_serial_no=fw.MERCHANT_SERIAL, private_key=fake.merchant_private_pem,
                                       public_key=fake.platform_public_pem, public_key_id=fw.PUBLIC_KEY_ID,
                                       notify_url=env["WECHATPAY_NOTIFY_URL"], api_base=wx_base, timeout=10)
    try:
        with serve(committed_db.engine.url.render_as_string(hide_password=False), tmp_path / "gunicorn.log",
                   app="tests.support.ledger_wsgi:app") as base:
            yield fake, base, wechatpay.client(config)
    finally:
        wx_server.shutdown()
        with committed_db.transaction() as s:
            s.execute(sa.text(lgt.DROP_HOOKS))


def _post_raw(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310 (ours)
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:  # noqa: S310
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pg_only
@pytest.mark.slow
def test_notifications_arriving_again_and_the_query_job_book_each_payment_and_fire_its_hook_once(
        committed_db, _app, wechat_app):
    fake, base, pay = wechat_app
    clock = SystemClock()
    asked = clock.now() - timedelta(minutes=5)  # pending long enough for the query job
    sold: list[tuple[int, int, tuple[dict[str, str], bytes]]] = []
    with _stand_in(_app).app_context(), committed_db.transaction() as s:
        payee = s.scalar(sa.select(Organisation.id).where(Organisation.code == PAYEE))  # one payee for all
        for n in range(8):
            payer = make_resident(s, name=f"票友{n}", openid=f"o-wx-race-{n}")
            intent = lgt.sell(s, ticket_no=n, payer_person_id=payer.person_id, payee_org_id=payee,
                              amount_fen=100 + n, now=asked, provider="wechatpay")
            payments.mark_pending(s, intent, asked)
            txn = f"42000000000000000000000{n:05d}"
            fake.orders[intent.out_trade_no] = {"amount": {"total": intent.amount_fen}, "trade_state": "SUCCESS",
                                                "transaction_id": txn}
            resource = {"out_trade_no": intent.out_trade_no, "transaction_id": txn, "trade_state": "SUCCESS",
                        "amount": {"total": intent.amount_fen, "payer_total": intent.amount_fen, "currency": "CNY"}}
            sold.append((intent.id, intent.amount_fen, fake.notification(resource)))

    calls: list[Callable[[], tuple[int, dict]]] = []
    for _, _, (headers, body) in sold:  # each notification arrives three times
        calls += [lambda h=headers, b=body: (_post_raw(f"{base}/api/v1/payments/notify/wechatpay", b, h), {})] * 3

    def query_job() -> tuple[int, dict]:
        try:
            with committed_db.transaction() as s:
                settlement.settle_pending(s, pay, clock.now())
        except Exception as exc:  # a deadlock's victim, say: counted, not lost in the thread
            return 500, {"code": type(exc).__name__}
        return 200, {}

    calls += [query_job] * 3
    random.Random(15).shuffle(calls)
    answers = _race(len(calls), lambda i: calls[i]())
    assert answers == Counter({(204, None): 3 * len(sold), (200, None): 3}), answers
    with committed_db.transaction(write=False) as s:
        for intent_id, amount, _ in sold:
            assert s.get(LgPaymentIntent, intent_id).status == "paid"
            booked = s.scalar(sa.select(sa.func.count()).select_from(LgTransfer)
                              .where(LgTransfer.reference == f"intent:{intent_id}"))
            assert (booked, lgt.hooks(s, intent_id)) == (1, [("paid", "paid", amount)])
        assert postings.verify(s) == {"accounts": [], "transfers": []}
