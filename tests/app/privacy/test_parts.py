"""The export hook: every table holding personal data is exported by a registered part (or
listed, with its reason, as not exported), and the registry is how parts arrive."""
from __future__ import annotations

import sqlalchemy as sa

from app.models import metadata
from app.privacy.parts import NOT_EXPORTED, PARTS, covered_tables, person_data_tables
from auth.pii import EncryptedText
from scenarios.registry import ENGINES, SCENARIOS


def test_every_table_holding_personal_data_has_a_part(app):
    holding = person_data_tables(metadata)
    missing = sorted(holding - covered_tables() - set(NOT_EXPORTED))
    assert missing == [], f"tables with personal data that no part exports (add a PersonalData): {missing}"
    assert not covered_tables() & set(NOT_EXPORTED), "a table is both exported and listed as not exported"
    assert covered_tables() <= set(metadata.tables), "a part names a table that does not exist"


def test_the_detector_catches_a_new_table_with_a_person_or_an_encrypted_column():
    other = sa.MetaData()
    sa.Table("persons", other, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("accounts", other, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("parking_permits", other, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("holder_id", sa.ForeignKey("persons.id")))
    sa.Table("plates", other, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("plate", EncryptedText("parking.plate")))
    sa.Table("chargers", other, sa.Column("id", sa.Integer, primary_key=True), sa.Column("kw", sa.Integer))
    assert person_data_tables(other) >= {"parking_permits", "plates"}
    assert "chargers" not in person_data_tables(other)


def test_parts_arrive_through_the_registry(app):
    declared = {getattr(d, "name", None) or d.slug for d in (*ENGINES.values(), *SCENARIOS) if d.personal_data}
    assert {"workflow", "booking", "dispatch", "place-checkin"} <= declared
    assert {"platform", "workflow", "booking", "dispatch", "place-checkin"} <= set(PARTS)
    keys = [s.key for p in PARTS.values() for s in p.sections]
    assert len(keys) == len(set(keys)), "two parts use the same section key"


ISSUE_SECTIONS = {
    # issue 22's list: person and accounts, residences and relations, tickets with their trails and
    # photos, check-ins, bookings, payments, alarms, tenancies, notices sent, consents
    "person", "accounts", "residences", "relations", "tickets", "ticket_events", "ticket_photos", "checkins",
    "bookings", "payments", "refunds", "rental_tenancies", "rental_stays", "notices", "consents",
    # the landed engines' own: applications (approval), a landlord's listings and houses
    "applications", "application_decisions", "listings", "rental_houses", "rental_requests",
    # alarms: elderly-SOS's own part
    "sos_alarms", "sos_alarm_events",
}


def test_every_section_the_issue_names_is_exported(app):
    keys = {s.key for p in PARTS.values() for s in p.sections}
    assert ISSUE_SECTIONS - keys == set()
