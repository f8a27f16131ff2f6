"""The checks of ``python -m bench.scale_out``: what the load's ledger says against what the
database holds, and what ``/metrics`` of each instance says against both.

Each check is a ``Check`` (PASS/FAIL with its numbers). The database is read once the load has
stopped and the workers have drained what was due; ``check_now`` is the database's clock then.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from bench.scale_load import PLAN, Ledger, Tally

KEY_IN_TEXT = re.compile(r"^scale-out \S+ (so-\S+?)：")
SAMPLE_LIST = 5  # how many ids a failing check names


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    info: bool = False  # printed as INFO: measured, not judged

    def line(self) -> str:
        verdict = "INFO" if self.info else "PASS" if self.ok else "FAIL"
        return f"{verdict:<4}  {self.name}: {self.detail}"


def _some(values: Iterable[Any]) -> str:
    values = list(values)
    head = ", ".join(str(v) for v in values[:SAMPLE_LIST])
    return head + (f" … (+{len(values) - SAMPLE_LIST})" if len(values) > SAMPLE_LIST else "")


def _n(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


# ---------------------------------------------------------------- the database

@dataclass
class Snapshot:
    """What the database holds about the run (read in one REPEATABLE READ transaction)."""

    check_now: datetime
    tickets: dict[str, list[int]]  # key → ticket ids (the key is in the ticket's text)
    acks: dict[int, list[datetime]]  # ticket → acknowledgement times
    ack_events: list[tuple[int, int]]  # (ticket, event id) of the run's tickets' acknowledgements
    escalations: dict[tuple[int, int], list[datetime]]  # (ticket, level) → escalation times
    response_timers: list[tuple[int, int, datetime, str]]  # (ticket, level, due, state)
    escalations_by_level: Counter[int]  # every escalation since the run began (any ticket)
    failed_timers: list[tuple[str, str, str | None]]  # (kind, state, last error) failed or erroring
    due_pending: int  # pending timers whose time has come
    outbox: list[tuple[int, str, str, str, str | None, datetime | None]]
    """(id, event key, channel, state, delivery timer state, its due time) of every outbox row."""
    outbox_timers: Counter[int]  # outbox id → how many delivery timers
    sms_per_outbox: Counter[int]
    outbox_pending_by_channel: Counter[str]
    used_jti: set[str]
    scans: Counter[str]  # result → count (our devices' scans of personal codes)


def read_database(database_url: str, run_id: str, started: datetime, device_uids: Sequence[str],
                  jtis: Sequence[str], acked: Iterable[int] = ()) -> Snapshot:
    """``acked``: tickets the load acknowledged besides the run's own (the queues hold demo tickets too)."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
            q = lambda sql, **kw: conn.execute(sa.text(sql), kw).all()  # noqa: E731
            check_now = q("SELECT clock_timestamp()")[0][0]
            tickets: dict[str, list[int]] = defaultdict(list)
            ids: list[int] = []
            for tid, text in q("SELECT id, text FROM wf_tickets WHERE text LIKE :p ORDER BY id",
                               p=f"scale-out {run_id} %"):
                match = KEY_IN_TEXT.match(text)
                tickets[match.group(1) if match else f"?{tid}"].append(tid)
                ids.append(tid)
            acks: dict[int, list[datetime]] = defaultdict(list)
            ack_events: list[tuple[int, int]] = []
            escalations: dict[tuple[int, int], list[datetime]] = defaultdict(list)
            own = set(ids)
            for eid, tid, action, at, level in q(
                    "SELECT id, ticket_id, action, at, data ->> 'level' FROM wf_ticket_events "
                    "WHERE ticket_id = ANY(:ids) AND action IN ('acknowledge', 'escalate') ORDER BY id",
                    ids=sorted({*ids, *acked})):
                if action == "acknowledge":
                    acks[tid].append(at)
                    if tid in own:
                        ack_events.append((tid, eid))
                else:
                    escalations[(tid, int(level))].append(at)
            timers = [(int(s), level, due, state) for s, level, due, state in q(
                "SELECT subject_id, level, due_at, state FROM timers WHERE subject_type = 'wf_ticket' "
                "AND kind = 'workflow.response' AND subject_id = ANY(:sids)", sids=[str(i) for i in ids])]
            by_level = Counter({int(level): n for level, n in q(
                "SELECT data ->> 'level', count(*) FROM wf_ticket_events WHERE action = 'escalate' AND at >= :t "
                "GROUP BY 1", t=started)})
            failed = [tuple(r) for r in q(
                "SELECT kind, state, last_error FROM timers WHERE state = 'failed' OR last_error IS NOT NULL")]
            due_pending = q("SELECT count(*) FROM timers WHERE state = 'pending' AND due_at <= :now",
                            now=check_now)[0][0]
            outbox = [tuple(r) for r in q(
                "SELECT o.id, o.event_key, o.channel, o.state, t.state, t.due_at FROM notify_outbox o "
                "LEFT JOIN timers t ON t.subject_type = 'outbox' AND t.subject_id = o.id::text "
                "AND t.kind = 'notify.deliver' ORDER BY o.id")]
            outbox_timers = Counter(oid for oid, *_ in outbox if _[3] is not None)
            sms = Counter({oid: n for oid, n in q(
                "SELECT outbox_id, count(*) FROM sms_messages WHERE outbox_id IS NOT NULL GROUP BY 1")})
            backlog = Counter({ch: n for ch, n in q(
                "SELECT channel, count(*) FROM notify_outbox WHERE state = 'pending' GROUP BY 1")})
            used = {r[0] for r in q("SELECT jti FROM qr_used_jti WHERE jti = ANY(:j)", j=list(jtis))}
            scans = Counter({res: n for res, n in q(
                "SELECT s.result, count(*) FROM qr_scans s JOIN devices d ON d.id = s.scanner_id "
                "WHERE s.scanner_kind = 'device' AND s.token_kind = 'personal' AND d.uid = ANY(:u) GROUP BY 1",
                u=list(device_uids))})
    finally:
        engine.dispose()
    return Snapshot(check_now, dict(tickets), dict(acks), ack_events, dict(escalations), timers, by_level, failed,
                    due_pending, outbox, outbox_timers, sms, backlog, used, scans)


def count_due(database_url: str) -> int:
    """Pending timers whose time has come (what the workers still have to do)."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT count(*) FROM timers WHERE state = 'pending' AND due_at <= clock_timestamp()")).scalar_one()
    finally:
        engine.dispose()


def database_now(database_url: str) -> datetime:
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
    finally:
        engine.dispose()


# ---------------------------------------------------------------- checks from the database

def ticket_checks(ledger: Ledger, db: Snapshot) -> list[Check]:
    answered = {k: r for k, r in ledger.keys.items() if r.ticket_id is not None}
    missing = [k for k in answered if len(db.tickets.get(k, [])) == 0]
    wrong = [k for k, r in answered.items() if db.tickets.get(k) and db.tickets[k][0] != r.ticket_id]
    duplicates = {k: ids for k, ids in db.tickets.items() if len(ids) > 1}
    strangers = [k for k in db.tickets if k not in ledger.keys]
    # What the clients saw: every 201 of a key names the same ticket, and only one is not a replay.
    split = [k for k, r in answered.items() if len({t for _i, s, t, _r, _c in r.answers if s == 201}) > 1]
    fresh_twice = [k for k, r in answered.items() if sum(1 for _i, s, _t, rp, _c in r.answers
                                                         if s == 201 and not rp) > 1]
    other = [r for r in answered.values() if len({i for i, s, *_ in r.answers if s == 201}) > 1]
    replayed = sum(1 for r in answered.values() for _i, s, _t, rp, _c in r.answers if s == 201 and rp)
    unsettled = [k for k, r in ledger.keys.items() if r.ticket_id is None]
    filed_unseen = [k for k in unsettled if db.tickets.get(k)]
    in_progress = sum(1 for r in ledger.keys.values() for *_x, c in r.answers if c == "idempotency_in_progress")
    ok = not (missing or wrong or duplicates or strangers or split or fresh_twice)
    detail = (f"{_n(len(answered))} keys answered 201 → {_n(sum(len(db.tickets.get(k, [])) for k in answered))} "
              f"tickets; {_n(len(other))} keys answered 201 by both instances "
              f"({_n(ledger.retried_other)} retried on the other, {_n(ledger.double_taps)} sent to both at once), "
              f"{_n(replayed)} replays (Idempotent-Replayed), {_n(in_progress)} × 409 idempotency_in_progress; "
              f"duplicates {len(duplicates)}, missing {len(missing)}, other id {len(wrong)}, "
              f"a second fresh 201 {len(fresh_twice)}")
    if unsettled:
        detail += (f"; {len(unsettled)} key(s) never answered 201 (their request died with the killed worker), "
                   f"{len(filed_unseen)} of them filed")
    if not ok:
        detail += "; e.g. " + _some([*duplicates.items(), *missing, *wrong, *strangers, *split, *fresh_twice])
    checks = [Check("tickets: every 201 is one ticket, a retried key never a second", ok, detail)]
    checks.append(Check("tickets: a key never answered made at most one ticket",
                        all(len(db.tickets.get(k, [])) <= 1 for k in unsettled),
                        f"{len(unsettled)} unanswered key(s), tickets: "
                        f"{Counter(len(db.tickets.get(k, [])) for k in unsettled) or '–'}"))
    return checks


def ack_checks(ledger: Ledger, db: Snapshot) -> list[Check]:
    ok_acks = Counter(tid for _i, tid, status, _c in ledger.acks if status == 200)
    twice_client = [t for t, n in ok_acks.items() if n > 1]
    twice_db = [t for t, ats in db.acks.items() if len(ats) > 1]
    unrecorded = [t for t in ok_acks if not db.acks.get(t)]
    lost_answers = sum(1 for _i, _t, status, _c in ledger.acks if status == 0)
    unseen = [t for t in db.acks if t not in ok_acks]
    refused = sum(1 for _i, _t, status, code in ledger.acks if code == "invalid_transition")
    ok = not (twice_client or twice_db or unrecorded) and len(unseen) <= lost_answers
    return [Check("acknowledgements: each ticket acknowledged once across both instances", ok,
                  f"{_n(len(ledger.acks))} acknowledge requests: {_n(sum(ok_acks.values()))} × 200, {_n(refused)} × "
                  f"409 invalid_transition (the other got there first), {lost_answers} without an answer; "
                  f"{_n(len(db.acks))} tickets acknowledged in the database; twice (200s) {len(twice_client)}, "
                  f"twice (events) {len(twice_db)}, 200 without an event {len(unrecorded)}, acknowledged without "
                  f"a 200 seen {len(unseen)} (≤ answers lost)"
                  + (f"; e.g. {_some(twice_client + twice_db + unrecorded)}" if not ok else ""))]


def escalation_checks(ledger: Ledger, db: Snapshot) -> list[Check]:
    twice = {k: v for k, v in db.escalations.items() if len(v) > 1}
    overdue_pending, fired_silent, early, after_ack, cancelled_bad = [], [], [], [], []
    for tid, level, due, state in db.response_timers:
        esc = db.escalations.get((tid, level), [])
        acked = min(db.acks.get(tid, []), default=None)
        if state == "pending" and due <= db.check_now:
            overdue_pending.append((tid, level))
        if state == "fired" and len(esc) != 1:
            fired_silent.append((tid, level))
        if esc and esc[0] < due:
            early.append((tid, level))
        if esc and acked is not None and acked < due:
            after_ack.append((tid, level))
        if state == "cancelled" and (esc or acked is None):
            cancelled_bad.append((tid, level))
    ok = not (twice or overdue_pending or fired_silent or early or after_ack or cancelled_bad)
    levels = Counter(level for (_t, level), v in db.escalations.items() if v)
    due_now = sum(1 for *_x, due, _s in db.response_timers if due <= db.check_now)
    detail = (f"{_n(len(db.response_timers))} response timers of the run's tickets, {due_now} due by the check: "
              f"escalations level 1 {levels[1]}, level 2 {levels[2]}; twice {len(twice)}, due but still pending "
              f"{len(overdue_pending)}, fired without exactly one escalation {len(fired_silent)}, before the due "
              f"time {len(early)}, of a ticket acknowledged before the due time {len(after_ack)}, cancelled wrongly "
              f"{len(cancelled_bad)}")
    if not ok:
        detail += "; e.g. " + _some([*twice, *overdue_pending, *fired_silent, *early, *after_ack, *cancelled_bad])
    checks = [Check("escalations: each due level exactly once, none after an acknowledgement in time", ok, detail)]
    # The SLA plan's tickets: what each must show.
    want = {"at_once": set(), "after_level_1": {1}, "never": {1, 2}}
    wrong = []
    for group in PLAN:
        for tid in ledger.sla_tickets[group]:
            got = {level for (t, level), v in db.escalations.items() if t == tid and v}
            if got != want[group]:
                wrong.append(f"{tid} ({group}: levels {sorted(got)})")
    sizes = ", ".join(f"{g.replace('_', ' ')} {len(ledger.sla_tickets[g])}" for g in PLAN)
    planned = sum(len(v) for v in ledger.sla_tickets.values())
    checks.append(Check("escalations: the 1-minute SLA tickets escalated as planned",
                        not wrong and planned > 0,
                        f"{planned} tickets (acknowledged {sizes}): none / level 1 / levels 1 and 2 as expected"
                        + (f"; wrong: {_some(wrong)}" if wrong else "")
                        + "".join(f"; {note}" for note in ledger.sla_notes)))
    return checks


def code_checks(ledger: Ledger, db: Snapshot, device_uids: Sequence[str]) -> list[Check]:
    accepted = [c for c in ledger.codes if any(s == 200 for _i, s, _c in c.answers)]
    twice = [c.jti for c in ledger.codes if sum(1 for _i, s, _c in c.answers if s == 200) > 1]
    both = [c for c in ledger.codes if c.both]
    both_split = [c for c in both if sorted(s for _i, s, _c in c.answers) == [200, 409]]
    not_consumed = [c.jti for c in accepted if c.jti not in db.used_jti]
    lost = sum(1 for c in ledger.codes for _i, s, _c in c.answers if s == 0)
    scans_ok = db.scans.get("accepted", 0)
    # Each consumption is one accepted scan; the clients saw each of them, but for answers lost.
    ok = (not twice and not not_consumed and scans_ok == len(db.used_jti)
          and len(accepted) <= len(db.used_jti) <= len(accepted) + lost)
    return [Check("personal codes: each accepted at most once across both instances", ok,
                  f"{_n(len(ledger.codes))} codes issued, {_n(len(accepted))} accepted, {_n(len(both))} presented "
                  f"to both instances at once ({_n(len(both_split))} → one 200 and one 409 qr_replayed); "
                  f"accepted twice {len(twice)}; qr_used_jti {_n(len(db.used_jti))}, accepted scans (qr_scans) "
                  f"{_n(scans_ok)}, qr_replayed scans {_n(db.scans.get('qr_replayed', 0))}, other results "
                  f"{dict((k, v) for k, v in db.scans.items() if k not in ('accepted', 'qr_replayed')) or 0}; "
                  f"accepted but not consumed {len(not_consumed)}, answers lost {lost}"
                  + (f"; e.g. {_some(twice + not_consumed)}" if not ok else ""))]


def outbox_checks(db: Snapshot) -> list[Check]:
    states = Counter(state for _id, _k, _ch, state, _ts, _due in db.outbox)
    no_timer = [oid for oid, *_ in db.outbox if db.outbox_timers[oid] == 0]
    pending_bad = [oid for oid, _k, _ch, state, ts, due in db.outbox
                   if state == "pending" and (ts != "pending" or due is None or due <= db.check_now)]
    done_bad = [oid for oid, _k, _ch, state, ts, _due in db.outbox if state != "pending" and ts != "fired"]
    sms_twice = [oid for oid, n in db.sms_per_outbox.items() if n > 1]
    sms_sent = {oid for oid, _k, ch, state, *_ in db.outbox if ch == "sms" and state == "sent"}
    sms_missing = [oid for oid in sms_sent if db.sms_per_outbox[oid] == 0]
    ok = not (no_timer or pending_bad or done_bad or sms_twice or sms_missing)
    return [Check("outbox: every notification delivered, or pending with a retry time", ok,
                  f"{_n(len(db.outbox))} rows ({', '.join(f'{s} {_n(n)}' for s, n in sorted(states.items()))}); "
                  f"without a delivery timer {len(no_timer)}, pending without a future retry {len(pending_bad)}, "
                  f"done but timer not fired {len(done_bad)}; SMS recorded twice {len(sms_twice)}, sent without a "
                  f"record {len(sms_missing)}"
                  + (f"; e.g. {_some(no_timer + pending_bad + done_bad + sms_twice + sms_missing)}" if not ok else ""))]


def told_checks(db: Snapshot) -> list[Check]:
    """The events of the run that tell someone have their outbox rows (none lost at enqueue)."""
    keys = {key for _id, key, *_ in db.outbox}
    created = [tid for ids in db.tickets.values() for tid in ids if f"wf:{tid}:created" not in keys]
    escalated = [(tid, level) for (tid, level), v in db.escalations.items()
                 if v and f"wf:{tid}:esc:0:{level}" not in keys]
    acked = [(tid, eid) for tid, eid in db.ack_events if f"wf:{tid}:ev:{eid}" not in keys]
    ok = not (created or escalated or acked)
    n_tickets = sum(len(v) for v in db.tickets.values())
    n_esc = sum(1 for v in db.escalations.values() if v)
    return [Check("outbox: every new ticket, acknowledgement and escalation told someone", ok,
                  f"{_n(n_tickets)} tickets, {_n(len(db.ack_events))} acknowledgements, {n_esc} escalations of the "
                  f"run's tickets; without their notification: {len(created)}, {len(acked)}, {len(escalated)}"
                  + (f"; e.g. {_some(created + escalated + acked)}" if not ok else ""))]


def timer_checks(db: Snapshot) -> list[Check]:
    kinds = Counter(f"{kind} {state}" for kind, state, _e in db.failed_timers)
    return [
        Check("timers: nothing due left undone after the drain", db.due_pending == 0,
              f"{db.due_pending} pending timer(s) due at {db.check_now:%H:%M:%S}"),
        Check("timers: no handler failed", not db.failed_timers,
              f"{len(db.failed_timers)} timer(s) failed or retried after an error"
              + (f": {dict(kinds)}; {_some(e for *_x, e in db.failed_timers)}" if db.failed_timers else "")),
    ]


def server_error_checks(tally: Tally) -> list[Check]:
    fives = {(inst, status): n for (_ph, inst, _k, status), n in tally.counts.items() if status >= 500}
    total = sum(n for (*_x, status), n in tally.counts.items() if status)
    return [Check("no 5xx (clients)", not fives,
                  f"{_n(total)} answers, 5xx: {sum(fives.values())}"
                  + (f" {dict(fives)}; {_some(tally.unexpected)}" if fives else ""))]


def unexpected_checks(tally: Tally) -> list[Check]:
    return [Check("no unexpected answers (clients)", tally.unexpected_count == 0,
                  f"{tally.unexpected_count} answers other than the expected ones"
                  + (f": {_some(tally.unexpected)}" if tally.unexpected_count else ""))]


# ---------------------------------------------------------------- /metrics

@dataclass(frozen=True)
class Scrape:
    samples: list[tuple[str, dict[str, str], float]]

    @classmethod
    def parse(cls, text: str) -> Scrape:
        return cls([(s.name, dict(s.labels), s.value) for fam in text_string_to_metric_families(text)
                    for s in fam.samples])

    def total(self, name: str, **labels: str) -> float:
        return sum(v for n, lab, v in self.samples if n == name and all(lab.get(k) == x for k, x in labels.items()))

    def requests_by_status(self) -> Counter[int]:
        out: Counter[int] = Counter()
        for name, labels, value in self.samples:
            if name == "jinshan_http_requests_total" and labels.get("route") != "/metrics":
                out[int(labels["status"])] += int(value)
        return out

    def by_label(self, name: str, label: str) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for n, labels, value in self.samples:
            if n == name:
                out[labels.get(label, "")] += value
        return dict(out)


def metrics_checks(before: Mapping[str, Scrape], after: Mapping[str, Scrape], tally: Tally, db: Snapshot,
                   due_after: int) -> list[Check]:
    checks = []
    lines, ok = [], True
    for name in sorted(after):
        metric = after[name].requests_by_status() - before[name].requests_by_status()
        client = tally.by_status(name)
        lost = sum(tally.by_status(name, answered=False).values())
        # An answer the client lost (its worker was killed) may have been counted before the kill.
        extra = sum((metric - client).values())
        short = client - metric
        same = not short and extra <= lost
        ok = ok and same
        lines.append(f"{name}: {_n(sum(metric.values()))} counted vs {_n(sum(client.values()))} answered "
                     f"({', '.join(f'{s} {_n(n)}' for s, n in sorted(metric.items()))})"
                     + (f", {extra} more than answered (≤ {lost} without an answer)" if extra else "")
                     + (f", MISSING {dict(short)}" if short else ""))
    checks.append(Check("/metrics: requests by status match what the clients got", ok, "; ".join(lines)))
    fives = {name: sum(n for s, n in (after[name].requests_by_status()).items() if s >= 500) for name in after}
    checks.append(Check("/metrics: no 5xx", not any(fives.values()),
                        ", ".join(f"{name} {n}" for name, n in sorted(fives.items()))))
    due = {name: after[name].total("jinshan_timers_due") for name in after}
    checks.append(Check("/metrics: jinshan_timers_due equals the database", all(v == due_after for v in due.values()),
                        ", ".join(f"{name} {_n(v)}" for name, v in sorted(due.items())) + f"; database {due_after}"))
    backlog = {name: after[name].by_label("jinshan_outbox_backlog", "channel") for name in after}
    want = {ch: float(n) for ch, n in db.outbox_pending_by_channel.items() if n}
    checks.append(Check("/metrics: jinshan_outbox_backlog equals the database",
                        all({k: v for k, v in b.items() if v} == want for b in backlog.values()),
                        "; ".join(f"{name} {dict(b) or 0}" for name, b in sorted(backlog.items()))
                        + f"; database {want or 0}"))
    # Totals: the metrics directories are as new as the processes counting into them.
    breaches: Counter[int] = Counter()
    for name in after:
        for level in (1, 2):
            breaches[level] += int(after[name].total("jinshan_sla_breaches_total", kind=f"response_level_{level}"))
    want_levels = Counter({lv: db.escalations_by_level[lv] for lv in (1, 2)})
    checks.append(Check("/metrics: jinshan_sla_breaches_total equals the escalations in the database",
                        +breaches == +want_levels,
                        f"metrics (both instances, the workers counting into A's) level 1 {breaches[1]}, level 2 "
                        f"{breaches[2]}; database level 1 {want_levels[1]}, level 2 {want_levels[2]}"))
    return checks
