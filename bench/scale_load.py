"""The load of ``python -m bench.scale_out``: residents, staff and scanners over real HTTP.

Every request goes through ``Load.call`` (``http.client``, one connection per request as
gunicorn's sync workers answer ``Connection: close``), which counts it per phase, instance,
request kind and status (``Tally``); what the checks need afterwards is kept in a ``Ledger``:

- each ``Idempotency-Key`` a resident used, with the body and every answer it got on which
  instance (``KeyRecord``);
- each staff acknowledgement and its answer;
- each personal code, its ``jti`` and every verification answer (``CodeRecord``).

Actors are threads in a closed loop (a request, its answer, the next request), so the load is
bounded by their number:

- ``filer``: a demo resident files a property-repair ticket (``水电``) with a fresh key; a share
  of them is sent again with the same key and body to the *other* instance (a retry after a
  lost answer), a smaller share to both instances at once (a double tap); a request without an
  answer (a killed gunicorn worker) is retried on the other instance, a 409
  ``idempotency_in_progress`` a little later;
- ``staff``: each demo manager on each instance reads its queue (submitted ``水电`` tickets) and
  acknowledges some of them on either instance, so the two instances race for the same tickets;
- ``scanner``: a resident gets a personal code from one instance and a device verifies it on
  the other; a share of the codes is presented to both instances at once;
- ``SlaDriver`` (one thread): files tickets of the category given a 1-minute response policy
  and acknowledges them on a plan: at once (no escalation may follow), after level 1 (level 1
  only), never (levels 1 and 2). With ``fast_forward`` it moves those tickets' clock instead
  of waiting real minutes (``advance_tickets``).
"""
from __future__ import annotations

import base64
import http.client
import itertools
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote, urlsplit

import sqlalchemy as sa

TICKETS = "/api/v1/property-repair/tickets"
LOAD_CATEGORY = "水电"
SLA_CATEGORY = "电梯"  # given a 1-minute response target for the run; only the SLA driver files it
REQUEST_TIMEOUT = 30.0
UNEXPECTED_KEPT = 50


@dataclass(frozen=True)
class Instance:
    name: str
    base_url: str

    @property
    def host_port(self) -> tuple[str, int]:
        parts = urlsplit(self.base_url)
        return parts.hostname or "127.0.0.1", parts.port or 80


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no answer (connection reset or refused, time-out)
    body: Any
    headers: dict[str, str]
    error: str = ""

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None

    @property
    def replayed(self) -> bool:
        return self.headers.get("idempotent-replayed") == "true"


class Tally:
    """Requests per (phase, instance, kind, status); status 0 = no answer. Thread-safe."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str, int]] = Counter()
        self.phase = "setup"
        self.unexpected: list[str] = []
        self.unexpected_count = 0
        self._lock = threading.Lock()

    def add(self, instance: str, kind: str, status: int) -> None:
        with self._lock:
            self.counts[(self.phase, instance, kind, status)] += 1

    def flag(self, text: str) -> None:
        with self._lock:
            self.unexpected_count += 1
            if len(self.unexpected) < UNEXPECTED_KEPT:
                self.unexpected.append(text)

    def total(self, *, phase: str | None = None, instance: str | None = None, answered: bool = True,
              since_phases: Sequence[str] | None = None) -> int:
        with self._lock:
            items = list(self.counts.items())
        return sum(n for (ph, inst, _k, status), n in items
                   if (phase is None or ph == phase) and (since_phases is None or ph in since_phases)
                   and (instance is None or inst == instance) and ((status != 0) == answered))

    def unanswered_by_kind(self, phase: str) -> Counter[str]:
        with self._lock:
            return Counter({kind: n for (ph, _i, kind, status), n in self.counts.items() if ph == phase and not status})

    def by_status(self, instance: str, *, answered: bool = True) -> Counter[int]:
        """Requests of ``instance`` after the setup (``/metrics`` scrapes aside) by status
        (``answered=False``: those without an answer, under 0)."""
        out: Counter[int] = Counter()
        with self._lock:
            for (ph, inst, kind, status), n in self.counts.items():
                if inst == instance and ph != "setup" and kind != "metrics" and (status != 0) == answered:
                    out[status] += n
        return out


@dataclass
class KeyRecord:
    key: str
    resident: int  # index in ``Actors.residents``
    body: dict[str, Any]
    sla_group: str | None = None
    org_code: str | None = None  # the owning company (SLA tickets: whose manager acknowledges)
    answers: list[tuple[str, int, int | None, bool, str | None]] = field(default_factory=list)
    """(instance, status, ticket id, replayed, error code) of every attempt."""
    first_sent: float = 0.0

    @property
    def ticket_id(self) -> int | None:
        return next((tid for _i, status, tid, _r, _c in self.answers if status == 201 and tid is not None), None)

    @property
    def settled(self) -> bool:
        """A definitive answer arrived (a 201, first or replayed, or a refusal other than in-progress)."""
        return any(status not in (0, 409) or (status == 409 and code != "idempotency_in_progress")
                   for _i, status, _t, _r, code in self.answers)


@dataclass
class CodeRecord:
    jti: str
    issued_on: str
    answers: list[tuple[str, int, str | None]] = field(default_factory=list)  # (instance, status, code)
    both: bool = False


class Ledger:
    """What the load did, for the checks. Thread-safe appends."""

    def __init__(self) -> None:
        self.keys: dict[str, KeyRecord] = {}
        self.acks: list[tuple[str, int, int, str | None]] = []  # (instance, ticket id, status, code)
        self.codes: list[CodeRecord] = []
        self.retried_other = 0  # keys sent again to the other instance after a 201
        self.double_taps = 0  # keys sent to both instances at once
        self.sla_tickets: dict[str, list[int]] = {"at_once": [], "after_level_1": [], "never": []}
        self.sla_notes: list[str] = []
        self._lock = threading.Lock()

    def add_key(self, rec: KeyRecord) -> None:
        with self._lock:
            self.keys[rec.key] = rec

    def add_ack(self, instance: str, tid: int, answer: Answer) -> None:
        with self._lock:
            self.acks.append((instance, tid, answer.status, answer.code))

    def add_code(self, rec: CodeRecord) -> None:
        with self._lock:
            self.codes.append(rec)

    def count(self, what: str) -> None:
        """``retried_other`` or ``double_taps`` one more."""
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)


def jti_of(token: str) -> str:
    """The ``jti`` claim of a compact JWS (read, not verified: the server verified it)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]


@dataclass
class Actors:
    """Who acts: tokens obtained once at setup (they work on either instance)."""

    residents: list[str]  # bearer tokens
    managers: dict[str, str]  # company code → bearer token of demo-<code>-manager
    devices: list[str]  # "Basic …" headers


class Load:
    """The shared state of the actors: instances in play, the tally, the ledger, the stop flag."""

    def __init__(self, instances: Sequence[Instance], actors: Actors, *, run_id: str, seed: int = 11,
                 retry_share: float = 0.2, double_tap_share: float = 0.05, code_both_share: float = 0.25) -> None:
        self.all_instances = list(instances)
        self.instances = list(instances)
        self.actors = actors
        self.run_id = run_id
        self.tally = Tally()
        self.ledger = Ledger()
        self.stop = threading.Event()
        self.seed = seed
        self.retry_share = retry_share
        self.double_tap_share = double_tap_share
        self.code_both_share = code_both_share
        self._keys = itertools.count(1)
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------ HTTP

    def call(self, instance: Instance, method: str, path: str, *, kind: str, body: Any = None,
             headers: dict[str, str] | None = None, text: bool = False) -> Answer:
        """One request; ``text``: the body as text (else parsed JSON)."""
        host, port = instance.host_port
        sent = {"Accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            sent["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT)
        try:
            conn.request(method, path, body=data, headers=sent)
            resp = conn.getresponse()
            raw = resp.read()
            status, got = resp.status, {k.lower(): v for k, v in resp.getheaders()}
        except (OSError, http.client.HTTPException) as exc:
            self.tally.add(instance.name, kind, 0)
            return Answer(0, None, {}, f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()
        self.tally.add(instance.name, kind, status)
        try:
            parsed = raw.decode() if text else json.loads(raw) if raw else None
        except ValueError:
            parsed = raw[:200].decode(errors="replace")
        if status >= 500:
            self.tally.flag(f"{instance.name} {method} {path} → {status} {parsed!r:.200}")
        return Answer(status, parsed, got)

    def other(self, instance: Instance) -> Instance:
        """The other instance in play (the same one while only one is)."""
        i = self.instances.index(instance) if instance in self.instances else 0
        return self.instances[(i + 1) % len(self.instances)]

    def unexpected(self, what: str, instance: Instance, answer: Answer) -> None:
        said = answer.code or answer.error or repr(answer.body)[:160]
        self.tally.flag(f"{what} on {instance.name}: {answer.status} {said}")

    # ------------------------------------------------------------ threads

    def start(self, target: Callable[..., None], *args: Any, name: str, joined: bool = True) -> threading.Thread:
        """Run ``target(self, *args)`` in a thread (``joined``: one ``join`` waits for)."""
        thread = threading.Thread(target=self._guard, args=(target, *args), name=name, daemon=True)
        if joined:
            self._threads.append(thread)
        thread.start()
        return thread

    def _guard(self, target: Callable[..., None], *args: Any) -> None:
        try:
            target(self, *args)
        except Exception as exc:  # an actor's own bug must show, not hang the run
            self.tally.flag(f"actor {threading.current_thread().name} crashed: {type(exc).__name__}: {exc}")

    def join(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]

    # ------------------------------------------------------------ filing

    def new_key(self, resident: int, category: str = LOAD_CATEGORY, sla_group: str | None = None) -> KeyRecord:
        key = f"so-{self.run_id}-{next(self._keys):07d}"
        body = {"category": category, "text": f"scale-out {self.run_id} {key}：压测报修，厨房水龙头漏水"}
        rec = KeyRecord(key, resident, body, sla_group, first_sent=time.monotonic())
        self.ledger.add_key(rec)
        return rec

    def send_key(self, rec: KeyRecord, instance: Instance) -> Answer:
        token = self.actors.residents[rec.resident]
        answer = self.call(instance, "POST", TICKETS, kind="file", body=rec.body,
                           headers={"Authorization": f"Bearer {token}", "Idempotency-Key": rec.key})
        tid = answer.body.get("id") if answer.status == 201 and isinstance(answer.body, dict) else None
        with self.ledger._lock:
            rec.answers.append((instance.name, answer.status, tid, answer.replayed, answer.code))
        if answer.status not in (0, 201) and answer.code != "idempotency_in_progress":
            self.unexpected(f"filing {rec.key}", instance, answer)
        return answer

    def settle_key(self, rec: KeyRecord, last: Instance, *, until: float) -> None:
        """Retry ``rec`` (same key, same body) until a definitive answer or ``until`` (monotonic):
        no answer → at once on the other instance; in progress → a little later."""
        instance = last
        pause = 0.05
        while not rec.settled and time.monotonic() < until:
            if not rec.answers or rec.answers[-1][1] == 0:
                instance = self.other(instance)
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
            self.send_key(rec, instance)


def filer(load: Load, n: int) -> None:
    rng = random.Random(load.seed * 1000 + n)
    residents = len(load.actors.residents)
    while not load.stop.is_set():
        home = load.instances[n % len(load.instances)]
        rec = load.new_key(rng.randrange(residents))
        roll = rng.random()
        if len(load.instances) > 1 and roll < load.double_tap_share:
            load.ledger.count("double_taps")
            both(partial(load.send_key, rec, home), partial(load.send_key, rec, load.other(home)))
            last = home
        else:
            answer = load.send_key(rec, home)
            last = home
            if answer.status == 201 and roll < load.double_tap_share + load.retry_share:
                last = load.other(home)  # the same one while only one is in play
                if last is not home:
                    load.ledger.count("retried_other")
                load.send_key(rec, last)
        # Unsettled after this (a claim a killed worker left behind): retried at the end of the run.
        load.settle_key(rec, last, until=time.monotonic() + 10.0)


def both(first: Callable[[], Any], second: Callable[[], Any]) -> None:
    """Run two calls at the same moment (the second in a thread of its own)."""
    thread = threading.Thread(target=second, daemon=True)
    thread.start()
    first()
    thread.join(REQUEST_TIMEOUT + 5)


# ---------------------------------------------------------------- staff

def staff(load: Load, n: int) -> None:
    rng = random.Random(load.seed * 2000 + n)
    codes = sorted(load.actors.managers)
    company = codes[n % len(codes)]
    token = load.actors.managers[company]
    auth = {"Authorization": f"Bearer {token}"}
    home = load.instances[(n // len(codes)) % len(load.instances)]
    while not load.stop.is_set():
        page = load.call(home, "GET", f"/api/v1/property-repair/queue?status=submitted&category={quote(LOAD_CATEGORY)}"
                         "&page_size=10", kind="queue", headers=auth)
        if page.status != 200:
            if page.status:
                load.unexpected("queue", home, page)
            time.sleep(0.1)
            continue
        items = [item["id"] for item in page.body["items"]]
        if not items:
            time.sleep(0.2)
            continue
        for tid in rng.sample(items, min(3, len(items))):
            target = home if rng.random() < 0.5 else load.other(home)
            acknowledge(load, target, tid, auth)
        time.sleep(0.05)


def acknowledge(load: Load, instance: Instance, tid: int, auth: dict[str, str]) -> Answer:
    """One acknowledgement; without an answer, once more on the other instance."""
    answer = load.call(instance, "POST", f"{TICKETS}/{tid}/acknowledge", kind="ack", headers=auth)
    load.ledger.add_ack(instance.name, tid, answer)
    if answer.status == 0:
        instance = load.other(instance)
        answer = load.call(instance, "POST", f"{TICKETS}/{tid}/acknowledge", kind="ack", headers=auth)
        load.ledger.add_ack(instance.name, tid, answer)
    if answer.status not in (0, 200) and answer.code != "invalid_transition":
        load.unexpected(f"acknowledging {tid}", instance, answer)
    return answer


# ---------------------------------------------------------------- scanners

def scanner(load: Load, n: int) -> None:
    rng = random.Random(load.seed * 3000 + n)
    residents, devices = load.actors.residents, load.actors.devices
    while not load.stop.is_set():
        issuer = load.instances[n % len(load.instances)]
        resident = rng.randrange(len(residents))
        got = load.call(issuer, "POST", "/api/v1/qr/personal", kind="qr_issue",
                        headers={"Authorization": f"Bearer {residents[resident]}"})
        if got.status != 200:
            if got.status:
                load.unexpected("personal code", issuer, got)
            time.sleep(0.05)
            continue
        token = got.body["token"]
        rec = CodeRecord(jti_of(token), issuer.name,
                         both=len(load.instances) > 1 and rng.random() < load.code_both_share)
        load.ledger.add_code(rec)
        device = {"Authorization": devices[n % len(devices)]}
        verifier = load.other(issuer)
        if rec.both:
            both(partial(verify, load, rec, issuer, token, device), partial(verify, load, rec, verifier, token, device))
        else:
            answer = verify(load, rec, verifier, token, device)
            if answer.status == 0:  # no answer: the scanner tries the other instance
                verify(load, rec, load.other(verifier), token, device)


def verify(load: Load, rec: CodeRecord, instance: Instance, token: str, device: dict[str, str]) -> Answer:
    answer = load.call(instance, "POST", "/api/v1/qr/verify", kind="qr_verify", body={"token": token},
                       headers=device)
    with load.ledger._lock:
        rec.answers.append((instance.name, answer.status, answer.code))
    if answer.status not in (0, 200) and answer.code != "qr_replayed":
        load.unexpected("verify", instance, answer)
    return answer


# ---------------------------------------------------------------- the SLA plan

PLAN = ("at_once", "after_level_1", "never")


class SlaDriver:
    """Files ``count`` tickets of ``SLA_CATEGORY`` (1-minute response target) and acknowledges
    them on the plan (``PLAN``, round robin); waits for the escalations the plan expects.

    ``fast_forward``: instead of waiting for the real minutes, move the tickets' times (their
    ``created_at`` and due times, and their pending timers) back so that the next level comes
    due ``lead`` seconds later, as if they had been filed that much earlier (``advance_tickets``).
    Acknowledged tickets are never moved: their acknowledgement stays before their due time.
    """

    def __init__(self, load: Load, database_url: str, *, count: int, fast_forward: bool,
                 response_minutes: int = 1, lead: float = 2.0, timeout: float = 240.0) -> None:
        self.load = load
        self.database_url = database_url
        self.count = count
        self.fast_forward = fast_forward
        self.target = timedelta(minutes=response_minutes)
        self.lead = lead
        self.timeout = timeout
        self.done = threading.Event()
        self.error: str | None = None
        self._tickets: dict[int, tuple[str, KeyRecord]] = {}

    def run(self, load: Load) -> None:
        try:
            self._run()
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.done.set()

    def _auth(self, tid: int) -> dict[str, str]:
        company = self._tickets[tid][1].org_code or ""
        return {"Authorization": f"Bearer {self.load.actors.managers[company]}"}

    def _run(self) -> None:
        load = self.load
        deadline = time.monotonic() + self.timeout
        for i in range(self.count):
            group = PLAN[i % len(PLAN)]
            rec = load.new_key(i % len(load.actors.residents), SLA_CATEGORY, group)
            instance = load.all_instances[i % len(load.all_instances)]
            answer = load.send_key(rec, instance)
            load.settle_key(rec, instance, until=time.monotonic() + 30)
            if rec.ticket_id is None:
                raise RuntimeError(f"SLA ticket {rec.key} was not filed: {rec.answers}")
            rec.org_code = answer.body["org"]["code"] if answer.status == 201 else self._org_of(rec.ticket_id)
            self._tickets[rec.ticket_id] = (group, rec)
            load.ledger.sla_tickets[group].append(rec.ticket_id)
            if group == "at_once":
                self._ack(rec.ticket_id, i)
        late = load.ledger.sla_tickets["after_level_1"]
        never = load.ledger.sla_tickets["never"]
        self._bring_due(late + never, level=1)
        self._wait_level(late + never, 1, deadline)
        for i, tid in enumerate(late):
            self._ack(tid, i)
        self._bring_due(never, level=2)
        self._wait_level(never, 2, deadline)

    def _org_of(self, tid: int) -> str:
        engine = sa.create_engine(self.database_url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                return conn.execute(sa.text("SELECT o.code FROM wf_tickets t JOIN organisations o ON o.id = t.org_id "
                                            "WHERE t.id = :id"), {"id": tid}).scalar_one()
        finally:
            engine.dispose()

    def _ack(self, tid: int, i: int) -> None:
        instance = self.load.all_instances[i % len(self.load.all_instances)]
        answer = acknowledge(self.load, instance, tid, self._auth(tid))
        if answer.status != 200:
            self.load.ledger.sla_notes.append(f"acknowledging SLA ticket {tid}: {answer.status} {answer.code}")

    def _bring_due(self, tids: list[int], *, level: int) -> None:
        if not self.fast_forward or not tids:
            return
        moved = advance_tickets(self.database_url, tids, level=level, lead=self.lead)
        self.load.ledger.sla_notes.append(
            f"fast-forward: {len(tids)} ticket(s) moved back {', '.join(f'{s:.0f}' for s in moved)} s "
            f"so level {level} came due {self.lead:.0f} s later")

    def _wait_level(self, tids: list[int], level: int, deadline: float) -> None:
        """Poll each ticket as its manager would (``GET``) until it shows ``level``."""
        waiting = set(tids)
        i = 0
        while waiting and time.monotonic() < deadline:
            for tid in sorted(waiting):
                instance = self.load.all_instances[i % len(self.load.all_instances)]
                i += 1
                got = self.load.call(instance, "GET", f"{TICKETS}/{tid}", kind="sla_poll", headers=self._auth(tid))
                if got.status == 200 and got.body["escalation_level"] >= level:
                    waiting.discard(tid)
            if waiting:
                time.sleep(0.5)
        if waiting:
            raise RuntimeError(f"tickets {sorted(waiting)} did not reach escalation level {level} in time")


def advance_tickets(database_url: str, tids: list[int], *, level: int, lead: float) -> list[float]:
    """Move the response clock of still-unanswered tickets back so that ``level`` comes due
    ``lead`` seconds from now: their times (filed, due) and their pending timers, by the same
    amount per ticket, in one transaction. Locks the timers, then the tickets (the order every
    change of a ticket takes), so it cannot deadlock with an acknowledgement or an escalation.
    Returns the seconds each ticket moved."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    moved: list[float] = []
    try:
        with engine.begin() as conn:
            now: datetime = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
            sids = [str(t) for t in tids]
            levels: dict[str, dict[int, datetime]] = {}
            for subject, level_, due_at in conn.execute(sa.text(
                    "SELECT subject_id, level, due_at FROM timers WHERE subject_type = 'wf_ticket' "
                    "AND subject_id = ANY(:sids) AND kind = 'workflow.response' AND state = 'pending' "
                    "ORDER BY id FOR UPDATE"), {"sids": sids}):
                levels.setdefault(subject, {})[level_] = due_at
            conn.execute(sa.text("SELECT id FROM wf_tickets WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"),
                         {"ids": tids})
            for tid in tids:
                target = levels.get(str(tid), {}).get(level)
                if target is None:
                    continue  # answered meanwhile, or that level already fired
                shift = max(0.0, (target - now).total_seconds() - lead)
                if not shift:
                    continue
                delta = timedelta(seconds=shift)
                conn.execute(sa.text(
                    "UPDATE wf_tickets SET created_at = created_at - :d, response_due_at = response_due_at - :d, "
                    "due_at = due_at - :d, resolution_due_at = resolution_due_at - :d "
                    "WHERE id = :id AND status IN ('submitted', 'reopened')"), {"d": delta, "id": tid})
                conn.execute(sa.text("UPDATE wf_ticket_events SET at = at - :d WHERE ticket_id = :id "
                                     "AND action = 'create'"), {"d": delta, "id": tid})
                conn.execute(sa.text(
                    "UPDATE timers SET due_at = due_at - :d WHERE subject_type = 'wf_ticket' AND subject_id = :sid "
                    "AND kind = 'workflow.response' AND state = 'pending'"), {"d": delta, "sid": str(tid)})
                moved.append(shift)
    finally:
        engine.dispose()
    return moved
