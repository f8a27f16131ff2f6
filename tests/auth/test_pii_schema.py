"""Every column that holds a phone, an ID number, a plate or a health note is encrypted.

Schema-wide, by name: the walk goes over every table of every loaded module (platform,
engines, scenarios, the test scenario) and fails on a plain text column whose name says it
holds such data, unless the allow-list below names it with the reason. So a new plain
``plate`` or ``health_note`` column fails here before it ships.
"""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.models import metadata
from auth.pii import EncryptedText

# Name parts that say "personal data to encrypt" (matched between underscores or the ends).
SENSITIVE = re.compile(
    r"(?:^|_)(?:phone|mobile|tel|telephone|id_number|id_no|idcard|id_card|identity_number|passport"
    r"|plate|plate_number|licence|license|health|medical|diagnosis|allergy|allergies|disability|illness"
    r"|medication|note|notes|remark|remarks)(?:_|$)")

# Plain columns whose name matches, each with why it is not the data the rule is about.
ALLOWED: dict[str, str] = {
    "residences.review_note": "staff's reason for a residence claim's review (e.g. 门牌号不符), about the "
                              "claim, shown to the claimant; no personal data is asked for in it",
    "ls_events.note": "the reason of a listing's state change (why it was rejected or withdrawn): about the "
                      "entry, written by staff or its owner, shown to the owner",
    "ap_applications.note": "the reviewer's last word on an application (what more is needed): about the "
                            "application, shown to the applicant; personal fields live in persons",
    "ap_decisions.note": "the note of one decision on an application (its reason): about the application",
    "wf_ticket_events.note": "the note of a ticket's workflow action (已修, why it was rejected): about the "
                             "reported problem, shown to the parties of the ticket and moderated",
    "rr_violations.note": "the village committee's description of a violation at a rental house (超员, 消防隐患): "
                          "about the house, shown to its landlord and the committee only",
    "rr_violation_follow_ups.note": "a step of a violation's follow-up (已责令整改, 复查合格): about the house",
    "pk_debts.plate_hash": "the keyed lookup hash (auth.pii, parking.plate) of its stay's plate, which is "
                           "encrypted in pk_stays.plate: no plate text, found again only with the key",
}

# Types that cannot hold a phone number or a note as text (timestamps, flags, counters).
NOT_TEXT = (sa.DateTime, sa.Date, sa.Boolean, sa.Integer, sa.Float, sa.Numeric)


def plain_sensitive_columns(meta: sa.MetaData) -> set[str]:
    """``table.column`` of the plain columns that look like personal data by name; the keyed
    lookup hash of an encrypted column (its ``info["lookup_hash"]``) is not plain data."""
    found: set[str] = set()
    for table in meta.sorted_tables:
        hashes = {c.info["lookup_hash"] for c in table.columns if "lookup_hash" in c.info}
        for column in table.columns:
            if not SENSITIVE.search(column.name) or isinstance(column.type, EncryptedText):
                continue
            inner = column.type.impl if isinstance(column.type, sa.types.TypeDecorator) else column.type
            if column.name in hashes or isinstance(inner, NOT_TEXT):
                continue
            found.add(f"{table.name}.{column.name}")
    return found


@pytest.fixture
def full_metadata(app) -> sa.MetaData:
    """The metadata once the application factory loaded every engine and scenario module."""
    names = set(metadata.tables)
    assert {"persons", "staff_contacts", "wf_tickets", "wf_ticket_events", "road_notices"} <= names
    return metadata


def test_every_phone_id_number_plate_or_health_column_is_encrypted(full_metadata):
    plain = plain_sensitive_columns(full_metadata)
    assert plain <= set(ALLOWED), f"plain columns holding personal data: {sorted(plain - set(ALLOWED))}; " \
        "use auth.pii.EncryptedText (or add it to ALLOWED with the reason)"
    assert set(ALLOWED) <= plain, f"stale allow-list entries: {sorted(set(ALLOWED) - plain)}"


def test_the_known_personal_columns_are_the_encrypted_ones(full_metadata):
    encrypted = {f"{t.name}.{c.name}" for t in full_metadata.sorted_tables for c in t.columns
                 if isinstance(c.type, EncryptedText)}
    assert {"persons.id_number", "persons.phone", "persons.name", "staff_contacts.mobile"} <= encrypted


@pytest.mark.parametrize("name", ["plate", "plate_number", "health_note", "owner_phone", "mobile", "id_number",
                                  "guardian_id_card", "remarks", "medical_history", "tel"])
def test_the_walk_catches_a_new_plain_column(name):
    """The walk is not vacuous: a plain column of each kind in a throwaway schema is reported,
    whatever its text type; the same name encrypted, or as a timestamp, is not."""
    meta = sa.MetaData()
    sa.Table("t", meta, sa.Column("id", sa.Integer, primary_key=True), sa.Column(name, sa.String(40)),
             sa.Column(f"{name}_enc", EncryptedText("x")), sa.Column(f"{name}_at", sa.DateTime),
             sa.Column("notebook", sa.String(10)), sa.Column("hotel", sa.String(10)))
    assert plain_sensitive_columns(meta) == {f"t.{name}"}
