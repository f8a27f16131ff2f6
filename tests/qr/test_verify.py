"""verify(): one test per way a code is refused, and the ways it is accepted."""
from __future__ import annotations

import hashlib
import hmac
import json

import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from qr.keys import TYP
from qr.models import QrScan, QrSubject
from qr.service import Holder, Scanner, issue_personal, verify
from qr.tokens import QrError, sign
from tests.support.qr import b64, forge, parts

PERSONAL = {"personal"}


def personal(session, clock, keyring, holder_id: int = 42) -> str:
    return issue_personal(session, holder_type="person", holder_id=holder_id, clock=clock, keyring=keyring).token


def rejected(session, token, clock, keyring, code: str, allowed=PERSONAL) -> QrError:
    with pytest.raises(QrError) as exc:
        verify(session, token, clock=clock, allowed_purposes=allowed, keyring=keyring)
    assert exc.value.code == code, exc.value.errors
    return exc.value


def signing_key(keyring, clock):
    return keyring.signing_key(clock.now())


def claims_of(token: str) -> dict:
    return parts(token)[1]


# ------------------------------------------------------------------ accepted


def test_personal_code_is_accepted_once_and_names_its_holder(session, clock, keyring, scanner):
    token = personal(session, clock, keyring)
    result = verify(session, token, clock=clock, allowed_purposes=PERSONAL, scanner=scanner, keyring=keyring)
    assert result.kind == "personal" and result.purpose == "personal" and result.ref is None
    assert result.holder == Holder("person", 42)
    assert result.sub == claims_of(token)["sub"]
    scan = session.scalars(sa.select(QrScan)).one()
    assert (scan.token_kind, scan.purpose, scan.scanner_kind, scan.scanner_id, scan.result) == (
        "personal", "personal", "device", 7, "accepted")


def test_personal_code_carries_only_a_fresh_pseudonym(session, clock, keyring):
    a, b = personal(session, clock, keyring, 42), personal(session, clock, keyring, 42)
    ca, cb = claims_of(a), claims_of(b)
    assert set(ca) == {"iss", "sub", "iat", "exp", "jti", "pur"}
    assert ca["sub"] != cb["sub"] and ca["jti"] != cb["jti"]  # two scans cannot be linked
    assert not {42, "42", "person"} & set(ca.values()) and ca["exp"] - ca["iat"] == 60
    assert session.get(QrSubject, ca["sub"]).holder_id == 42


def test_token_is_a_standard_jws_that_pyjwt_verifies_with_the_jwks(session, clock, keyring):
    token = personal(session, clock, keyring)
    body, _ = keyring.jwks()
    jwk_set = jwt.PyJWKSet.from_json(body.decode())
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": jwk_set.keys[0].key_id, "typ": TYP}
    decoded = jwt.decode(token, jwk_set[header["kid"]].key, algorithms=["EdDSA"],
                         options={"verify_exp": False, "verify_iat": False})
    assert decoded["pur"] == "personal"


# ------------------------------------------------------------------ refused: shape and header


def test_alg_none_is_refused(session, clock, keyring):
    h, p, _ = parts(personal(session, clock, keyring))
    unsigned = f"{b64({**h, 'alg': 'none'})}.{b64(p)}."
    rejected(session, unsigned, clock, keyring, "qr_malformed")
    # Even with something in the signature's place, "none" is not our algorithm.
    rejected(session, forge({**h, "alg": "none"}, p, b"\0" * 64), clock, keyring, "qr_invalid_signature")


def test_hs256_signed_with_the_public_key_is_refused(session, clock, keyring):
    h, p, _ = parts(personal(session, clock, keyring))
    public = signing_key(keyring, clock).public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    for alg, digest in (("HS256", hashlib.sha256), ("HS512", hashlib.sha512)):
        header = {**h, "alg": alg}
        signing_input = f"{b64(header)}.{b64(p)}".encode()
        for secret in (public, signing_key(keyring, clock).jwk["x"].encode()):
            token = f"{signing_input.decode()}.{b64(hmac.new(secret, signing_input, digest).digest())}"
            # A 32-byte HMAC fails the shape check, a 64-byte one the algorithm pin.
            rejected(session, token, clock, keyring, "qr_malformed" if alg == "HS256" else "qr_invalid_signature")


def test_unknown_key_is_refused(session, clock, keyring):
    h, p, _ = parts(personal(session, clock, keyring))
    stranger = Ed25519PrivateKey.generate()
    header = {**h, "kid": "x" * 43}
    signing_input = f"{b64(header)}.{b64(p)}".encode()
    token = f"{signing_input.decode()}.{b64(stranger.sign(signing_input))}"
    rejected(session, token, clock, keyring, "qr_unknown_key")


@pytest.mark.parametrize("name", ["jwk", "jku", "x5u", "x5c"])
def test_header_pointing_at_another_key_is_refused(session, clock, keyring, name):
    """The attacker signs with their own key and says where to find it; we never look."""
    h, p, _ = parts(personal(session, clock, keyring))
    attacker = Ed25519PrivateKey.generate()
    x = b64(attacker.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    value = {"jwk": {"kty": "OKP", "crv": "Ed25519", "x": x}, "jku": "https://evil.example/jwks.json",
             "x5u": "https://evil.example/cert.pem", "x5c": ["MIIB"]}[name]
    header = {**h, name: value}
    signing_input = f"{b64(header)}.{b64(p)}".encode()
    token = f"{signing_input.decode()}.{b64(attacker.sign(signing_input))}"
    rejected(session, token, clock, keyring, "qr_unknown_key")


def test_other_header_parameters_are_refused(session, clock, keyring):
    h, p, _ = parts(personal(session, clock, keyring))
    key = signing_key(keyring, clock)
    header = {**h, "crit": ["exp"]}
    signing_input = f"{b64(header)}.{b64(p)}".encode()
    rejected(session, f"{signing_input.decode()}.{b64(key.private.sign(signing_input))}", clock, keyring,
             "qr_malformed")


def test_access_token_presented_as_a_qr_code_is_refused(session, clock, keyring):
    now = int(clock.now().timestamp())
    access = jwt.encode({"sub": "42", "iat": now, "exp": now + 900, "jti": "a" * 22}, "access-token-secret" * 3,
                        algorithm="HS256", headers={"typ": "at+jwt"})
    rejected(session, access, clock, keyring, "qr_malformed")
    # The same, signed with a key of ours, is still not a QR code: its typ says so.
    key = signing_key(keyring, clock)
    payload = {"iss": keyring.config.issuer, "sub": "s" * 22, "iat": now, "exp": now + 60, "jti": "j" * 22,
               "pur": "personal"}
    header = {"alg": "EdDSA", "kid": key.kid, "typ": "at+jwt"}
    signing_input = f"{b64(header)}.{b64(payload)}".encode()
    rejected(session, f"{signing_input.decode()}.{b64(key.private.sign(signing_input))}", clock, keyring,
             "qr_wrong_type")


def test_other_issuer_is_refused(session, clock, keyring):
    _, p, _ = parts(personal(session, clock, keyring))
    token = sign({**p, "iss": "someone-else"}, signing_key(keyring, clock))
    rejected(session, token, clock, keyring, "qr_wrong_type")


def test_truncated_code_is_refused(session, clock, keyring):
    token = personal(session, clock, keyring)
    for cut in (1, 2, 40, len(token) // 2):
        rejected(session, token[:-cut], clock, keyring, "qr_malformed")
    rejected(session, token.rsplit(".", 1)[0], clock, keyring, "qr_malformed")


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def same_bytes_other_char(last: str) -> str:
    """Another final character that a lenient decoder reads as the same bytes (it differs
    only in the two bits past the 64-byte signature)."""
    return ALPHABET[ALPHABET.index(last) + 1]


def test_padded_code_is_refused(session, clock, keyring):
    """PyJWT would accept these; a padded or spaced token is not the one we issued."""
    token = personal(session, clock, keyring)
    h, p, s = token.split(".")
    for variant in (token + "=", token + "==", f"{h}=.{p}.{s}", f"{h}.{p}==.{s}", " " + token, token + "\n",
                    token.replace(".", ". ", 1), f"{h}.{p}.{s[:-1]}{same_bytes_other_char(s[-1])}"):
        rejected(session, variant, clock, keyring, "qr_malformed")
    # The original, untouched, is still good.
    assert verify(session, token, clock=clock, allowed_purposes=PERSONAL, keyring=keyring).kind == "personal"


def test_changed_payload_is_refused(session, clock, keyring):
    token = personal(session, clock, keyring)
    h, _, s = token.split(".")
    _, claims, _ = parts(token)
    for changed in ({**claims, "exp": claims["exp"] + 3600}, {**claims, "pur": "parking_entry"},
                    {**claims, "sub": "another-person-pseudonym"}):
        rejected(session, f"{h}.{b64(changed)}.{s}", clock, keyring, "qr_invalid_signature",
                 allowed={"personal", "parking_entry"})


def test_garbage_is_refused(session, clock, keyring):
    for junk in ("", "abc", "a.b.c", "x" * 5000, None, 12, {"token": 1}, "é" * 30 + "." + "é" * 30 + "." + "A" * 86):
        rejected(session, junk, clock, keyring, "qr_malformed")


def test_duplicate_claim_names_are_refused(session, clock, keyring):
    key = signing_key(keyring, clock)
    now = int(clock.now().timestamp())
    raw = (f'{{"iss":"{keyring.config.issuer}","sub":"s","iat":{now},"exp":{now + 60},"jti":"j",'
           f'"pur":"parking_entry","pur":"personal"}}').encode()
    signing_input = key.header_b64 + b"." + b64(raw).encode()
    token = (signing_input + b"." + b64(key.private.sign(signing_input)).encode()).decode()
    rejected(session, token, clock, keyring, "qr_malformed")


# ------------------------------------------------------------------ refused: time


def test_expired_code_is_refused(session, clock, keyring):
    token = personal(session, clock, keyring)
    clock.advance(seconds=60 + 9)  # inside the leeway: still good
    assert verify(session, token, clock=clock, allowed_purposes=PERSONAL, keyring=keyring).kind == "personal"
    token = personal(session, clock, keyring)
    clock.advance(seconds=60 + 10)
    rejected(session, token, clock, keyring, "qr_expired")


def test_code_from_the_future_is_refused(session, clock, keyring):
    key = signing_key(keyring, clock)
    now = int(clock.now().timestamp())
    with_iat = {"iss": keyring.config.issuer, "sub": "s" * 22, "iat": now + 11, "exp": now + 71, "jti": "j" * 22,
                "pur": "personal"}
    rejected(session, sign(with_iat, key), clock, keyring, "qr_not_yet_valid")
    nbf = {**with_iat, "iat": now, "nbf": now + 3600}
    rejected(session, sign(nbf, key), clock, keyring, "qr_not_yet_valid")


def test_code_slightly_ahead_within_leeway_is_accepted(session, clock, keyring):
    """A scanner's clock a few seconds behind the issuer's is normal."""
    token = personal(session, clock, keyring)
    clock.advance(seconds=-9)
    assert verify(session, token, clock=clock, allowed_purposes=PERSONAL, keyring=keyring).holder.id == 42


# ------------------------------------------------------------------ refused: state and purpose


def test_replayed_personal_code_is_refused(session, clock, keyring):
    token = personal(session, clock, keyring)
    verify(session, token, clock=clock, allowed_purposes=PERSONAL, keyring=keyring)
    rejected(session, token, clock, keyring, "qr_replayed")
    results = session.scalars(sa.select(QrScan.result).order_by(QrScan.id)).all()
    assert results == ["accepted", "qr_replayed"]


def test_purpose_not_admitted_is_refused_and_not_consumed(session, clock, keyring):
    token = personal(session, clock, keyring)
    rejected(session, token, clock, keyring, "qr_wrong_purpose", allowed={"place_checkin"})
    # A scanner that may not admit it must not burn it.
    assert verify(session, token, clock=clock, allowed_purposes=PERSONAL, keyring=keyring).holder.id == 42


def test_rejected_scan_is_recorded_without_personal_data(session, clock, keyring):
    token = personal(session, clock, keyring)
    clock.advance(minutes=5)
    with pytest.raises(QrError):
        verify(session, token, clock=clock, allowed_purposes=PERSONAL, scanner=Scanner("staff", 3), keyring=keyring)
    scan = session.scalars(sa.select(QrScan)).one()
    assert (scan.token_kind, scan.purpose, scan.result, scan.scanner_kind) == ("personal", "personal",
                                                                               "qr_expired", "staff")
    columns = set(QrScan.__table__.columns.keys())
    assert not columns & {"sub", "jti", "holder_id", "token", "person_id"}


def test_errors_render_with_their_status(app, keyring):
    from app.errors import ERRORS

    assert {c: ERRORS[c].status for c in ("qr_replayed", "qr_revoked", "qr_malformed", "qr_expired")} == {
        "qr_replayed": 409, "qr_revoked": 409, "qr_malformed": 422, "qr_expired": 422}


def test_header_in_another_order_is_read_by_pyjwt_and_the_seen_cache_is_bounded(session, clock, keyring):
    """Our own header with its members reordered is still ours (same alg, kid, typ); headers
    seen are remembered only up to a bound, so odd spellings cannot grow memory."""
    from qr import tokens

    key = signing_key(keyring, clock)
    _, p, _ = parts(personal(session, clock, keyring))
    for i in range(tokens._HEADERS_SEEN_MAX + 5):
        # Same members, spelled differently each time (whitespace inside the JSON).
        raw = ('{"typ":"' + TYP + '",' + " " * i + '"kid":"' + key.kid + '","alg":"EdDSA"}').encode()
        signing_input = b64(raw).encode() + b"." + b64({**p, "jti": f"j{i:03d}" + "x" * 18}).encode()
        token = (signing_input + b"." + b64(key.private.sign(signing_input)).encode()).decode()
        assert tokens.decode(token, keyring, now=clock.now()).kid == key.kid
    assert len(tokens._HEADERS_SEEN) <= tokens._HEADERS_SEEN_MAX


# ------------------------------------------------------------------ the bounds, to the second


def test_times_are_accepted_up_to_the_leeway_and_not_a_second_more(clock, keyring):
    """``iat`` and ``nbf`` up to ``leeway`` seconds ahead pass, one more is not yet valid; a
    token whose ``exp`` is not after its ``iat`` is malformed, one a second after is fine."""
    from qr.tokens import decode

    key, leeway = signing_key(keyring, clock), keyring.config.leeway_seconds
    now = int(clock.now().timestamp())
    base = {"iss": keyring.config.issuer, "sub": "s" * 22, "iat": now, "exp": now + 60, "jti": "j" * 22,
            "pur": "personal"}

    def outcome(**claims) -> str:
        try:
            decode(sign({**base, **claims}, key), keyring, now=clock.now())
        except QrError as err:
            return err.code
        return "ok"

    assert outcome(iat=now + leeway) == "ok"
    assert outcome(iat=now + leeway + 1) == "qr_not_yet_valid"
    assert outcome(nbf=now + leeway) == "ok"
    assert outcome(nbf=now + leeway + 1) == "qr_not_yet_valid"
    assert outcome(exp=now) == "qr_malformed"
    assert outcome(exp=now + 1) == "ok"


def test_a_kid_of_64_characters_is_looked_up_and_a_longer_one_is_malformed(session, clock, keyring):
    h, p, _ = parts(personal(session, clock, keyring))
    key = signing_key(keyring, clock)
    for length, code in ((64, "qr_unknown_key"), (65, "qr_malformed")):
        signing_input = f"{b64({**h, 'kid': 'k' * length})}.{b64(p)}".encode()
        token = f"{signing_input.decode()}.{b64(key.private.sign(signing_input))}"
        rejected(session, token, clock, keyring, code)


def test_issue_writes_nbf_only_when_it_is_after_iat(clock, keyring):
    from datetime import timedelta

    from qr.tokens import issue

    now = clock.now()
    kw = {"now": now, "sub": "s" * 22, "jti": "j" * 22, "pur": "venue_entry", "exp": now + timedelta(minutes=5)}
    assert "nbf" not in claims_of(issue(keyring, nbf=now, **kw))
    later = claims_of(issue(keyring, nbf=now + timedelta(seconds=1), ref="booking:1", **kw))
    assert later["nbf"] == int(now.timestamp()) + 1 and later["ref"] == "booking:1"
    backdated = claims_of(issue(keyring, iat=now - timedelta(minutes=1), **kw))
    assert backdated["iat"] == int(now.timestamp()) - 60 and "ref" not in backdated


def test_a_personal_code_asks_to_be_refreshed_with_a_quarter_of_its_life_left(session, clock, keyring):
    from datetime import timedelta

    code = issue_personal(session, holder_type="person", holder_id=42, clock=clock, keyring=keyring)
    ttl = keyring.config.personal_ttl
    assert ttl / 4 > timedelta(seconds=10)  # the default 60 s: the quarter, not the 10 s floor
    assert code.expires_at == clock.now().replace(microsecond=0) + ttl
    assert code.refresh_after == code.expires_at - ttl / 4


def test_claims_and_kid_of_the_wrong_type_or_unknown_are_malformed(clock, keyring):
    """Signed with our key, yet not our shape: a number for a kid, a boolean for ``iat`` (a
    bool is an int to Python), a number for ``ref`` or a bool for ``nbf``, an unknown claim, a
    payload that is a JSON list. Each is ``qr_malformed``, never a 500; the well-typed one passes."""
    from qr.tokens import decode

    key = signing_key(keyring, clock)
    now = int(clock.now().timestamp())
    good = {"iss": keyring.config.issuer, "sub": "s" * 22, "iat": now, "exp": now + 60, "jti": "j" * 22,
            "pur": "venue_entry", "ref": "booking:1", "nbf": now - 1}

    def signed(payload, header=None) -> str:
        header = header or {"alg": "EdDSA", "kid": key.kid, "typ": TYP}
        body = json.dumps(payload, separators=(",", ":")).encode()
        signing_input = f"{b64(header)}.{b64(body)}".encode()
        return f"{signing_input.decode()}.{b64(key.private.sign(signing_input))}"

    assert decode(signed(good), keyring, now=clock.now()).ref == "booking:1"
    bad = [signed(good, {"alg": "EdDSA", "kid": 12345678, "typ": TYP}),
           signed({**good, "iat": True}), signed({**good, "ref": 17}), signed({**good, "nbf": True}),
           signed({**good, "extra": "x"}), signed([good] * 2)]
    for token in bad:
        with pytest.raises(QrError) as exc:
            decode(token, keyring, now=clock.now())
        assert exc.value.code == "qr_malformed", token


def test_a_rejection_names_the_token_field_with_its_detail_or_the_codes_message(session, clock, keyring):
    from qr.tokens import MESSAGES

    assert QrError("qr_expired").errors == {"token": [MESSAGES["qr_expired"]]}
    assert QrError("qr_malformed", "二维码编码不规范。").errors == {"token": ["二维码编码不规范。"]}
    err = rejected(session, "x", clock, keyring, "qr_malformed")
    assert err.errors == {"token": [MESSAGES["qr_malformed"]]} and err.recorded is False
    assert QrError("qr_replayed", recorded=True).recorded is True


def test_header_refusals_say_what_was_refused(session, clock, keyring):
    """The field message names the refused algorithm or every key source the header carried."""
    h, p, _ = parts(personal(session, clock, keyring))
    key = signing_key(keyring, clock)

    def signed(header) -> str:
        signing_input = f"{b64(header)}.{b64(p)}".encode()
        return f"{signing_input.decode()}.{b64(key.private.sign(signing_input))}"

    sources = rejected(session, signed({**h, "jwk": {"kty": "OKP"}, "jku": "https://evil.example/k"}), clock,
                       keyring, "qr_unknown_key")
    assert sources.errors == {"token": ["不接受头部携带的密钥来源：jku, jwk。"]}
    alg = rejected(session, signed({**h, "alg": "HS256"}), clock, keyring, "qr_invalid_signature")
    assert alg.errors == {"token": ["不接受该签名算法。"]}


def test_a_header_with_a_member_more_or_less_is_malformed(session, clock, keyring):
    """Not ``crit`` (PyJWT refuses that itself): a harmless extra member, or ``typ`` missing."""
    h, p, _ = parts(personal(session, clock, keyring))
    key = signing_key(keyring, clock)
    for header in ({**h, "cty": "JWT"}, {"alg": h["alg"], "kid": h["kid"]}):
        signing_input = f"{b64(header)}.{b64(p)}".encode()
        token = f"{signing_input.decode()}.{b64(key.private.sign(signing_input))}"
        assert rejected(session, token, clock, keyring, "qr_malformed").errors == {"token": ["二维码头部参数不符。"]}


def test_another_issuer_is_named_as_such(session, clock, keyring):
    _, p, _ = parts(personal(session, clock, keyring))
    err = rejected(session, sign({**p, "iss": "someone-else"}, signing_key(keyring, clock)), clock, keyring,
                   "qr_wrong_type")
    assert err.errors == {"token": ["二维码签发方不符。"]}
