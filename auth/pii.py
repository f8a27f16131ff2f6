"""Personal data: encryption at rest, keyed lookup hashes, masking and validation.

Encryption: AES-256-GCM under ``DATA_ENCRYPTION_KEYS`` (``Settings.data_keys()``, an ordered
``{key id: 32 bytes}``; the first key encrypts, every key decrypts). A stored value is
``<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>``; the column's *purpose* (``person.phone``)
is the associated data, so a ciphertext copied into another column does not decrypt.
``flask --app wsgi pii rotate`` re-encrypts every value not under the first key.

Lookup hashes: HMAC-SHA256 of ``purpose ‖ 0 ‖ normalised value`` under a lookup key that is
**not** a data key, so rotating data keys never breaks a lookup. The lookup key is
``PII_LOOKUP_KEY`` when set, else HKDF-SHA256(``SECRET_KEY``, info="jinshan pii lookup v1").
Changing it (or ``SECRET_KEY`` without ``PII_LOOKUP_KEY``) makes old hashes stale until
``pii rotate`` runs, which also recomputes every lookup hash from the decrypted values.

Models declare encrypted columns with :class:`EncryptedText` and name their hash column in
``info={"lookup_hash": "<column>"}``; ``pii rotate`` finds them all through the metadata.
Keys come from the current Flask app (``current_app.extensions["pii"]``, built lazily).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$", re.ASCII)  # ASCII: \d would match full-width digits
_ID_RE = re.compile(r"^\d{17}[\dX]$", re.ASCII)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# First two digits of GB/T 2260 province codes (and 81/82/83: residence permits of Hong
# Kong, Macao and Taiwan residents, which use the same format).
_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
     50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)


class DecryptionError(ValueError):
    """A stored value does not decrypt under any configured key."""


# ---------------------------------------------------------------- validation


def normalise_id_number(value: str) -> str:
    return value.strip().upper()


def id_number_problem(value: str, *, today: date | None = None) -> str | None:
    """Why ``value`` is not a valid GB 11643 resident ID number (None when valid)."""
    value = normalise_id_number(value)
    if not _ID_RE.match(value):
        return "身份证号须为 18 位：17 位数字加一位数字或 X。"
    if int(value[:2]) not in _PROVINCES:
        return "身份证号的地区码无效。"
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return "身份证号中的出生日期无效。"
    if born.year < 1900 or born > (today or date.today()):
        return "身份证号中的出生日期无效。"
    total = sum(int(c) * w for c, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != value[17]:
        return "身份证号校验位不正确。"
    return None


def id_number_birth_date(value: str) -> date:
    value = normalise_id_number(value)
    return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def id_check_char(first17: str) -> str:
    """The GB 11643 check character for 17 digits (tests and demo data use it)."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def normalise_mobile(value: str) -> str:
    value = value.strip().replace(" ", "").replace("-", "")
    return value[3:] if value.startswith("+86") else value


def mobile_problem(value: str) -> str | None:
    if not MOBILE_RE.match(normalise_mobile(value)):
        return "手机号须为 11 位中国大陆手机号。"
    return None


# ---------------------------------------------------------------- masking


def mask_mobile(value: str | None) -> str | None:
    if not value:
        return value
    return value[:3] + "*" * (len(value) - 7) + value[-4:] if len(value) >= 8 else "*" * len(value)


def mask_id_number(value: str | None) -> str | None:
    if not value:
        return value
    return value[:1] + "*" * (len(value) - 3) + value[-2:] if len(value) >= 4 else "*" * len(value)


def mask_name(value: str | None) -> str | None:
    if not value:
        return value
    return value[0] + "*" * (len(value) - 1) if len(value) > 1 else "*"


# ---------------------------------------------------------------- keys


@dataclass(frozen=True)
class Keyring:
    data_keys: dict[str, bytes]
    lookup_key: bytes

    @property
    def current_kid(self) -> str:
        return next(iter(self.data_keys))

    def encrypt(self, plaintext: str, purpose: str) -> str:
        kid = self.current_kid
        nonce = os.urandom(12)
        ct = AESGCM(self.data_keys[kid]).encrypt(nonce, plaintext.encode(), purpose.encode())
        return f"{kid}:{base64.urlsafe_b64encode(nonce + ct).decode().rstrip('=')}"

    def decrypt(self, stored: str, purpose: str) -> str:
        kid, sep, b64 = stored.partition(":")
        key = self.data_keys.get(kid)
        if not sep or key is None:
            raise DecryptionError(f"no data key {kid!r}")
        raw = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], purpose.encode()).decode()
        except Exception as exc:  # InvalidTag: wrong key, purpose or a tampered value
            raise DecryptionError(f"value under {kid!r} does not decrypt") from exc

    def needs_rotation(self, stored: str) -> bool:
        return not stored.startswith(self.current_kid + ":")

    def lookup_hash(self, purpose: str, value: str) -> str:
        return hmac.new(self.lookup_key, purpose.encode() + b"\0" + value.encode(), hashlib.sha256).hexdigest()


def derive_key(secret: str | bytes, info: str) -> bytes:
    """A 32-byte key for one purpose, derived with HKDF-SHA256 (no salt: the input is a key)."""
    material = secret.encode() if isinstance(secret, str) else secret
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode()).derive(material)


def keyring_from_settings(settings: Any) -> Keyring:
    lookup_secret = settings.get("PII_LOOKUP_KEY") or settings.secret_key
    return Keyring(settings.data_keys(), derive_key(lookup_secret, "jinshan pii lookup v1"))


def keyring() -> Keyring:
    """The current app's keyring."""
    from flask import current_app

    ext = current_app.extensions
    ring = ext.get("pii")
    if ring is None:
        ring = ext["pii"] = keyring_from_settings(ext["settings"])
    return ring


def lookup_hash(purpose: str, value: str) -> str:
    """Keyed hash of a normalised value for equality lookups (``person.id_number``...)."""
    return keyring().lookup_hash(purpose, value)


def encrypt(value: str, purpose: str) -> str:
    return keyring().encrypt(value, purpose)


def decrypt(stored: str, purpose: str) -> str:
    return keyring().decrypt(stored, purpose)


class EncryptedText(sa.types.TypeDecorator):
    """A text column stored encrypted (see the module docstring); Python sees plaintext."""

    impl = sa.Text
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else encrypt(value, self.purpose)

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else decrypt(value, self.purpose)


# ---------------------------------------------------------------- rotation


@dataclass
class EncryptedColumn:
    table: sa.Table
    column: sa.Column
    purpose: str
    hash_column: str | None


def encrypted_columns(metadata: sa.MetaData) -> list[EncryptedColumn]:
    found = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText):
                found.append(EncryptedColumn(table, column, column.type.purpose, column.info.get("lookup_hash")))
    return found


HASH_NORMALISERS = {
    "person.id_number": normalise_id_number,
    "person.phone": normalise_mobile,
    "staff.mobile": normalise_mobile,
}


def rotate(database: Any, ring: Keyring, metadata: sa.MetaData, *, batch: int = 500) -> dict[str, int]:
    """Re-encrypt every value under the first key and recompute lookup hashes.

    Runs in batches (one transaction each) ordered by primary key, so it can be interrupted
    and run again; values already under the first key are only re-hashed.
    """
    counts: dict[str, int] = {}
    for enc in encrypted_columns(metadata):
        table = enc.table
        keys = list(table.primary_key.columns)
        if len(keys) != 1:
            raise ValueError(f"{table.name}: rotation pages by a one-column primary key")
        pk = keys[0]  # ``id``, or another (hl_callers.ticket_id)
        raw = sa.type_coerce(enc.column, sa.Text)
        name = f"{table.name}.{enc.column.name}"
        counts[name] = 0
        last = None
        while True:
            with database.transaction() as s:
                stmt = sa.select(pk, raw).where(enc.column.isnot(None)).order_by(pk).limit(batch)
                if last is not None:
                    stmt = stmt.where(pk > last)
                rows = s.execute(stmt).all()
                for row_id, stored in rows:
                    plain = ring.decrypt(stored, enc.purpose)
                    values: dict[str, Any] = {}
                    if ring.needs_rotation(stored):
                        values[enc.column.name] = ring.encrypt(plain, enc.purpose)
                        counts[name] += 1
                    if enc.hash_column:
                        norm = HASH_NORMALISERS.get(enc.purpose, lambda v: v)(plain)
                        values[enc.hash_column] = ring.lookup_hash(enc.purpose, norm)
                    if values:
                        s.execute(sa.update(table).where(pk == row_id).values(
                            {table.c[k]: sa.literal(v, sa.Text) if k == enc.column.name else v
                             for k, v in values.items()}))
            if len(rows) < batch:
                break
            last = rows[-1][0]
    return counts
