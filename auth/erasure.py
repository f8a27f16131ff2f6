"""Account cancellation (注销, PIPL art. 47): ``DELETE /api/v1/me``.

Done at once, in one transaction:

- every refresh token of every account of the person is revoked (access tokens stop
  working on the next request: the account is no longer active);
- each account is marked ``deleted`` and loses its WeChat openid, unionid and session key,
  its 随申办 subject and its password (logging in again later starts a new, empty account);
- the person's name, resident ID number, phone and birth date and their lookup hashes are
  erased; the row stays as an anonymous tombstone (``anonymised_at``) so records that
  reference it keep their integrity without naming anyone;
- relations to and from the person are deleted; a person who existed only as the object
  of such a relation (a child or an elderly parent without an account of their own, added
  by this resident) and is left with no account and no other relation is anonymised too;
- claimed residences are withdrawn and verified ones ended on the day (``ended``);
- ``auth.signals.person_erased`` is sent so each scenario erases or anonymises its own rows.

Kept, and for how long (periods to be confirmed by the district's legal counsel):

- audit entries naming the person as the subject of a staff read (who read what and why):
  3 years (our policy), for accountability of staff access (PIPL art. 54 audits); they hold the
  tombstone id only, no personal data;
- the anonymous person and account tombstones: as long as records reference them;
- ended residences (place and dates, no personal data): 3 years, for the housing and
  rental registrations that refer to them (租赁登记);
- records other laws require, held by their scenarios and stripped of the person's
  identity where the law allows: medical records (医疗机构病历管理规定 2013, art. 29:
  outpatient at least 15 years, inpatient at least 30 years), accounting vouchers for
  payments and receipts (会计档案管理办法 2015: 30 years); each scenario lists its own;
- server logs: six months (网络安全法 art. 21 requires at least six); they carry no
  personal data (``app.logs`` scrubs it).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.clock import Clock
from auth.accounts import anonymise_person, person_of
from auth.models import Account, Person, PersonRelation, Residence
from auth.principal import Principal
from auth.residences import today
from auth.signals import person_erased
from auth.tokens import revoke_account


def erase_person(session: Session, *, clock: Clock, principal: Principal) -> None:
    person = person_of(session, principal)
    now = clock.now()
    for account in session.scalars(sa.select(Account).where(Account.person_id == person.id)).all():
        revoke_account(session, account.id, clock=clock, reason="erased")
        account.status = "deleted"
        account.openid = None
        account.unionid = None
        account.subject = None
        account.wechat_session_key = None
        account.password_hash = None
        if account.kind == "staff":
            account.username = None
    relations = session.scalars(sa.select(PersonRelation).where(sa.or_(
        PersonRelation.from_person_id == person.id, PersonRelation.to_person_id == person.id))).all()
    others = {r.to_person_id if r.from_person_id == person.id else r.from_person_id for r in relations}
    for relation in relations:
        session.delete(relation)
    session.flush()
    for other_id in others:
        other = session.get(Person, other_id)
        if other is None or other.is_anonymised:
            continue
        has_account = session.scalar(sa.select(Account.id).where(
            Account.person_id == other_id, Account.status != "deleted").limit(1))
        has_relation = session.scalar(sa.select(PersonRelation.id).where(sa.or_(
            PersonRelation.from_person_id == other_id, PersonRelation.to_person_id == other_id)).limit(1))
        if has_account is None and has_relation is None:
            anonymise_person(other, now=now)
    day = today(clock)
    for residence in session.scalars(sa.select(Residence).where(
            Residence.person_id == person.id, Residence.status.in_(("claimed", "verified")))).all():
        residence.status = "ended"
        residence.valid_to = max(day, residence.valid_from)
    anonymise_person(person, now=now)
    session.flush()
    person_erased.send(None, session=session, person_id=person.id)
