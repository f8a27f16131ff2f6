"""Setup of the data-access flag row in ``bench.endpoints``: a staff read of the bench resident's
data (an audit row, inserted once), flagged once over HTTP (its ticket filed); the row then
measures flagging the same read again — a resident's second tap: the flag found, the same
ticket answered (``flagged_before``)."""
from __future__ import annotations

import json
import urllib.request

from bench.endpoints import BenchContext, Prepared, json_post_lua
from bench.qr_setup import RESIDENT_OPENID, resident_token

REASON = "bench: 核实报修地址"


def _audit_entry(ctx: BenchContext) -> int:
    import sqlalchemy as sa

    from app import create_app
    from app.config import load_settings
    from auth.models import Account, AuditEntry, Membership

    app = create_app(load_settings({**ctx.env, "LOG_LEVEL": "WARNING"}))
    with app.app_context():
        db, clock = app.extensions["db"], app.extensions["clock"]
        with db.transaction() as s:
            person_id = s.scalar(sa.select(Account.person_id).where(Account.kind == "dev",
                                                                    Account.openid == RESIDENT_OPENID))
            entry_id = s.scalar(sa.select(AuditEntry.id).where(AuditEntry.subject_person_id == person_id,
                                                               AuditEntry.reason == REASON))
            if entry_id is None:
                reader = s.execute(sa.select(Membership.account_id, Membership.organisation_id)
                                   .order_by(Membership.id).limit(1)).one()
                entry = AuditEntry(at=clock.now(), actor_account_id=reader.account_id,
                                   acting_org_id=reader.organisation_id, subject_person_id=person_id,
                                   fields=["phone"], reason=REASON)
                s.add(entry)
                s.flush()
                entry_id = entry.id
            return entry_id


def flag_again_setup(ctx: BenchContext) -> Prepared:
    token = resident_token(ctx)  # first: the dev login creates the resident
    path = f"/api/v1/me/data-access/{_audit_entry(ctx)}/flag"
    body = {"note": "我没有找过他们"}
    req = urllib.request.Request(ctx.base_url + path, data=json.dumps(body).encode(), method="POST",  # noqa: S310
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30):  # noqa: S310 (our own http URL): 201 once, then 200
        pass
    return Prepared(headers={"Authorization": f"Bearer {token}"},
                    lua=json_post_lua(body) + f'\nwrk.path = "{path}"\n')
