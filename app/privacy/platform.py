"""The platform's part of a person's export: the person, accounts, residences, relations,
staff roles, uploads, moderated content, WeChat grants, notices sent and the staff reads of
their data (the audit log; the reader's name masked)."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.moderation.models import ModerationItem
from app.notify.models import OutboxMessage
from app.privacy.consents import Consent
from app.privacy.parts import PersonalData, Rows, Section, Subject, install, plain
from app.privacy.retention import ON_CANCELLATION, Keep, delete_before
from app.storage.models import Upload
from app.wechat.models import SubscriptionGrant
from auth.contacts import StaffContact
from auth.models import Account, AuditEntry, Membership, Person, PersonRelation, Residence
from auth.pii import mask_name

_SECRETS = ("id_number_hash", "phone_hash", "password_hash", "wechat_session_key", "mobile_hash")


def _person(session: Session, person_id: int | None) -> Person | None:
    return session.get(Person, person_id) if person_id is not None else None


def _collect(session: Session, subject: Subject) -> Mapping[str, Rows]:
    person = session.get(Person, subject.person_id)
    accounts = list(session.scalars(sa.select(Account).where(Account.id.in_(subject.account_ids))))
    relations = []
    for relation in session.scalars(sa.select(PersonRelation).where(sa.or_(
            PersonRelation.from_person_id == subject.person_id, PersonRelation.to_person_id == subject.person_id))
            .order_by(PersonRelation.id)):
        other = _person(session, relation.to_person_id if relation.from_person_id == subject.person_id
                        else relation.from_person_id)
        row = plain(relation, exclude=("claimed_name", "decided_by_account_id"))
        row["direction"] = "我代办对方" if relation.from_person_id == subject.person_id else "对方代办我"
        row["other_name"] = mask_name(other.name) if other is not None else None  # another person: masked
        relations.append(row)
    accounts_ids = list(subject.account_ids)
    return {
        "person": [plain(person, exclude=_SECRETS)] if person is not None else [],
        "accounts": [plain(a, exclude=_SECRETS) for a in accounts],
        "residences": [plain(r, exclude=("reviewed_by_account_id",)) for r in session.scalars(
            sa.select(Residence).where(Residence.person_id == subject.person_id).order_by(Residence.id))],
        "relations": relations,
        "staff_roles": [plain(m) for m in session.scalars(
            sa.select(Membership).where(Membership.account_id.in_(accounts_ids)).order_by(Membership.id))]
        + [plain(c, exclude=(*_SECRETS, "updated_by_account_id")) for c in session.scalars(
            sa.select(StaffContact).where(StaffContact.account_id.in_(accounts_ids)))],
        "uploads": [plain(u) for u in session.scalars(
            sa.select(Upload).where(Upload.owner_account_id.in_(accounts_ids)).order_by(Upload.id))],
        "moderation": [plain(m, exclude=("decided_by", "trace_id")) for m in session.scalars(
            sa.select(ModerationItem).where(ModerationItem.author_account_id.in_(accounts_ids))
            .order_by(ModerationItem.id))],
        "wechat_grants": [plain(g) for g in session.scalars(
            sa.select(SubscriptionGrant).where(SubscriptionGrant.account_id.in_(accounts_ids))
            .order_by(SubscriptionGrant.id))],
        "notices": [plain(m, exclude=("last_error",)) for m in session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.recipient_kind == "account",
                                           OutboxMessage.recipient_id.in_([str(i) for i in accounts_ids]))
            .order_by(OutboxMessage.id))],
        "consents": [plain(c, exclude=("account_id",)) for c in session.scalars(
            sa.select(Consent).where(Consent.person_id == subject.person_id).order_by(Consent.id))],
        "staff_reads": [{**plain(e, exclude=("actor_account_id", "request_id")), "reader": "工作人员"}
                        for e in session.scalars(sa.select(AuditEntry).where(
                            AuditEntry.subject_person_id == subject.person_id).order_by(AuditEntry.id.desc()))],
    }


PERSONAL_DATA = PersonalData(
    name="platform",
    tables=("persons", "accounts", "residences", "person_relations", "memberships", "staff_contacts", "uploads",
            "moderation_items", "subscription_grants", "notify_outbox", "audit_entries", "consents"),
    sections=(
        Section("person", "个人信息"), Section("accounts", "账号"), Section("residences", "居住登记"),
        Section("relations", "代办关系"), Section("staff_roles", "工作人员身份"), Section("uploads", "上传的图片"),
        Section("moderation", "内容审核记录"), Section("wechat_grants", "微信订阅消息授权"),
        Section("notices", "发送给您的通知"), Section("consents", "您的授权（同意与撤回）"),
        Section("staff_reads", "工作人员查看您个人信息的记录"),
    ),
    collect=_collect,
    retention=(
        Keep("persons", "身份信息（姓名、身份证号、手机号）", None, ON_CANCELLATION),
        Keep("accounts", "登录账号", None, ON_CANCELLATION),
        Keep("residences", "居住登记", None, "结束后保留3年（租赁登记引用）；注销时结束"),
        Keep("person_relations", "代办关系", None, ON_CANCELLATION),
        Keep("memberships", "工作人员任职", None, "任职期间"),
        Keep("staff_contacts", "工作人员联系方式", None, "任职期间"),
        Keep("staff_known_addresses", "工作人员登录地址", None, "任职期间（登录限流用）"),
        Keep("refresh_tokens", "登录凭证", None, "过期或注销时撤销"),
        Keep("verification_codes", "短信验证码", timedelta(days=1), "验证码过期后1天删除",
             purge=delete_before("verification_codes", "expires_at")),
        Keep("upload_quota_days", "每日上传计数", timedelta(days=2), "次日删除", job="purge_upload_quota_days"),
        Keep("uploads", "上传的图片", None, ON_CANCELLATION),
        Keep("moderation_items", "内容审核记录", None, ON_CANCELLATION),
        Keep("subscription_grants", "微信订阅消息授权", None, ON_CANCELLATION),
        Keep("notify_outbox", "发送的通知", timedelta(days=365), "发送后保留1年",
             purge=delete_before("notify_outbox", "created_at", "state != 'pending'",
                                 "id NOT IN (SELECT outbox_id FROM subscription_grants WHERE outbox_id IS NOT NULL)")),
        Keep("sms_messages", "短信发送记录", None, "随通知保存"),
        Keep("audit_entries", "工作人员查看个人信息的审计记录", timedelta(days=3 * 365),
             "3年（问责，《个人信息保护法》第五十四条合规审计）", purge=delete_before("audit_entries", "at")),
        Keep("consents", "授权记录", timedelta(days=3 * 365), "撤回后保留3年（证明曾获同意）",
             purge=delete_before("consents", "withdrawn_at", "withdrawn_at IS NOT NULL")),
        Keep("data_exports", "个人信息副本", timedelta(days=7), "生成后7天删除", job="purge_data_exports"),
        Keep("wf_sla_policies", "时限策略的修改人", None, "工作记录"),
        Keep("escalation_chains", "升级链的修改人", None, "工作记录"),
        Keep("road_notices", "道路公告的发布人", None, "工作记录"),
    ),
)
install([PERSONAL_DATA])
