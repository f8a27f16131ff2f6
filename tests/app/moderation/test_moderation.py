"""Moderation: the keyword filter, WeChat's text and media checks, the signed callback, staff."""
from __future__ import annotations

import json
import uuid
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from app.moderation import service as moderation
from app.moderation.keywords import KeywordModerator, normalise
from app.moderation.models import ModerationItem
from app.moderation.service import moderation_decided
from app.storage.models import Upload
from auth.permissions import org_by_code
from tests.support.factories import bearer, make_resident, make_staff, place_world, token_for
from tests.support.fake_wechat import FakeWechat, media_event, signed_query

# For every test: an app context for the factories, and rate-limit counters reset before and after.
pytestmark = pytest.mark.usefixtures("ctx", "reset_rate_limits")

SUBJECT = "test_report"
CALLBACK = "/api/v1/wechat/callback"


@pytest.fixture
def decided():
    """The moderation_decided signals sent for SUBJECT."""
    calls: list[tuple[str, str]] = []

    def receiver(sender, *, session, subject_id, state, clock):
        calls.append((subject_id, state))

    with moderation_decided.connected_to(receiver, sender=SUBJECT):
        yield calls


@pytest.fixture
def wechat_moderation(wechat: FakeWechat, settings_override) -> FakeWechat:
    settings_override(MODERATION_PROVIDER="wechat", PUBLIC_BASE_URL="https://jinshan.example.cn")
    return wechat


def photo(session, owner_id: int, clock) -> Upload:
    upload = Upload(public_id=uuid.uuid4().hex[:22], owner_account_id=owner_id, sha256="a" * 64,
                    content_type="image/jpeg", width=10, height=10, bytes=100, thumb_sha256="b" * 64,
                    thumb_content_type="image/jpeg", created_at=clock.now())
    session.add(upload)
    session.flush()
    return upload


def items(session, subject_id) -> list[ModerationItem]:
    return list(session.scalars(sa.select(ModerationItem).where(ModerationItem.subject_type == SUBJECT,
                                                                ModerationItem.subject_id == str(subject_id))
                                .order_by(ModerationItem.id), execution_options={"populate_existing": True}))


def post_callback(client, clock, event, **query_kw):
    query = signed_query(int(clock.now().timestamp()), **query_kw)
    return client.post(f"{CALLBACK}?{urlencode(query)}", data=json.dumps(event), content_type="application/json")


# ---------------------------------------------------------------- the keyword filter


@pytest.mark.parametrize("text", ["这里有赌博网站", "赌 博", "赌*博", "赌\u3000博", "赌\u200b博", "ＦＵＣＫ", "F.u.C.k",
                                  "代 开 发 票", "出售K粉", "出售ｋ粉"])
def test_keyword_filter_normalises_width_case_and_spaces(text):
    verdict = KeywordModerator().check_text(text)
    assert verdict.suggest == "risky" and verdict.label.startswith("keyword:") and "命中关键词" in verdict.reason


@pytest.mark.parametrize("text", ["小区门口路灯不亮", "井盖破损，请尽快处理", "博物馆门口积水", "快递柜故障"])
def test_keyword_filter_passes_ordinary_reports(text):
    assert KeywordModerator().check_text(text).suggest == "pass"


def test_extra_words_from_settings():
    moderator = KeywordModerator("乱停车, 黑车\n[spam]\n加群领红包")
    assert moderator.find("门口黑 车拉客") == ("黑车", "extra")
    assert moderator.find("快来加群领红包") == ("加群领红包", "spam")
    assert KeywordModerator().find("黑车") is None
    assert normalise("ＡＢＣ　１２３") == "abc123"


# ---------------------------------------------------------------- submit with the default filter


def test_submit_clears_clean_text_and_rejects_a_keyword(session, clock):
    assert moderation.submit(session, subject_type=SUBJECT, subject_id=1, texts=["路灯不亮", "  "], clock=clock) \
        == "cleared"
    (item,) = items(session, 1)
    assert item.state == "cleared" and item.suggest == "pass" and item.provider == "keyword"
    assert item.decided_at == clock.now() and item.decided_by is None
    assert moderation.submit(session, subject_type=SUBJECT, subject_id=2, texts=["路灯不亮", "赌博"],
                             clock=clock) == "rejected"
    assert [i.state for i in items(session, 2)] == ["cleared", "rejected"]
    assert moderation.submit(session, subject_type=SUBJECT, subject_id=3, clock=clock) == "cleared"  # nothing


def test_photos_wait_for_staff_under_the_local_filter(session, clock):
    account = make_resident(session)
    state = moderation.submit(session, subject_type=SUBJECT, subject_id=4, texts=["积水"],
                              uploads=[photo(session, account.id, clock)], clock=clock, author_account_id=account.id)
    assert state == "pending_review"
    text, media = items(session, 4)
    assert text.state == "cleared" and media.state == "pending_review" and media.suggest == "review"
    assert moderation.withdraw(session, subject_type=SUBJECT, subject_id=4) == 2
    assert moderation.subject_state(session, subject_type=SUBJECT, subject_id=4) == "cleared"


# ---------------------------------------------------------------- WeChat msg_sec_check


@pytest.mark.parametrize("text,state,label", [
    ("小区路灯不亮", "cleared", "100"), ("这段内容待审一下", "pending_review", "21000"),
    ("这是违规内容", "rejected", "20006"),
])
def test_wechat_text_verdicts(session, clock, wechat_moderation: FakeWechat, text, state, label):
    account = make_resident(session, openid="o-author-1")
    assert moderation.submit(session, subject_type=SUBJECT, subject_id=10, texts=[text], clock=clock,
                             author_account_id=account.id) == state
    (item,) = items(session, 10)
    assert item.provider == "wechat" and item.label == label and item.state == state
    (check,) = wechat_moderation.sec_checks
    assert check == {"content": text, "version": 2, "scene": 3, "openid": "o-author-1"}


def test_wechat_text_keyword_hit_never_reaches_wechat(session, clock, wechat_moderation: FakeWechat):
    account = make_resident(session, openid="o-author-2")
    assert moderation.submit(session, subject_type=SUBJECT, subject_id=11, texts=["赌博"], clock=clock,
                             author_account_id=account.id) == "rejected"
    assert wechat_moderation.sec_checks == []


def test_wechat_text_without_openid_or_during_an_outage_waits_for_staff(session, clock, wechat_moderation):
    assert moderation.submit(session, subject_type=SUBJECT, subject_id=12, texts=["路灯"], clock=clock) \
        == "pending_review"
    account = make_resident(session, openid="o-author-3")
    wechat_moderation.outage = True
    assert moderation.submit(session, subject_type=SUBJECT, subject_id=13, texts=["路灯"], clock=clock,
                             author_account_id=account.id) == "pending_review"
    (item,) = items(session, 13)
    assert "暂不可用" in item.reason and wechat_moderation.sec_checks == []


def test_long_text_is_checked_in_pieces(session, clock, wechat_moderation: FakeWechat):
    account = make_resident(session, openid="o-author-4")
    text = "正常内容" * 700 + "违规"  # 2,802 characters
    assert moderation.submit(session, subject_type=SUBJECT, subject_id=14, texts=[text], clock=clock,
                             author_account_id=account.id) == "rejected"
    assert [len(c["content"]) for c in wechat_moderation.sec_checks] == [2500, 302]


# ---------------------------------------------------------------- media_check_async and the callback


def submit_photo(session, clock, subject_id, openid="o-photo") -> ModerationItem:
    account = make_resident(session, openid=openid + uuid.uuid4().hex[:6])
    state = moderation.submit(session, subject_type=SUBJECT, subject_id=subject_id, texts=["路面坑洼"],
                              uploads=[photo(session, account.id, clock)], clock=clock, author_account_id=account.id)
    assert state == "pending_review"
    session.commit()
    return items(session, subject_id)[1]


def test_media_check_then_a_passing_callback_clears_the_subject(client, session, clock, wechat_moderation, decided):
    item = submit_photo(session, clock, 20)
    assert item.suggest == "pending" and item.trace_id
    (check,) = wechat_moderation.media_checks
    assert check["media_url"].startswith("https://jinshan.example.cn/api/v1/uploads/") and check["media_type"] == 2
    assert check["trace_id"] == item.trace_id and check["version"] == 2
    resp = post_callback(client, clock, media_event(item.trace_id, "pass"))
    assert resp.status_code == 200 and resp.get_data(as_text=True) == "success"
    text, media = items(session, 20)
    assert text.state == "cleared" and media.state == "cleared" and media.decided_by is None and media.suggest == "pass"
    assert decided == [("20", "cleared")]
    # WeChat pushes again (no answer seen): nothing changes, no second signal
    assert post_callback(client, clock, media_event(item.trace_id, "risky", 20002)).status_code == 200
    assert items(session, 20)[1].state == "cleared" and decided == [("20", "cleared")]


def test_risky_callback_rejects_and_review_waits_for_staff(client, session, clock, wechat_moderation, decided):
    risky = submit_photo(session, clock, 21)
    review = submit_photo(session, clock, 22)
    post_callback(client, clock, media_event(risky.trace_id, "risky", 20002))
    post_callback(client, clock, media_event(review.trace_id, "review", 21000))
    assert items(session, 21)[1].state == "rejected" and "色情" in items(session, 21)[1].reason
    media = items(session, 22)[1]
    assert media.state == "pending_review" and media.suggest == "review" and "其他" in media.reason
    assert decided == [("21", "rejected")]


def test_callback_with_a_bad_signature_is_403_and_changes_nothing(client, session, clock, wechat_moderation, decided):
    item = submit_photo(session, clock, 23)
    event = media_event(item.trace_id, "pass")
    assert post_callback(client, clock, event, token="wrong-token").status_code == 403
    query = signed_query(int(clock.now().timestamp()))
    query["signature"] = query["signature"][:-1] + ("0" if query["signature"][-1] != "0" else "1")
    resp = client.post(f"{CALLBACK}?{urlencode(query)}", json=event)
    assert resp.status_code == 403 and resp.get_json()["code"] == "wechat_signature_invalid"
    assert client.post(CALLBACK, json=event).status_code == 403  # unsigned
    stale = signed_query(int(clock.now().timestamp()) - 3600)  # a captured old signature
    assert client.post(f"{CALLBACK}?{urlencode(stale)}", json=event).status_code == 403
    assert items(session, 23)[1].state == "pending_review" and decided == []


def test_callback_refuses_bad_bodies_after_a_good_signature(client, clock, wechat_moderation):
    query = urlencode(signed_query(int(clock.now().timestamp())))
    resp = client.post(f"{CALLBACK}?{query}", data=b"{not json", content_type="application/json")
    assert resp.status_code == 400 and resp.get_json()["code"] == "malformed_json"
    assert client.post(f"{CALLBACK}?{query}", json={"Encrypt": "xx"}).status_code == 400
    assert client.post(f"{CALLBACK}?{query}", json={**media_event("t", "pass"), "appid": "wx-other"}).status_code \
        == 403
    # an unknown event or trace id is acknowledged and ignored
    assert client.post(f"{CALLBACK}?{query}", json={"MsgType": "event", "Event": "other"}).status_code == 200
    assert client.post(f"{CALLBACK}?{query}", json=media_event("unknown-trace", "pass")).status_code == 200


def test_callback_url_verification(client, clock, wechat_moderation):
    query = signed_query(int(clock.now().timestamp()))
    resp = client.get(f"{CALLBACK}?{urlencode({**query, 'echostr': 'abc123'})}")
    assert resp.status_code == 200 and resp.get_data(as_text=True) == "abc123"
    assert client.get(f"{CALLBACK}?{urlencode({**query, 'signature': 'x', 'echostr': 'abc'})}").status_code == 403


@pytest.mark.parametrize("max_age", [None, 300])
def test_callback_age_limit_is_inclusive_at_exactly_its_bound_both_ways(client, clock, wechat, settings_override,
                                                                        max_age):
    """A timestamp exactly ``WECHAT_CALLBACK_MAX_AGE_SECONDS`` old (or ahead: clocks drift) is
    accepted; one second more is refused, as is the bound of the default when it is lowered."""
    if max_age is not None:
        settings_override(WECHAT_CALLBACK_MAX_AGE_SECONDS=str(max_age))
    bound = max_age or 600
    clock.set(clock.now().replace(microsecond=0))
    now = int(clock.now().timestamp())

    def status(ts: int) -> int:
        return client.get(f"{CALLBACK}?{urlencode({**signed_query(ts), 'echostr': 'e'})}").status_code

    assert [status(now - bound), status(now + bound)] == [200, 200]
    assert [status(now - bound - 1), status(now + bound + 1)] == [403, 403]
    if max_age is not None:
        assert status(now - 600) == 403  # the lowered bound is the one in force


def test_callback_without_a_configured_token_refuses_everything(client, clock, settings_override, wechat):
    settings_override(WECHAT_CALLBACK_TOKEN="")
    query = signed_query(int(clock.now().timestamp()), token="")
    assert client.post(f"{CALLBACK}?{urlencode(query)}", json={}).status_code == 403


# ---------------------------------------------------------------- staff


@pytest.fixture
def people(session, clock):
    world = place_world(session)
    city_ops = org_by_code(session, "310116-bureau-city-ops")
    accounts = {
        "ops": (make_staff(session, city_ops, "staff"), city_ops),
        "admin": (make_staff(session, world.district, "admin"), world.district),
        "district_staff": (make_staff(session, world.district, "staff"), world.district),
        "town": (make_staff(session, world.towns[0], "admin"), world.towns[0]),
        "resident": (make_resident(session), None),
    }
    tokens = {name: bearer(token_for(session, clock, account, org)) for name, (account, org) in accounts.items()}
    tokens["ops_account_id"] = accounts["ops"][0].id
    session.commit()
    return tokens


def pending_item(session, clock, subject_id) -> ModerationItem:
    account = make_resident(session)
    moderation.submit(session, subject_type=SUBJECT, subject_id=subject_id, texts=["积水严重"],
                      uploads=[photo(session, account.id, clock)], clock=clock, author_account_id=account.id)
    session.commit()
    return items(session, subject_id)[1]


def test_moderators_list_and_clear(client, session, clock, people, decided):
    item = pending_item(session, clock, 30)
    body = client.get("/api/v1/admin/moderation?subject_type=test_report", headers=people["ops"]).get_json()
    assert [i["id"] for i in body["items"]] == [item.id] and body["total"] == 1
    listed = body["items"][0]
    assert listed["state"] == "pending_review" and listed["kind"] == "media"
    assert "sig=" in listed["photo"]["url"] and "variant=thumb" in listed["photo"]["thumb_url"]
    cleared = client.get("/api/v1/admin/moderation?state=cleared&subject_type=test_report&kind=text",
                         headers=people["admin"]).get_json()
    assert [i["text"] for i in cleared["items"]] == ["积水严重"]
    resp = client.post(f"/api/v1/admin/moderation/{item.id}/clear", json={}, headers=people["ops"])
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["state"] == "cleared" and resp.get_json()["decided_by"] == people["ops_account_id"]
    assert decided == [("30", "cleared")]
    again = client.post(f"/api/v1/admin/moderation/{item.id}/reject", json={"reason": "x"}, headers=people["admin"])
    assert again.status_code == 409 and again.get_json()["code"] == "moderation_already_decided"
    assert decided == [("30", "cleared")]


def test_reject_needs_a_reason_and_district_admins_may(client, session, clock, people, decided):
    item = pending_item(session, clock, 31)
    resp = client.post(f"/api/v1/admin/moderation/{item.id}/reject", json={}, headers=people["admin"])
    assert resp.status_code == 422 and "reason" in resp.get_json()["errors"]
    resp = client.post(f"/api/v1/admin/moderation/{item.id}/reject", json={"reason": "与事件无关的图片"},
                       headers=people["admin"])
    assert resp.status_code == 200 and resp.get_json()["reason"] == "与事件无关的图片"
    assert moderation.subject_state(session, subject_type=SUBJECT, subject_id=31) == "rejected"
    assert decided == [("31", "rejected")]
    assert client.get(f"/api/v1/admin/moderation/{item.id}", headers=people["admin"]).get_json()["state"] \
        == "rejected"


def test_others_get_403_on_the_list_and_404_on_items_they_do_not_see(client, session, clock, people):
    item = pending_item(session, clock, 32)
    for who in ("town", "district_staff"):
        assert client.get("/api/v1/admin/moderation", headers=people[who]).status_code == 403
        assert client.get(f"/api/v1/admin/moderation/{item.id}", headers=people[who]).status_code == 404
        assert client.post(f"/api/v1/admin/moderation/{item.id}/clear", json={},
                           headers=people[who]).status_code == 404
    assert client.get("/api/v1/admin/moderation", headers=people["resident"]).status_code == 403
    # An item is not visible to a resident: 404, the same answer as for an item that does not exist.
    hidden = client.post(f"/api/v1/admin/moderation/{item.id}/clear", json={}, headers=people["resident"])
    missing = client.post("/api/v1/admin/moderation/999999999/clear", json={}, headers=people["resident"])
    assert hidden.status_code == missing.status_code == 404
    assert {**hidden.get_json(), "request_id": ""} == {**missing.get_json(), "request_id": ""}
    assert client.get("/api/v1/admin/moderation").status_code == 401
    assert client.post("/api/v1/admin/moderation/999999999/clear", json={}, headers=people["ops"]).status_code == 404
    assert items(session, 32)[1].state == "pending_review"


def test_moderation_orgs_are_configurable(client, session, clock, people, settings_override):
    settings_override(MODERATION_ORG_CODES="some-other-org")
    assert client.get("/api/v1/admin/moderation", headers=people["ops"]).status_code == 403
    assert client.get("/api/v1/admin/moderation", headers=people["admin"]).status_code == 200
