"""The engine-wide payment routes through the application: who may pay and refund, paying twice,
refunds past what is left, and bad amounts answered with their codes (never a 500)."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from scenarios.engines.ledger import payments, postings
from tests.support.factories import bearer, make_org, make_resident, make_staff, token_for


@dataclass
class Http:
    client: object
    headers: dict[str, dict[str, str]]
    intent_id: int
    payer: int
    payee: int


@pytest.fixture
def http(app, session, clock):
    with app.app_context():
        org = make_org(session, "venue_operator", name="收款场馆")
        other = make_org(session, "venue_operator", name="别家场馆")
        payer = make_resident(session, name="付款人")
        stranger = make_resident(session, name="路人")
        manager = make_staff(session, org, "manager")
        outsider = make_staff(session, other, "manager")
        intent = payments.create(session, scenario="lg-test", payer_person_id=payer.person_id, payee_org_id=org.id,
                                 amount_fen=1000, description="羽毛球场 1 小时", now=clock.now())
        headers = {"payer": bearer(token_for(session, clock, payer)),
                   "stranger": bearer(token_for(session, clock, stranger)),
                   "manager": bearer(token_for(session, clock, manager, org)),
                   "outsider": bearer(token_for(session, clock, outsider, other))}
        session.commit()
        yield Http(app.test_client(), headers, intent.id, payer.person_id, org.id)


def _post(h: Http, who: str, path: str, body: dict | None = None):
    return h.client.post(f"/api/v1/payments/{h.intent_id}{path}", json=body or {}, headers=h.headers[who])


def test_the_payer_pays_once_and_the_payee_sees_it_paid(http, db, clock):
    assert _post(http, "manager", "/pay").status_code == 403  # the payee's staff see it, do not pay it
    first = _post(http, "payer", "/pay")
    assert first.status_code == 200 and first.json["status"] == "paid" and first.json["amount_fen"] == 1000
    again = _post(http, "payer", "/pay")
    assert (again.status_code, again.json["code"]) == (409, "payment_not_payable")
    seen = http.client.get(f"/api/v1/payments/{http.intent_id}", headers=http.headers["manager"])
    assert (seen.status_code, seen.json["status"]) == (200, "paid")
    with db.transaction(write=False) as s:
        payer = postings.account(s, "payer", http.payer, now=clock.now())
        assert postings.derived_balance(s, payer) == -1000  # booked once


@pytest.mark.parametrize("who", ["stranger", "outsider"])
def test_others_get_404_as_for_a_missing_payment(http, who):
    answer = http.client.get(f"/api/v1/payments/{http.intent_id}", headers=http.headers[who])
    missing = http.client.get("/api/v1/payments/999999999", headers=http.headers[who])
    assert answer.status_code == missing.status_code == 404
    assert answer.json["code"] == missing.json["code"] == "not_found"


def test_refunds_by_the_payee_staff_up_to_what_is_left(http):
    assert _post(http, "payer", "/pay").status_code == 200
    assert _post(http, "payer", "/refunds", {"amount_fen": 100}).status_code == 403
    part = _post(http, "manager", "/refunds", {"amount_fen": 300, "reason": "少打半小时"})
    assert part.status_code == 201, part.json
    assert (part.json["status"], part.json["payment"]["status"], part.json["payment"]["refunded_fen"]) == (
        "succeeded", "partially_refunded", 300)
    over = _post(http, "manager", "/refunds", {"amount_fen": 701})
    assert (over.status_code, over.json["code"]) == (409, "refund_exceeds_paid")
    assert "amount_fen" in over.json["errors"]
    rest = _post(http, "manager", "/refunds", {"amount_fen": 700})
    assert rest.json["payment"]["status"] == "refunded"


def test_an_unpaid_payment_is_not_refunded(http):
    answer = _post(http, "manager", "/refunds", {"amount_fen": 1})
    assert (answer.status_code, answer.json["code"]) == (409, "payment_not_refundable")


@pytest.mark.parametrize(("amount", "code"), [(0, "amount_invalid"), (-5, "amount_invalid"),
                                              (2**63, "validation_error"), ("100", "validation_error"),
                                              (1.5, "validation_error"), (None, "validation_error")])
def test_bad_refund_amounts_are_named(http, amount, code):
    assert _post(http, "payer", "/pay").status_code == 200
    answer = _post(http, "manager", "/refunds", {"amount_fen": amount})
    assert (answer.status_code, answer.json["code"]) == (422, code)
    assert "amount_fen" in answer.json["errors"]
