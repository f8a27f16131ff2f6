"""Signing keys: thumbprints, encryption at rest, rotation, reloads, the CLI."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from app.errors import ApiError
from qr.config import kek_id
from qr.keys import (
    KeyDecryptionError,
    init_keys,
    purge_retired_private_keys,
    rotate_key,
    thumbprint,
    unwrap_private,
)
from qr.models import QrSigningKey
from qr.service import issue_personal, verify
from qr.tokens import QrError
from tests.support.qr import FakeMonotonic, make_keyring, parts

PERSONAL = {"personal"}


def issue(session, clock, keyring) -> str:
    return issue_personal(session, holder_type="person", holder_id=1, clock=clock, keyring=keyring).token


def kid_of(token: str) -> str:
    return parts(token)[0]["kid"]


def rotate(db, keyring, clock, **kw) -> QrSigningKey:
    with db.transaction() as s:
        row = rotate_key(s, kek=keyring._kek, clock=clock, config=keyring.config, **kw)
        s.expunge(row)
    return row


def test_kid_is_the_rfc7638_thumbprint():
    """RFC 8037 appendix A.3's example key and thumbprint."""
    import base64

    x = base64.urlsafe_b64decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
    assert thumbprint(x) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_init_keys_creates_one_key_once(session, clock, keyring):
    rows = session.scalars(sa.select(QrSigningKey)).all()
    assert len(rows) == 1
    key, created = init_keys(session, kek=keyring._kek, clock=clock)
    assert not created and key.kid == rows[0].kid
    assert len(session.scalars(sa.select(QrSigningKey)).all()) == 1


def test_private_keys_are_encrypted_at_rest(session, clock, keyring):
    row = session.scalars(sa.select(QrSigningKey)).one()
    loaded = keyring.signing_key(clock.now())
    seed = loaded.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    raw = session.execute(sa.text("SELECT private_key_enc FROM qr_signing_keys")).scalar_one()
    assert len(seed) == 32 and seed not in bytes(raw) and bytes(raw) != seed
    assert len(raw) == 12 + 32 + 16  # nonce, ciphertext, tag
    assert row.kek_id == kek_id(keyring._kek)
    # It opens with the KEK and only for its own kid.
    assert unwrap_private(bytes(raw), row.kid, keyring._kek).private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()) == seed
    with pytest.raises(KeyDecryptionError):
        unwrap_private(bytes(raw), "another-kid", keyring._kek)
    with pytest.raises(KeyDecryptionError):
        unwrap_private(bytes(raw), row.kid, b"\x01" * 32)


def test_a_process_with_another_kek_refuses_to_load(app, db, clock, keyring):
    from qr.keys import Keyring

    other = Keyring(db, b"\x02" * 32, clock, keyring.config)
    with pytest.raises(KeyDecryptionError):
        other.reload()


def test_no_key_means_503(app, db, clock):
    empty = make_keyring(app, db, clock)
    with pytest.raises(ApiError) as exc:
        empty.signing_key(clock.now())
    assert exc.value.code == "qr_no_signing_key" and exc.value.status == 503


def test_rotation_publishes_first_then_signs_and_old_codes_still_verify(session, db, clock, keyring):
    old_token = issue(session, clock, keyring)
    old_kid = kid_of(old_token)
    new = rotate(db, keyring, clock)
    keyring.reload()
    # Published at once, signing only after publish_ahead.
    jwks = json.loads(keyring.jwks()[0])
    assert {k["kid"] for k in jwks["keys"]} == {old_kid, new.kid}
    assert kid_of(issue(session, clock, keyring)) == old_kid
    clock.advance(seconds=keyring.config.publish_ahead.total_seconds())
    fresh = issue(session, clock, keyring)
    assert kid_of(fresh) == new.kid
    # A code the old key signed a moment ago still verifies.
    late_old = session.scalars(sa.select(QrSigningKey).where(QrSigningKey.kid == old_kid)).one()
    assert late_old.retired_at == new.active_from and late_old.publish_until > new.active_from + timedelta(days=399)
    for token in (old_token, fresh):
        clock.advance(seconds=1)
        assert verify(session, token, clock=clock, allowed_purposes=PERSONAL, keyring=keyring).holder.id == 1


def test_old_key_is_withdrawn_after_its_last_code_expired(session, db, clock, keyring):
    old_token = issue(session, clock, keyring)
    old_kid = kid_of(old_token)
    rotate(db, keyring, clock, immediate=True)
    old = session.scalars(sa.select(QrSigningKey).where(QrSigningKey.kid == old_kid)).one()
    clock.set(old.publish_until + timedelta(seconds=1))
    keyring.reload()
    assert old_kid not in {k["kid"] for k in json.loads(keyring.jwks()[0])["keys"]}
    assert keyring.verification_key(old_kid, clock.now()) is None


def test_compromised_rotation_withdraws_old_codes_at_once(session, db, clock, keyring):
    old_token = issue(session, clock, keyring)
    new = rotate(db, keyring, clock, compromised=True)
    clock.advance(seconds=1)
    keyring.reload()
    with pytest.raises(QrError, match="qr_unknown_key"):
        verify(session, old_token, clock=clock, allowed_purposes=PERSONAL, keyring=keyring)
    assert kid_of(issue(session, clock, keyring)) == new.kid
    old = session.scalars(sa.select(QrSigningKey).where(QrSigningKey.kid == kid_of(old_token))).one()
    assert old.private_key_enc is None


def test_a_rotation_reaches_another_process_after_its_reload_period(app, session, db, clock, keyring):
    """Two keyrings stand for two processes; each reads the database on its own."""
    mono = FakeMonotonic()
    other = make_keyring(app, db, clock, monotonic=mono)
    first_kid = other.signing_key(clock.now()).kid
    new = rotate(db, keyring, clock, immediate=True)
    clock.advance(seconds=1)
    assert other.signing_key(clock.now()).kid == first_kid  # not reloaded yet
    mono.advance(other.config.reload_seconds)
    assert other.signing_key(clock.now()).kid == new.kid
    assert {k["kid"] for k in json.loads(other.jwks()[0])["keys"]} == {first_kid, new.kid}


def test_unknown_kid_triggers_an_early_reload(app, session, db, clock, keyring):
    """A code signed by a key another process just started with is not refused."""
    mono = FakeMonotonic()
    verifier = make_keyring(app, db, clock, monotonic=mono)
    verifier.reload()
    rotate(db, keyring, clock, immediate=True)
    keyring.reload()
    token = issue(session, clock, keyring)  # signed with the new key
    assert verify(session, token, clock=clock, allowed_purposes=PERSONAL, keyring=verifier).holder.id == 1


def test_forced_reloads_are_rate_limited(app, db, clock, keyring):
    mono = FakeMonotonic()
    verifier = make_keyring(app, db, clock, monotonic=mono)
    verifier.reload()
    calls = []
    original = verifier._load
    verifier._load = lambda: calls.append(1) or original()
    for _ in range(20):
        assert verifier.verification_key("no-such-kid", clock.now()) is None
    assert len(calls) == 1
    mono.advance(1.0)
    verifier.verification_key("no-such-kid", clock.now())
    assert len(calls) == 2


def test_purge_wipes_private_halves_of_retired_keys(session, db, clock, keyring):
    old_kid = keyring.signing_key(clock.now()).kid
    rotate(db, keyring, clock, immediate=True)
    clock.advance(seconds=1)
    assert purge_retired_private_keys(session, clock=clock) == 1
    rows = {r.kid: r for r in session.scalars(sa.select(QrSigningKey))}
    assert rows[old_kid].private_key_enc is None and rows[old_kid].public_key
    assert sum(r.private_key_enc is not None for r in rows.values()) == 1


def test_cli_init_rotate_and_list(app, db, clock):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["qr", "init-keys"])
    assert out.exit_code == 0 and out.output.startswith("created signing key ")
    assert runner.invoke(args=["qr", "init-keys"]).output.startswith("kept signing key ")
    out = runner.invoke(args=["qr", "rotate-key"])
    assert out.exit_code == 0 and "new signing key" in out.output
    listed = [json.loads(line) for line in runner.invoke(args=["qr", "keys"]).output.splitlines()]
    assert len(listed) == 2 and listed[0]["retired_at"] is not None and listed[1]["retired_at"] is None
    assert all("private" not in k or isinstance(k["has_private_key"], bool) for k in listed)
    assert runner.invoke(args=["qr", "purge"]).exit_code == 0


def test_purge_deletes_what_expired(session, clock, keyring):
    from qr.models import QrScan, QrSubject, QrUsedJti
    from qr.service import purge_expired

    token = issue(session, clock, keyring)
    verify(session, token, clock=clock, allowed_purposes=PERSONAL, keyring=keyring)
    live = issue(session, clock, keyring)
    counts = purge_expired(session, clock=clock, config=keyring.config)
    assert counts["used_jti"] == counts["subjects"] == 0
    clock.advance(seconds=60 + 80)
    counts = purge_expired(session, clock=clock, config=keyring.config)
    assert (counts["used_jti"], counts["subjects"], counts["scans"]) == (1, 2, 0)
    assert session.scalars(sa.select(QrUsedJti)).all() == [] and session.scalars(sa.select(QrSubject)).all() == []
    clock.advance(days=181)
    assert purge_expired(session, clock=clock, config=keyring.config)["scans"] == 1
    assert session.scalars(sa.select(QrScan)).all() == []
    assert live  # issued, never scanned, purged with the rest


def test_a_key_signs_from_the_very_moment_it_is_created(app, db, clock):
    """Claims are whole seconds; choosing the key by a truncated time would find none."""
    from datetime import datetime

    kr = make_keyring(app, db, clock)
    clock.set(datetime(2026, 11, 2, 1, 0, 0, 500_000, tzinfo=clock.now().tzinfo))
    with db.transaction() as s:
        init_keys(s, kek=kr._kek, clock=clock)
        token = issue_personal(s, holder_type="person", holder_id=1, clock=clock, keyring=kr).token
    assert parts(token)[1]["iat"] == int(clock.now().timestamp())


@pytest.mark.parametrize("kind", ["personal", "single_use_pass"])
def test_purge_never_deletes_a_used_jti_while_its_token_is_still_accepted(session, clock, keyring, kind):
    """Second by second from before the expiry to past the purge's margin: whenever the token
    still decodes (``exp`` plus the leeway not yet reached), its used jti survives the purge
    and the token is refused as a replay. A pass has nothing but the jti to stop a replay, so a
    cutoff that forgot the leeway would let a used pass in again. And the purge does purge."""
    from qr.models import QrUsedJti
    from qr.passes import issue_pass
    from qr.service import purge_expired
    from qr.tokens import decode

    if kind == "personal":
        token, allowed = issue(session, clock, keyring), PERSONAL
    else:
        _, token = issue_pass(session, purpose="venue_entry", ref="booking:1", single_use=True,
                              valid_until=clock.now() + timedelta(minutes=5), clock=clock, keyring=keyring)
        allowed = {"venue_entry"}
    jti = verify(session, token, clock=clock, allowed_purposes=allowed, keyring=keyring).jti
    exp = decode(token, keyring, now=clock.now()).expires_at
    leeway = keyring.config.leeway_seconds
    assert leeway > 0
    still_accepted = 0
    for offset in range(-3, leeway + 63):
        clock.set(exp + timedelta(seconds=offset))
        purge_expired(session, clock=clock, config=keyring.config)
        try:
            decode(token, keyring, now=clock.now())
        except QrError:
            continue
        still_accepted += 1
        assert session.get(QrUsedJti, jti) is not None, f"jti purged {offset} s after exp, token still valid"
        with pytest.raises(QrError) as replay:
            verify(session, token, clock=clock, allowed_purposes=allowed, keyring=keyring)
        assert replay.value.code == "qr_replayed", offset
    assert still_accepted == leeway + 3  # -3 … leeway-1: the leeway really was exercised
    assert session.get(QrUsedJti, jti) is None  # and at exp + leeway + 62 s it is gone
