"""The error contract, project fields, pagination and Idempotency-Key."""
from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa

from app.errors import ERRORS
from auth.organisations import Organisation
from tests.support import platform_test_app


@pytest.fixture(scope="module")
def papp(settings, migrated_db, _clock):
    return platform_test_app.build(settings, migrated_db, _clock)


@pytest.fixture
def pclient(papp, db, clock):
    return papp.test_client()


def assert_error(resp, status, code, field=None):
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["code"] == code
    assert body["message"] == ERRORS[code].zh
    assert body["request_id"]
    if field:
        assert field in body["errors"], body
    return body


def test_unknown_route_is_json_404(pclient):
    assert_error(pclient.get("/nope"), 404, "not_found")


def test_method_not_allowed(pclient):
    resp = pclient.delete("/test/echo")
    assert_error(resp, 405, "method_not_allowed")
    assert "POST" in resp.headers["Allow"]


def test_unhandled_exception_is_500_without_leaking(pclient, caplog):
    resp = pclient.get("/test/boom")
    body = assert_error(resp, 500, "internal_error")
    assert "exploded" not in json.dumps(body)


def test_english_when_asked(pclient):
    resp = pclient.get("/nope", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert resp.get_json()["message"] == ERRORS["not_found"].en


def test_request_id_echoed_or_generated(pclient):
    resp = pclient.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["X-Request-ID"] == "abc-123"
    resp = pclient.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert resp.headers["X-Request-ID"] != "bad id with spaces"
    assert len(resp.headers["X-Request-ID"]) == 32
    body = pclient.get("/nope", headers={"X-Request-ID": "r-1"}).get_json()
    assert body["request_id"] == "r-1"


def test_valid_echo_and_time_goes_out_in_beijing_offset(pclient):
    resp = pclient.post("/test/echo", json={"text": "你好", "count": 3, "when": "2026-01-01T00:00:00Z"})
    assert resp.status_code == 200
    assert resp.get_json()["when"] == "2026-01-01T08:00:00+08:00"


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"text": "a\x00b"}, "text"),
        ({"text": "\ud800"}, "text"),
        ({"text": "x", "count": 2**63}, "count"),
        ({"text": "x", "count": "3"}, "count"),
        ({"text": "x", "when": "2026-01-01T00:00:00"}, "when"),
        ({"text": "x", "unknown_field": 1}, "unknown_field"),
        ({}, "text"),
        ({"text": "x", "tags": ["ok", "\x00"]}, "tags.1"),
    ],
)
def test_bad_fields_are_422_naming_the_field(pclient, payload, field):
    raw = json.dumps(payload)  # keeps lone surrogates as \ud800 escapes
    resp = pclient.post("/test/echo", data=raw, content_type="application/json")
    assert_error(resp, 422, "validation_error", field)


def test_malformed_json(pclient):
    resp = pclient.post("/test/echo", data="{not json", content_type="application/json")
    assert_error(resp, 400, "malformed_json")


def test_wrong_content_type_is_415(pclient):
    resp = pclient.post("/test/echo", data="text=x", content_type="application/x-www-form-urlencoded")
    assert_error(resp, 415, "unsupported_media_type")


def test_too_large_is_413(pclient):
    resp = pclient.post("/test/echo", data=b"x" * (13 * 1024 * 1024), content_type="application/json")
    assert_error(resp, 413, "payload_too_large")


def test_pagination_in_body_and_max_is_422(pclient):
    for i in range(3):
        assert pclient.post("/test/orgs", json={"code": f"pg-{i}", "name": "n"}).status_code == 201
    body = pclient.get("/test/orgs?page=1&page_size=2").get_json()
    assert body["page"] == 1 and body["page_size"] == 2 and len(body["items"]) == 2
    assert body["total"] >= 3
    assert_error(pclient.get("/test/orgs?page_size=101"), 422, "validation_error", "page_size")
    assert_error(pclient.get("/test/orgs?page=0"), 422, "validation_error", "page")
    assert_error(pclient.get("/test/orgs?bogus=1"), 422, "validation_error", "bogus")


def count_orgs(db, code):
    with db.transaction(write=False) as s:
        return s.scalar(sa.select(sa.func.count()).select_from(Organisation).where(Organisation.code == code))


def test_idempotent_retry_replays_and_writes_once(pclient, db):
    headers = {"Idempotency-Key": "key-000001"}
    first = pclient.post("/test/orgs", json={"code": "idem-1", "name": "一"}, headers=headers)
    assert first.status_code == 201
    again = pclient.post("/test/orgs", json={"code": "idem-1", "name": "一"}, headers=headers)
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_orgs(db, "idem-1") == 1


def test_same_key_other_payload_is_422(pclient):
    headers = {"Idempotency-Key": "key-000002"}
    assert pclient.post("/test/orgs", json={"code": "idem-2", "name": "a"}, headers=headers).status_code == 201
    resp = pclient.post("/test/orgs", json={"code": "idem-2", "name": "b"}, headers=headers)
    assert_error(resp, 422, "idempotency_key_reused", "Idempotency-Key")


def test_error_answers_are_replayed_too(pclient):
    headers = {"Idempotency-Key": "key-000003"}
    first = pclient.post("/test/orgs", json={"code": "fail-422", "name": "a"}, headers=headers)
    assert first.status_code == 422
    again = pclient.post("/test/orgs", json={"code": "fail-422", "name": "a"}, headers=headers)
    assert again.status_code == 422 and again.headers["Idempotent-Replayed"] == "true"


def test_bad_idempotency_key_is_422(pclient):
    resp = pclient.post("/test/orgs", json={"code": "x", "name": "a"}, headers={"Idempotency-Key": "short"})
    assert_error(resp, 422, "validation_error", "Idempotency-Key")


def test_keys_are_scoped_per_caller(pclient, db):
    headers = {"Idempotency-Key": "key-000004"}
    a = pclient.post("/test/orgs", json={"code": "idem-4", "name": "a"}, headers=headers,
                     environ_base={"REMOTE_ADDR": "10.0.0.1"})
    b = pclient.post("/test/orgs", json={"code": "idem-4b", "name": "a"}, headers=headers,
                     environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert a.status_code == 201 and b.status_code == 201
    assert "Idempotent-Replayed" not in b.headers


def test_idempotency_key_kept_24_hours(pclient, clock):
    headers = {"Idempotency-Key": "key-000005"}
    assert pclient.post("/test/orgs", json={"code": "idem-5", "name": "a"}, headers=headers).status_code == 201
    clock.advance(hours=23, minutes=59)
    replay = pclient.post("/test/orgs", json={"code": "idem-5", "name": "a"}, headers=headers)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    clock.advance(hours=1)
    fresh = pclient.post("/test/orgs", json={"code": "idem-5x", "name": "a"}, headers=headers)
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers


def test_concurrent_duplicate_gets_409(papp, committed_db):
    """Two clients race with one key: one runs, the other is told it is in progress."""
    if committed_db.dialect != "postgresql":
        pytest.skip("a real race needs PostgreSQL (SQLite serialises writers)")
    results: list[int] = []
    barrier = threading.Barrier(2)

    def call():
        client = papp.test_client()
        barrier.wait()
        resp = client.post("/test/orgs", json={"code": "race-1", "name": "r", "slow": 0.5},
                           headers={"Idempotency-Key": "race-key-1"})
        results.append(resp.status_code)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results) == [201, 409]
    assert count_orgs(committed_db, "race-1") == 1


def test_replay_survives_a_view_that_reads_after_commit(papp, db):
    """A view that reads after committing must not take the stored answer down with it."""
    client = papp.test_client()
    headers = {"Idempotency-Key": "read-after-commit-1"}
    first = client.post("/test/orgs-read-after", json={"code": "rac-1", "name": "r"}, headers=headers)
    assert first.status_code == 201, first.get_json()
    again = client.post("/test/orgs-read-after", json={"code": "rac-1", "name": "r"}, headers=headers)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert count_orgs(db, "rac-1") == 1


def test_int_path_segments_beyond_64_bits_are_404(client):
    """A huge id in a path is a 404 like any unknown id, never a database overflow."""
    for path in ("/api/v1/property-repair/tickets/17961875346611388416",
                 "/api/v1/city-report/tickets/9223372036854775808"):
        resp = client.get(path)  # the route does not match, so no authentication is even asked
        assert resp.status_code == 404 and resp.get_json()["code"] == "not_found"


def _claim_state(db, key: str) -> str | None:
    from app.idempotency import IdempotencyRecord

    with db.transaction(write=False) as s:
        return s.scalar(sa.select(IdempotencyRecord.state).where(IdempotencyRecord.key == key))


def test_work_that_committed_before_a_crash_is_never_run_again(pclient, db, clock):
    """The view commits, then its process dies before the answer is stored: the claim says the
    work committed, so a retry is told the answer was lost (409), never given a second org."""
    headers, body = {"Idempotency-Key": "crash-after-1"}, {"code": "crash-1", "name": "c", "crash": "after_commit"}
    with pytest.raises(platform_test_app.Crash):
        pclient.post("/test/orgs", json=body, headers=headers)
    assert count_orgs(db, "crash-1") == 1
    assert _claim_state(db, "crash-after-1") == "committed"  # marked in the view's own transaction
    assert_error(pclient.post("/test/orgs", json=body, headers=headers), 409, "idempotency_in_progress")
    clock.advance(minutes=2, seconds=1)
    assert_error(pclient.post("/test/orgs", json=body, headers=headers), 409, "idempotency_answer_lost")
    assert count_orgs(db, "crash-1") == 1


def test_a_crash_before_the_commit_releases_the_key_and_the_retry_runs(pclient, db):
    headers = {"Idempotency-Key": "crash-before-1"}
    with pytest.raises(platform_test_app.Crash):
        pclient.post("/test/orgs", json={"code": "crash-2", "name": "c", "crash": "before_commit"}, headers=headers)
    assert count_orgs(db, "crash-2") == 0 and _claim_state(db, "crash-before-1") is None  # a 5xx is never stored
    with pytest.raises(platform_test_app.Crash):  # the key is free: the request runs again (to its crash)
        pclient.post("/test/orgs", json={"code": "crash-2", "name": "c", "crash": "before_commit"}, headers=headers)


def test_a_stale_claim_that_did_nothing_is_taken_over(pclient, db, clock):
    """A process died before committing anything (its claim still ``in_progress``): after
    ``STALE_AFTER`` the retry runs the request; before it, 409."""
    from app.idempotency import STALE_AFTER, IdempotencyRecord, _request_hash

    body, key = {"code": "stale-1", "name": "s"}, "stale-key-1"
    with pclient.application.test_request_context("/test/orgs", method="POST", json=body):
        digest = _request_hash()
    with db.transaction() as s:
        s.add(IdempotencyRecord(scope="p:ip:127.0.0.1", key=key, request_hash=digest, state="in_progress",
                                created_at=clock.now(), expires_at=clock.now() + STALE_AFTER * 1000))
    assert_error(pclient.post("/test/orgs", json=body, headers={"Idempotency-Key": key}), 409,
                 "idempotency_in_progress")
    clock.advance(seconds=STALE_AFTER.total_seconds() - 1)
    assert_error(pclient.post("/test/orgs", json=body, headers={"Idempotency-Key": key}), 409,
                 "idempotency_in_progress")  # one second before the bound: still the first's
    clock.advance(seconds=1)
    taken = pclient.post("/test/orgs", json=body, headers={"Idempotency-Key": key})
    assert taken.status_code == 201 and "Idempotent-Replayed" not in taken.headers
    assert count_orgs(db, "stale-1") == 1 and _claim_state(db, key) == "done"


def _stored_statuses(db) -> list[int | None]:
    from app.idempotency import IdempotencyRecord

    with db.transaction(write=False) as s:
        return list(s.scalars(sa.select(IdempotencyRecord.status_code)))


def test_a_5xx_answer_is_never_stored_for_replay(pclient, db, clock):
    """A view that answers 503 (an outside service down) rather than crashing: its claim is
    released and the retry runs again, never a replay of the 503; when the 503 came after the
    work committed, the claim stays ``committed`` (never run twice) and still stores no 503."""
    headers = {"Idempotency-Key": "five-xx-1"}
    body = {"code": "five-1", "name": "f", "crash": "unavailable"}
    for _ in range(2):  # the second is a real run again, not a replay
        resp = pclient.post("/test/orgs", json=body, headers=headers)
        assert_error(resp, 503, "unavailable")
        assert "Idempotent-Replayed" not in resp.headers
        assert _claim_state(db, "five-xx-1") is None
    # The key is free: another payload under it runs (no claim and no stored 503 in the way).
    ok = pclient.post("/test/orgs", json={**body, "crash": None}, headers=headers)
    assert ok.status_code == 201 and "Idempotent-Replayed" not in ok.headers

    headers = {"Idempotency-Key": "five-xx-2"}
    body = {"code": "five-2", "name": "f", "crash": "unavailable_after_commit"}
    assert_error(pclient.post("/test/orgs", json=body, headers=headers), 503, "unavailable")
    assert count_orgs(db, "five-2") == 1 and _claim_state(db, "five-xx-2") == "committed"
    assert 503 not in _stored_statuses(db)
    clock.advance(minutes=2, seconds=1)
    assert_error(pclient.post("/test/orgs", json=body, headers=headers), 409, "idempotency_answer_lost")
    assert count_orgs(db, "five-2") == 1


def test_a_stale_claim_is_not_taken_over_by_another_payload(pclient, db, clock):
    """Only a retry of the same request may take a stale claim over; another payload under the
    key is still refused as a reused key."""
    from app.idempotency import STALE_AFTER, IdempotencyRecord, _request_hash

    body, key = {"code": "stale-2", "name": "s"}, "stale-key-2"
    with pclient.application.test_request_context("/test/orgs", method="POST", json=body):
        digest = _request_hash()
    with db.transaction() as s:
        s.add(IdempotencyRecord(scope="p:ip:127.0.0.1", key=key, request_hash=digest, state="in_progress",
                                created_at=clock.now(), expires_at=clock.now() + STALE_AFTER * 1000))
    clock.advance(seconds=STALE_AFTER.total_seconds() + 1)
    other = pclient.post("/test/orgs", json={"code": "stale-2x", "name": "s"}, headers={"Idempotency-Key": key})
    assert_error(other, 422, "idempotency_key_reused", "Idempotency-Key")
    assert count_orgs(db, "stale-2x") == 0 and _claim_state(db, key) == "in_progress"


def _claims_of_others(db, clock, key: str) -> set[tuple[str, str, str]]:
    """Two claims in progress beside ours: the same key of another caller, another key of ours."""
    from app.idempotency import STALE_AFTER, IdempotencyRecord

    others = {("p:ip:10.0.0.9", key, "in_progress"), ("p:ip:127.0.0.1", f"other-{key}", "in_progress")}
    with db.transaction() as s:
        for scope, k, _ in others:
            s.add(IdempotencyRecord(scope=scope, key=k, request_hash="0" * 64, state="in_progress",
                                    created_at=clock.now(), expires_at=clock.now() + STALE_AFTER * 1000))
    return others


def _claims(db) -> set[tuple[str, str, str]]:
    from app.idempotency import IdempotencyRecord

    with db.transaction(write=False) as s:
        return set(s.execute(sa.select(IdempotencyRecord.scope, IdempotencyRecord.key, IdempotencyRecord.state)))


def test_an_answer_is_stored_in_its_own_claim_only(pclient, db, clock):
    """The commit's mark and the stored answer touch that (caller, key) only."""
    others = _claims_of_others(db, clock, "shared-key-2")
    resp = pclient.post("/test/orgs", json={"code": "ok-3", "name": "f"}, headers={"Idempotency-Key": "shared-key-2"})
    assert resp.status_code == 201
    assert _claims(db) >= others | {("p:ip:127.0.0.1", "shared-key-2", "done")}


def test_a_5xx_releases_only_its_own_claim(pclient, db, clock):
    """Releasing the claim of a 503 touches that (caller, key) only: the same key of another
    caller, and another key of the same caller, both still in progress, keep their claims."""
    from app.idempotency import IdempotencyRecord

    _claims_of_others(db, clock, "shared-key-1")
    resp = pclient.post("/test/orgs", json={"code": "five-3", "name": "f", "crash": "unavailable"},
                        headers={"Idempotency-Key": "shared-key-1"})
    assert_error(resp, 503, "unavailable")
    with db.transaction(write=False) as s:
        left = set(s.execute(sa.select(IdempotencyRecord.scope, IdempotencyRecord.key, IdempotencyRecord.state)))
    assert {("p:ip:10.0.0.9", "shared-key-1", "in_progress"), ("p:ip:127.0.0.1", "other-shared-key-1", "in_progress")} \
        <= left
    assert ("p:ip:127.0.0.1", "shared-key-1", "in_progress") not in left


def test_a_key_expires_exactly_at_its_ttl_and_the_setting_only_lengthens_it(pclient, clock, monkeypatch):
    """``IDEMPOTENCY_TTL_HOURS`` is read (48 keeps a key 48 h), never below 24 h (1 is 24; empty
    is the default, 24), and the key is free again at the very second its time is up."""
    extra = pclient.application.extensions["settings"].extra
    for hours, kept in (("48", 48), ("1", 24), ("", 24)):
        monkeypatch.setitem(extra, "IDEMPOTENCY_TTL_HOURS", hours)
        headers, body = {"Idempotency-Key": f"ttl-key-{hours}"}, {"code": f"ttl-{hours}", "name": "t"}
        assert pclient.post("/test/orgs", json=body, headers=headers).status_code == 201
        clock.advance(hours=kept, seconds=-1)
        replay = pclient.post("/test/orgs", json=body, headers=headers)
        assert replay.headers.get("Idempotent-Replayed") == "true", (hours, replay.status_code)
        clock.advance(seconds=1)
        fresh = pclient.post("/test/orgs", json={**body, "code": f"ttl-{hours}x"}, headers=headers)
        assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers, hours


def test_a_committed_claim_is_lost_from_the_stale_bound_and_free_once_expired(pclient, db, clock):
    """Work that committed without an answer: 409 in progress until exactly ``STALE_AFTER``,
    ``idempotency_answer_lost`` from that second on, and once the key expired (24 h) the key
    is free again: a new request under it runs."""
    from app.idempotency import STALE_AFTER

    headers, body = {"Idempotency-Key": "lost-bound-1"}, {"code": "lost-1", "name": "c", "crash": "after_commit"}
    with pytest.raises(platform_test_app.Crash):
        pclient.post("/test/orgs", json=body, headers=headers)
    clock.advance(seconds=STALE_AFTER.total_seconds() - 1)
    assert_error(pclient.post("/test/orgs", json=body, headers=headers), 409, "idempotency_in_progress")
    clock.advance(seconds=1)
    assert_error(pclient.post("/test/orgs", json=body, headers=headers), 409, "idempotency_answer_lost")
    clock.advance(hours=24)
    fresh = pclient.post("/test/orgs", json={"code": "lost-1x", "name": "c"}, headers=headers)
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
    assert count_orgs(db, "lost-1") == 1 and count_orgs(db, "lost-1x") == 1


def test_a_taken_over_claim_is_kept_a_full_ttl_from_the_takeover(pclient, db, clock):
    """The request that took a stale claim over owns the key as a new claim: its answer is
    replayed to retries for 24 h from the takeover, not from the dead first claim."""
    from app.idempotency import STALE_AFTER, IdempotencyRecord, _request_hash

    body, key = {"code": "stale-3", "name": "s"}, "stale-key-3"
    with pclient.application.test_request_context("/test/orgs", method="POST", json=body):
        digest = _request_hash()
    with db.transaction() as s:
        s.add(IdempotencyRecord(scope="p:ip:127.0.0.1", key=key, request_hash=digest, state="in_progress",
                                created_at=clock.now(), expires_at=clock.now() + STALE_AFTER * 2))
    clock.advance(seconds=STALE_AFTER.total_seconds())
    taken = pclient.post("/test/orgs", json=body, headers={"Idempotency-Key": key})
    assert taken.status_code == 201 and "Idempotent-Replayed" not in taken.headers
    clock.advance(hours=23, minutes=59)
    again = pclient.post("/test/orgs", json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == taken.get_json()
    assert count_orgs(db, "stale-3") == 1


def test_a_retry_finds_its_own_callers_claim_of_a_shared_key(pclient, db):
    """Two callers used the same key: each one's retry replays its own answer (not the other
    caller's, nor a 'reused key' because the other caller's payload differs)."""
    headers = {"Idempotency-Key": "key-shared-3"}
    first = {"10.0.0.1": {"code": "idem-6a", "name": "a"}, "10.0.0.2": {"code": "idem-6b", "name": "b"}}
    answers = {addr: pclient.post("/test/orgs", json=body, headers=headers, environ_base={"REMOTE_ADDR": addr})
               for addr, body in first.items()}
    for addr in reversed(list(first)):
        again = pclient.post("/test/orgs", json=first[addr], headers=headers, environ_base={"REMOTE_ADDR": addr})
        assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true", addr
        assert again.get_json() == answers[addr].get_json()
    assert count_orgs(db, "idem-6a") == count_orgs(db, "idem-6b") == 1


def test_an_expired_key_is_taken_over_as_a_new_claim_of_that_caller_only(pclient, db, clock):
    """Two callers used one key at the same instant. A day later one reuses it: its claim is
    rewritten as a new one (in progress, then committed with the work, fresh for the stale
    bound and the TTL, with the new payload's hash) and the other caller's is left alone."""
    from app.idempotency import IdempotencyRecord

    headers, a, b = {"Idempotency-Key": "key-expired-7"}, {"REMOTE_ADDR": "10.0.0.1"}, {"REMOTE_ADDR": "10.0.0.2"}
    assert pclient.post("/test/orgs", json={"code": "exp-a1", "name": "a"}, headers=headers,
                        environ_base=a).status_code == 201
    assert pclient.post("/test/orgs", json={"code": "exp-b1", "name": "b"}, headers=headers,
                        environ_base=b).status_code == 201
    clock.advance(hours=24)
    crashing = {"code": "exp-a2", "name": "a", "crash": "after_commit"}
    with pytest.raises(platform_test_app.Crash):
        pclient.post("/test/orgs", json=crashing, headers=headers, environ_base=a)
    with db.transaction(write=False) as s:
        state = s.scalar(sa.select(IdempotencyRecord.state).where(
            IdempotencyRecord.scope == "p:ip:10.0.0.1", IdempotencyRecord.key == "key-expired-7"))
    assert state == "committed"
    assert_error(pclient.post("/test/orgs", json=crashing, headers=headers, environ_base=a), 409,
                 "idempotency_in_progress")  # not lost yet, and never run twice
    assert count_orgs(db, "exp-a2") == 1
    b2 = {"code": "exp-b2", "name": "b"}
    fresh = pclient.post("/test/orgs", json=b2, headers=headers, environ_base=b)
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
    again = pclient.post("/test/orgs", json=b2, headers=headers, environ_base=b)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
