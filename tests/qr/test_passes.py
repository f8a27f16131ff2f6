"""Passes and place codes: issue, scan, revoke, status, links."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.errors import ApiError
from qr.models import QrPass
from qr.passes import issue_pass, pass_status, pass_token, revoke_pass, revoke_passes_for
from qr.place_codes import active_place_code, issue_place_code, token_from_scan
from qr.service import Holder, verify
from qr.tokens import QrError
from tests.support.qr import parts


def scan(session, token, clock, keyring, allowed=("venue_entry",)):
    return verify(session, token, clock=clock, allowed_purposes=set(allowed), keyring=keyring)


def new_pass(session, clock, keyring, *, single_use=True, hours=2, **kw):
    args = dict(purpose="venue_entry", ref="booking:17", holder_type="person", holder_id=42,
                single_use=single_use, valid_until=clock.now() + timedelta(hours=hours))
    args.update(kw)
    return issue_pass(session, clock=clock, keyring=keyring, **args)


def test_pass_token_names_purpose_and_reference_but_not_the_holder(session, clock, keyring):
    row, token = new_pass(session, clock, keyring)
    _, claims, _ = parts(token)
    assert claims["pur"] == "venue_entry" and claims["ref"] == "booking:17" and claims["jti"] == row.jti
    assert claims["sub"] == row.sub and set(claims) == {"iss", "sub", "iat", "exp", "jti", "pur", "ref"}
    assert not {42, "42", "person"} & set(claims.values())  # the holder is only in the table
    result = scan(session, token, clock, keyring)
    assert (result.kind, result.ref, result.pass_id, result.holder) == ("pass", "booking:17", row.id,
                                                                        Holder("person", 42))


def test_single_use_pass_scanned_twice_is_a_replay(session, clock, keyring):
    row, token = new_pass(session, clock, keyring, single_use=True)
    scan(session, token, clock, keyring)
    assert pass_status(session, row.id, clock=clock).state == "used"
    with pytest.raises(QrError) as exc:
        scan(session, token, clock, keyring)
    assert exc.value.code == "qr_replayed"


def test_multi_use_pass_scanned_twice_is_accepted_both_times(session, clock, keyring):
    row, token = new_pass(session, clock, keyring, single_use=False)
    first = scan(session, token, clock, keyring)
    clock.advance(minutes=30)
    second = scan(session, token, clock, keyring)
    assert first.pass_id == second.pass_id == row.id
    assert pass_status(session, row.id, clock=clock).state == "active"


def test_revoked_pass_is_refused(session, clock, keyring):
    row, token = new_pass(session, clock, keyring, single_use=False)
    scan(session, token, clock, keyring)
    revoke_pass(session, row.id, clock=clock, reason="booking cancelled")
    with pytest.raises(QrError) as exc:
        scan(session, token, clock, keyring)
    assert exc.value.code == "qr_revoked"
    assert pass_status(session, row.id, clock=clock).state == "revoked"


def test_revoking_by_reference(session, clock, keyring):
    _, a = new_pass(session, clock, keyring, ref="booking:99")
    _, b = new_pass(session, clock, keyring, ref="booking:99", single_use=False)
    _, other = new_pass(session, clock, keyring, ref="booking:100")
    assert revoke_passes_for(session, purpose="venue_entry", ref="booking:99", clock=clock) == 2
    for token in (a, b):
        with pytest.raises(QrError, match="qr_revoked"):
            scan(session, token, clock, keyring)
    assert scan(session, other, clock, keyring).ref == "booking:100"


def test_pass_not_yet_valid_then_valid_then_expired(session, clock, keyring):
    start = clock.now() + timedelta(hours=1)
    row, token = new_pass(session, clock, keyring, single_use=False, valid_from=start,
                          valid_until=start + timedelta(hours=1))
    assert pass_status(session, row.id, clock=clock).state == "not_yet_valid"
    with pytest.raises(QrError, match="qr_not_yet_valid"):
        scan(session, token, clock, keyring)
    clock.advance(hours=1)
    assert scan(session, token, clock, keyring).pass_id == row.id
    clock.advance(hours=1, seconds=10)
    assert pass_status(session, row.id, clock=clock).state == "expired"
    with pytest.raises(QrError, match="qr_expired"):
        scan(session, token, clock, keyring)


def test_pass_purpose_not_admitted(session, clock, keyring):
    _, token = new_pass(session, clock, keyring)
    with pytest.raises(QrError, match="qr_wrong_purpose"):
        scan(session, token, clock, keyring, allowed=("parking_entry", "personal"))


def test_pass_token_can_be_drawn_again_and_is_equivalent(session, clock, keyring):
    row, token = new_pass(session, clock, keyring, single_use=True)
    again = pass_token(row, clock=clock, keyring=keyring)
    assert again == token  # Ed25519 is deterministic: same key, same claims, same token
    scan(session, again, clock, keyring)
    with pytest.raises(QrError, match="qr_replayed"):
        scan(session, token, clock, keyring)


@pytest.mark.parametrize("kw, field", [
    ({"purpose": "personal"}, "purpose"),
    ({"purpose": "Bad Purpose"}, "purpose"),
    ({"ref": "has space"}, "ref"),
    ({"holder_type": None}, "holder"),
    ({"hours": -1}, "valid_until"),
    ({"hours": 24 * 500}, "valid_until"),
])
def test_issue_pass_validates(session, clock, keyring, kw, field):
    with pytest.raises(ApiError) as exc:
        new_pass(session, clock, keyring, **kw)
    assert exc.value.code == "validation_error" and field in exc.value.errors


def test_unknown_pass_status_is_not_found(session, clock, keyring):
    with pytest.raises(ApiError, match="not_found"):
        pass_status(session, 10**9, clock=clock)


# ------------------------------------------------------------------ place codes


def test_place_code_is_a_link_with_the_prefix_and_checks_in_many_times(session, clock, keyring):
    row, link = issue_place_code(session, place_ref="venue:mall-3", place_id=3, clock=clock, keyring=keyring)
    prefix = keyring.config.place_link_prefix
    assert link.startswith(prefix) and link.startswith("https://")
    token = token_from_scan(link, keyring=keyring)
    assert token == link[len(prefix):]
    for _ in range(3):
        result = scan(session, token, clock, keyring, allowed=("place_checkin",))
        assert (result.purpose, result.ref, result.holder) == ("place_checkin", "venue:mall-3", Holder("place", 3))
    assert row.valid_until - row.issued_at == keyring.config.place_code_ttl
    # A bare token is accepted too (the mini-program may post just that).
    assert token_from_scan(token, keyring=keyring) == token


def test_place_code_is_reused_until_replaced(session, clock, keyring):
    row, link = issue_place_code(session, place_ref="venue:gym-1", clock=clock, keyring=keyring)
    again, link2 = issue_place_code(session, place_ref="venue:gym-1", clock=clock, keyring=keyring)
    assert again.id == row.id and link2 == link
    new, new_link = issue_place_code(session, place_ref="venue:gym-1", clock=clock, replace=True, keyring=keyring)
    assert new.id != row.id and active_place_code(session, place_ref="venue:gym-1", clock=clock).id == new.id
    with pytest.raises(QrError, match="qr_revoked"):
        scan(session, token_from_scan(link, keyring=keyring), clock, keyring, allowed=("place_checkin",))
    assert scan(session, token_from_scan(new_link, keyring=keyring), clock, keyring,
                allowed=("place_checkin",)).pass_id == new.id


@pytest.mark.parametrize("text", [
    "https://evil.example/p/abc.def.ghi",
    "http://jsq.jinshan.example/p/abc.def.ghi",
    "https://jsq.jinshan.example/other/abc",
])
def test_links_to_elsewhere_are_malformed(keyring, text):
    with pytest.raises(QrError, match="qr_malformed"):
        token_from_scan(text, keyring=keyring)


def test_place_link_prefix_is_configurable(app, db, clock):
    from dataclasses import replace

    from qr.config import QrConfig

    settings = replace(app.extensions["settings"], extra={"QR_PLACE_LINK_PREFIX": "https://qr.example.cn/jsq/"})
    assert QrConfig.from_settings(settings).place_link_prefix == "https://qr.example.cn/jsq/"
    bad = replace(settings, extra={"QR_PLACE_LINK_PREFIX": "http://qr.example.cn/"})
    from app.config import ConfigError

    with pytest.raises(ConfigError):
        QrConfig.from_settings(bad)


def test_passes_table_holds_no_token(session, clock, keyring):
    new_pass(session, clock, keyring)
    assert "token" not in QrPass.__table__.columns


def test_a_signed_token_must_match_its_pass_row_in_purpose_reference_and_subject(session, clock, keyring):
    """A token we signed for a pass's jti but naming another purpose, reference or subject
    than the row (a stale or mis-issued one) is refused as revoked; the matching one passes,
    and a pass without a holder names none."""
    from qr.tokens import issue

    row, _ = new_pass(session, clock, keyring, single_use=False, holder_type=None, holder_id=None)
    good = {"sub": row.sub, "jti": row.jti, "pur": "venue_entry", "ref": "booking:17"}
    exp = clock.now() + timedelta(hours=1)
    for wrong in ({"pur": "gym_entry"}, {"ref": "booking:18"}, {"sub": "x" * 22}):
        token = issue(keyring, now=clock.now(), exp=exp, **{**good, **wrong})
        with pytest.raises(QrError) as exc:
            scan(session, token, clock, keyring, allowed=("venue_entry", "gym_entry"))
        assert exc.value.code == "qr_revoked", wrong
    result = scan(session, issue(keyring, now=clock.now(), exp=exp, **good), clock, keyring)
    assert result.pass_id == row.id and result.holder is None
