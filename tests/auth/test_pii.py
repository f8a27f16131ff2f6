"""Personal data: validation, masking, encryption at rest, lookup hashes, key rotation."""
from __future__ import annotations

import base64
import json
from datetime import date

import pytest
import sqlalchemy as sa

from app.config import load_settings
from auth import pii
from auth.models import Account, Person
from tests.support.factories import id_number, make_resident

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("value", [
    "11010519491231002X",  # the textbook example (check character X)
    id_number("20000229", seq="012"),  # leap day
    id_number("19800101", region="310116", seq="123"),
    id_number("19000101", region="820000", seq="001"),  # a Macao residence permit
])
def test_valid_id_numbers(value):
    assert pii.id_number_problem(value) is None
    assert pii.id_number_problem(value.lower()) is None  # a lowercase x is accepted


@pytest.mark.parametrize("value,why", [
    ("110105194912310021", "校验位"),  # wrong check character (should be X)
    ("11010519491231002", "18 位"),  # 17 characters
    ("1101051949123100211", "18 位"),  # 19 characters
    ("11010519491231X02X", "18 位"),  # X inside
    ("310116" + "19810229" + "123" + "0", "出生日期"),  # 1981 has no 29 February
    ("310116" + "19801301" + "123" + "0", "出生日期"),  # month 13
    ("310116" + "18991231" + "123" + "0", "出生日期"),  # before 1900
    ("310116" + "20990101" + "123" + "0", "出生日期"),  # in the future
    ("990116" + "19800101" + "123" + "0", "地区码"),  # no province 99
    ("３１０１１６１９８００１０１１２３４", "18 位"),  # full-width digits
])
def test_invalid_id_numbers(value, why):
    if why == "校验位":
        assert pii.id_check_char(value[:17]) != value[17]
    problem = pii.id_number_problem(value, today=date(2026, 11, 2))
    assert problem is not None and why in problem


def test_birth_date_from_id_number():
    assert pii.id_number_birth_date(id_number("19450815")) == date(1945, 8, 15)


@pytest.mark.parametrize("value,ok", [
    ("18012341999", True), ("13912345678", True), ("+86 139 1234 5678", True),
    ("12012345678", False), ("1801234199", False), ("180123419999", False), ("28012341999", False),
    ("1801234199a", False), ("", False),
])
def test_mobile_validation(value, ok):
    assert (pii.mobile_problem(value) is None) is ok


def test_masking():
    assert pii.mask_mobile("18012341999") == "180****1999"
    assert pii.mask_id_number("31011619800101123X") == "3***************3X"
    assert len(pii.mask_id_number("31011619800101123X")) == 18
    assert pii.mask_name("张三") == "张*"
    assert pii.mask_name("欧阳娜娜") == "欧***"
    assert pii.mask_name("李") == "*"
    assert pii.mask_mobile(None) is None and pii.mask_name("") == ""


# ---------------------------------------------------------------- keys


def _ring(keys: str, secret: str = "s" * 40) -> pii.Keyring:
    return pii.keyring_from_settings(load_settings({
        "APP_ENV": "test", "DATABASE_URL": "sqlite://", "DATA_ENCRYPTION_KEYS": keys, "SECRET_KEY": secret}))


K1 = "k1:" + base64.urlsafe_b64encode(b"1" * 32).decode()
K2 = "k2:" + base64.urlsafe_b64encode(b"2" * 32).decode()


def test_encryption_roundtrip_and_key_id():
    ring = _ring(K1)
    stored = ring.encrypt("18012341999", "person.phone")
    assert stored.startswith("k1:") and "18012341999" not in stored
    assert ring.encrypt("18012341999", "person.phone") != stored  # fresh nonce each time
    assert ring.decrypt(stored, "person.phone") == "18012341999"


def test_ciphertext_is_bound_to_its_column():
    ring = _ring(K1)
    stored = ring.encrypt("18012341999", "person.phone")
    with pytest.raises(pii.DecryptionError):
        ring.decrypt(stored, "person.id_number")


def test_tampered_ciphertext_and_unknown_key_are_refused():
    ring = _ring(K1)
    kid, b64 = ring.encrypt("张三", "person.name").split(":")
    raw = bytearray(base64.urlsafe_b64decode(b64 + "=="))
    raw[-1] ^= 1
    with pytest.raises(pii.DecryptionError):
        ring.decrypt(kid + ":" + base64.urlsafe_b64encode(bytes(raw)).decode(), "person.name")
    with pytest.raises(pii.DecryptionError):
        _ring(K2).decrypt(ring.encrypt("张三", "person.name"), "person.name")


def test_old_keys_still_decrypt_after_rotation_config():
    old = _ring(K1).encrypt("张三", "person.name")
    rotated = _ring(f"{K2},{K1}")
    assert rotated.current_kid == "k2"
    assert rotated.decrypt(old, "person.name") == "张三"
    assert rotated.needs_rotation(old)


def test_lookup_hash_survives_data_key_rotation_but_not_secret_change():
    a = _ring(K1).lookup_hash("person.phone", "18012341999")
    assert _ring(f"{K2},{K1}").lookup_hash("person.phone", "18012341999") == a
    assert _ring(K1, secret="t" * 40).lookup_hash("person.phone", "18012341999") != a
    assert _ring(K1).lookup_hash("person.id_number", "18012341999") != a  # per purpose


# ---------------------------------------------------------------- at rest


def test_encrypted_at_rest_and_found_by_keyed_hash(ctx, session):
    idn = id_number("19700101")
    account = make_resident(session, name="王小明", id_no=idn, phone="18012341999")
    session.commit()
    raw = session.execute(sa.text("SELECT name, id_number, phone, id_number_hash, phone_hash FROM persons "
                                  "WHERE id = :id"), {"id": account.person_id}).one()
    blob = json.dumps(list(raw), ensure_ascii=False)
    for plain in ("王小明", idn, "18012341999", "1999", idn[-6:]):
        assert plain not in blob
    assert all(str(v).startswith("dev1:") for v in raw[:3])
    session.expire_all()
    person = session.scalar(sa.select(Person).where(Person.id_number_hash == Person.id_number_lookup(idn.lower())))
    assert person is not None and person.id == account.person_id and person.name == "王小明"
    assert session.scalar(sa.select(Person.id).where(
        Person.phone_hash == Person.phone_lookup("+86 180 1234 1999"))) == person.id


def test_pii_rotate_reencrypts_with_the_first_key(app, db, session):
    """Data written under dev1 is rewritten under k2 by `pii rotate`, then read with k2 only."""
    from app import create_app

    account = make_resident(session, name="赵六", id_no=id_number(), phone="13912345678")
    account.wechat_session_key = "sk-value"
    session.commit()
    settings = app.extensions["settings"]
    new_keys = f"{K2},{settings.data_encryption_keys}"
    rotated_app = create_app(load_settings({
        "APP_ENV": "test", "DATABASE_URL": settings.database_url, "DATA_ENCRYPTION_KEYS": new_keys,
        "PASSWORD_HASH_PROFILE": "fast"}), database=db, clock=app.extensions["clock"])
    with rotated_app.app_context():  # the CLI reuses a current app context
        result = rotated_app.test_cli_runner().invoke(args=["pii", "rotate", "--batch", "1"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["key"] == "k2" and out["reencrypted"]["persons.name"] >= 1
    raw = session.execute(sa.text("SELECT name, id_number, phone FROM persons WHERE id = :id"),
                          {"id": account.person_id}).one()
    assert all(v.startswith("k2:") for v in raw)
    assert session.execute(sa.text("SELECT wechat_session_key FROM accounts WHERE id = :id"),
                           {"id": account.id}).scalar().startswith("k2:")
    only_k2 = create_app(load_settings({"APP_ENV": "test", "DATABASE_URL": settings.database_url,
                                        "DATA_ENCRYPTION_KEYS": K2}), database=db, clock=app.extensions["clock"])
    with only_k2.app_context():
        session.expire_all()
        person = session.get(Person, account.person_id)
        assert person.name == "赵六" and person.phone == "13912345678"
        assert session.get(Account, account.id).wechat_session_key == "sk-value"
    with rotated_app.app_context():
        again = json.loads(rotated_app.test_cli_runner().invoke(args=["pii", "rotate"]).output)
    assert set(again["reencrypted"].values()) == {0}  # nothing left under the old key


def test_full_width_digits_are_not_a_mobile():
    assert pii.mobile_problem("１８０１２３４１９９９") is not None
