"""The migration that records the WeChat consent of residents who held open grants before the
channel asked for it (``5e1c0a7d2b9f``): one consent per person with an open grant, none for a
person whose grants are spent or who already decided."""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.db import create_engine
from app.privacy.consents import Consent
from app.wechat.models import SubscriptionGrant
from auth.models import Account, Person
from tests.app.test_migrations import scratch_url  # noqa: F401
from tests.support.database import run_migrations

AT = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def test_open_grants_become_one_consent_per_person(scratch_url):  # noqa: F811
    run_migrations(scratch_url, "cde5dee29237")
    engine = create_engine(scratch_url, poolclass=sa.pool.NullPool)
    with Session(engine) as s:
        people = [Person(real_name_level="none") for _ in range(3)]
        s.add_all(people)
        s.flush()
        accounts = [Account(kind="wechat", person_id=p.id, openid=f"o-{i}", status="active", created_at=AT,
                            updated_at=AT) for i, p in enumerate((people[0], people[0], people[1], people[2]))]
        s.add_all(accounts)
        s.flush()
        s.add_all([SubscriptionGrant(account_id=accounts[0].id, template_id="t", granted_at=AT),
                   SubscriptionGrant(account_id=accounts[1].id, template_id="t", granted_at=AT),  # same person
                   SubscriptionGrant(account_id=accounts[2].id, template_id="t", granted_at=AT, consumed_at=AT),
                   SubscriptionGrant(account_id=accounts[3].id, template_id="t", granted_at=AT)])
        s.add(Consent(person_id=people[2].id, purpose="wechat_subscription", version="2026-12-01", given_at=AT,
                      withdrawn_at=AT))  # decided already: left alone
        s.commit()
        ids = [p.id for p in people]
    run_migrations(scratch_url)
    with Session(engine) as s:
        rows = s.execute(sa.select(Consent.person_id, Consent.withdrawn_at).order_by(Consent.id)).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(ids[2], AT), (ids[0], None)]
