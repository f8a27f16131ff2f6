"""``python -m bench.scale_out``: two instances, two workers, one PostgreSQL, nothing lost.

1. Creates a fresh database on the PostgreSQL server ``DATABASE_URL`` names (default
   ``postgresql://postgres@127.0.0.1:5432/postgres``, as ``make bench``: ``bench.run``), migrates
   and seeds it (``alembic upgrade head``, ``flask qr init-keys``, ``flask seed demo``), gives the
   category 电梯 of property-repair a 1-minute response target (``flask sla set-policy``) and
   creates two sentinel devices (``flask devices create``): the same commands, run in this
   process (``prepare``). The database is dropped (``WITH (FORCE)``) at the end.
2. Starts instances A and B (gunicorn, 2 workers each, ``APP_ENV=development``, a
   ``METRICS_TOKEN``, a ``PROMETHEUS_MULTIPROC_DIR`` of each instance's own) and two
   ``flask --app wsgi worker`` processes. The workers count into A's directory: a deployment
   gives each machine one directory shared by its gunicorn and its worker (as ``make run``'s
   supervisor does), and here A plays the machine that also runs the workers, so A's
   ``/metrics`` carries their counters (``jinshan_sla_breaches_total``) and B's none.
3. Logs in the six demo residents and the three demo managers, scrapes both ``/metrics``.
4. Phase "single" (``--single`` s): the whole load against A alone.
5. Phase "scale" (``--duration`` s): the same load split over A and B (see ``bench/scale_load.py``:
   residents filing tickets with ``Idempotency-Key`` and retrying some on the other instance,
   managers acknowledging from their queues on both, devices verifying single-use codes, some
   on both at once) and the SLA plan's tickets. Half-way it SIGKILLs one gunicorn worker of B
   and worker 1, and starts worker 3.
6. Settles: keys left without an answer are retried (with ``--wait-stale``, until the app takes
   the claim the killed worker left over, ``app.idempotency.STALE_AFTER``), the SLA plan is
   waited for (level 2 comes due two minutes after filing unless ``--fast-forward``), and the
   workers drain everything due.
7. Checks (``bench/scale_checks.py``) the ledger of the load against the database and both
   ``/metrics``, prints each as PASS/FAIL with its numbers and requests/s per instance, and
   exits 1 when a check fails (2 when the run itself could not be carried out).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.endpoints import SERVER_SETTINGS
from bench.run import (
    BIN,
    ROOT,
    BenchError,
    _die_with_parent,
    bench_database,
    gunicorn,
    machine,
)
from bench.scale_checks import (
    Check,
    Scrape,
    ack_checks,
    code_checks,
    count_due,
    database_now,
    escalation_checks,
    metrics_checks,
    outbox_checks,
    read_database,
    server_error_checks,
    ticket_checks,
    timer_checks,
    told_checks,
    unexpected_checks,
)
from bench.scale_load import (
    SLA_CATEGORY,
    Actors,
    Instance,
    Load,
    SlaDriver,
    filer,
    scanner,
    staff,
)

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
RESIDENTS = 6  # demo-resident-1 … 6 (verified residences, two per demo company)
OPERATOR = "310116-venue-01"  # a demo venue operator: its sentinels admit personal codes


@dataclass(frozen=True)
class Config:
    duration: float = 60.0  # the two-instance phase
    single: float = 15.0  # the one-instance phase before it
    filers: int = 6
    scanners: int = 4
    staff_per_manager: int = 2  # each demo manager on this many threads (on A and B in turn)
    sla_tickets: int = 6
    fast_forward: bool = False
    wait_stale: bool = True
    kill: bool = True
    drain: float = 90.0
    workers_per_instance: int = 2
    log_level: str = "INFO"

    @classmethod
    def from_args(cls, argv: list[str] | None = None) -> Config:
        p = argparse.ArgumentParser(prog="python -m bench.scale_out", description=__doc__.split("\n")[0])
        p.add_argument("--duration", type=float, default=cls.duration, help="seconds of the two-instance phase")
        p.add_argument("--single", type=float, default=cls.single, help="seconds of the one-instance phase")
        p.add_argument("--filers", type=int, default=cls.filers, help="resident threads filing tickets")
        p.add_argument("--scanners", type=int, default=cls.scanners, help="threads issuing and verifying codes")
        p.add_argument("--sla-tickets", type=int, default=cls.sla_tickets,
                       help=f"tickets of {SLA_CATEGORY} under the 1-minute SLA (a multiple of 3)")
        p.add_argument("--fast-forward", action="store_true",
                       help="move the SLA tickets' clock instead of waiting two real minutes for level 2")
        p.add_argument("--no-wait-stale", dest="wait_stale", action="store_false",
                       help="do not wait for the app to take over claims a killed worker left")
        p.add_argument("--no-kill", dest="kill", action="store_false", help="kill nothing half-way")
        p.add_argument("--drain", type=float, default=cls.drain, help="longest wait for the workers to drain")
        a = p.parse_args(argv)
        if a.duration < 2 or a.single < 0 or a.sla_tickets < 3 or a.filers < 1 or a.scanners < 1:
            p.error("need --duration ≥ 2, --single ≥ 0, --sla-tickets ≥ 3, at least one filer and one scanner")
        return cls(duration=a.duration, single=a.single, filers=a.filers, scanners=a.scanners,
                   sla_tickets=a.sla_tickets, fast_forward=a.fast_forward, wait_stale=a.wait_stale, kill=a.kill,
                   drain=a.drain, log_level=os.environ.get("BENCH_LOG_LEVEL", "INFO"))


@dataclass
class Result:
    checks: list[Check] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # the printed summary
    facts: dict[str, int] = field(default_factory=dict)  # what the load did (the test asserts it did it)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


# ---------------------------------------------------------------- processes

@dataclass
class Worker:
    name: str
    process: subprocess.Popen
    log: Path


class Cluster:
    """Instances (gunicorn) and workers (``flask worker``) on one database; all stopped on exit."""

    def __init__(self, env: Mapping[str, str], folder: Path, stack: contextlib.ExitStack, workers: int) -> None:
        self.env = dict(env)
        self.folder = folder
        self.stack = stack
        self.gunicorn_workers = workers
        self.instances: list[Instance] = []
        self.masters: dict[str, int] = {}
        self.logs: dict[str, Path] = {}
        self.metric_dirs: dict[str, Path] = {}
        self.workers: list[Worker] = []
        stack.callback(self._stop_workers)

    def start_instance(self, name: str) -> Instance:
        metrics = self.metric_dirs.setdefault(name, self.folder / f"metrics-{name}")
        metrics.mkdir(exist_ok=True)
        server = self.stack.enter_context(gunicorn({**self.env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)},
                                                   self.gunicorn_workers))
        instance = Instance(name, server.base_url)
        self.instances.append(instance)
        self.masters[name] = server.process.pid
        self.logs[name] = server.log
        return instance

    def start_worker(self, metrics_of: str) -> Worker:
        name = f"worker {len(self.workers) + 1}"
        log = self.folder / f"worker-{len(self.workers) + 1}.log"
        env = {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(self.metric_dirs[metrics_of])}
        with log.open("wb") as out:
            process = subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                                       stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True, preexec_fn=_die_with_parent)
        worker = Worker(name, process, log)
        self.workers.append(worker)
        return worker

    def wait_workers_ready(self, timeout: float = 60.0) -> None:
        """Until each live worker logged "worker started" (its app is built and its loop runs)."""
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            while worker.process.poll() is None and b"worker started" not in worker.log.read_bytes():
                if time.monotonic() > deadline:
                    raise BenchError(f"{worker.name} did not start:\n{tail(worker.log)}")
                time.sleep(0.1)
            if worker.process.poll() is not None and worker.process.returncode != -signal.SIGKILL:
                raise BenchError(f"{worker.name} exited with {worker.process.returncode}:\n{tail(worker.log)}")

    def gunicorn_children(self, name: str) -> list[int]:
        master = self.masters[name]
        try:
            return [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
        except OSError:
            return []

    def kill_gunicorn_worker(self, name: str) -> tuple[int, int | None, float]:
        """SIGKILL one worker of ``name``'s gunicorn; returns (its pid, its replacement's, seconds to respawn)."""
        before = self.gunicorn_children(name)
        if not before:
            raise BenchError(f"instance {name} has no gunicorn workers to kill")
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        started = time.monotonic()
        while time.monotonic() - started < 30:
            now = self.gunicorn_children(name)
            fresh = [p for p in now if p not in before]
            if fresh and len(now) >= len(before):
                return victim, fresh[0], time.monotonic() - started
            time.sleep(0.05)
        return victim, None, time.monotonic() - started

    def _stop_workers(self) -> None:
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()

    def stop_all(self) -> None:
        """SIGTERM every master and worker at once, then wait (one after the other takes seconds
        each); what is left is stopped (and killed if need be) as the context unwinds."""
        for pid in self.masters.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        self._stop_workers()
        deadline = time.monotonic() + 15
        while any(Path(f"/proc/{pid}").exists() and not _zombie(pid) for pid in self.masters.values()):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)

    def error_lines(self) -> dict[str, int]:
        """ERROR lines (JSON ``"level": "ERROR"``) each process logged."""
        out = {}
        for name, log in [*((f"instance {n}", p) for n, p in self.logs.items()),
                          *((w.name, w.log) for w in self.workers)]:
            with contextlib.suppress(OSError):
                out[name] = sum(1 for line in log.read_text(errors="replace").splitlines()
                                if '"level": "ERROR"' in line)
        return out


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ---------------------------------------------------------------- setup over HTTP

def log_in(load: Load, instance: Instance, managers: list[tuple[str, str]]) -> None:
    from app.demo import DEMO_PASSWORD

    for n in range(1, RESIDENTS + 1):
        got = load.call(instance, "POST", "/api/v1/auth/dev/login", kind="login",
                        body={"openid": f"demo-resident-{n}"})
        if got.status != 200:
            raise BenchError(f"dev login of demo-resident-{n} failed: {got.status} {got.body}")
        load.actors.residents.append(got.body["access_token"])
    for username, code in managers:
        got = load.call(instance, "POST", "/api/v1/auth/staff/login", kind="login",
                        body={"username": username, "password": DEMO_PASSWORD})
        if got.status != 200:
            raise BenchError(f"staff login of {username} failed: {got.status} {got.body}")
        load.actors.managers[code] = got.body["access_token"]


def demo_managers(database_url: str) -> list[tuple[str, str]]:
    """(user name, company code) of each demo company's manager."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT a.username, o.code FROM accounts a JOIN memberships m ON m.account_id = a.id "
                "JOIN organisations o ON o.id = m.organisation_id WHERE a.username LIKE 'demo-%-manager' "
                "AND o.type = 'property_company' ORDER BY o.code")).all()
    finally:
        engine.dispose()
    if not rows:
        raise BenchError("no demo managers: did `flask seed demo` run?")
    return [(u, c) for u, c in rows]


def prepare(env: Mapping[str, str]) -> list[tuple[str, str]]:
    """Migrate, seed and configure the fresh database, in this process (one app built, where
    ``make bench`` starts a process per command): ``alembic upgrade head``, then through the
    app's own CLI ``flask qr init-keys``, ``flask seed demo``, the 1-minute response target of
    ``SLA_CATEGORY`` (``flask sla set-policy``; before the instances start, so none has another
    policy cached) and two sentinels of a demo venue operator (``flask devices create``).
    Returns the devices' (id, secret)."""
    from alembic import command

    from app import create_app
    from app.config import load_settings
    from app.migrations_state import alembic_config

    migrations = alembic_config(env["DATABASE_URL"])
    migrations.attributes["skip_logging"] = True  # keep this process's logging as it is
    command.upgrade(migrations, "head")
    app = create_app(load_settings({**env, "LOG_LEVEL": "WARNING"}))
    try:
        runner = app.test_cli_runner()
        commands = [["qr", "init-keys"], ["seed", "demo"],
                    ["sla", "set-policy", "--scenario", "property-repair", "--category", SLA_CATEGORY,
                     "--response-minutes", "1"],
                    *(["devices", "create", "--org", OPERATOR, "--kind", "sentinel", "--name", f"scale-out {n}"]
                      for n in (1, 2))]
        devices = []
        for args in commands:
            done = runner.invoke(args=args)
            if done.exit_code != 0:
                raise BenchError(f"flask {' '.join(args[:2])} failed: {done.output}{done.exception or ''}")
            if args[0] == "devices":
                out = json.loads(done.output.strip().splitlines()[-1])
                devices.append((out["device_id"], out["secret"]))
        return devices
    finally:
        app.extensions["db"].dispose()


def scrape(load: Load, instance: Instance, token: str) -> Scrape:
    got = load.call(instance, "GET", "/metrics", kind="metrics", headers={"Authorization": f"Bearer {token}"},
                    text=True)
    if got.status != 200:
        raise BenchError(f"/metrics of {instance.name} answered {got.status}")
    return Scrape.parse(got.body if isinstance(got.body, str) else "")


# ---------------------------------------------------------------- the run

def start_actors(load: Load, cfg: Config) -> None:
    for n in range(cfg.filers):
        load.start(filer, n, name=f"filer-{n}")
    for n in range(cfg.scanners):
        load.start(scanner, n, name=f"scanner-{n}")
    for n in range(len(load.actors.managers) * cfg.staff_per_manager):
        load.start(staff, n, name=f"staff-{n}")


def run_phase(load: Load, cfg: Config, name: str, seconds: float, instances: list[Instance],
              midway: Callable[[], None] | None = None) -> tuple[float, float]:
    """The load against ``instances`` for ``seconds``; ``midway`` runs half-way. Returns the
    seconds it lasted and the CPU seconds this process (the load generator) spent meanwhile."""
    load.instances = instances
    load.tally.phase = name
    load.stop.clear()
    started, cpu = time.monotonic(), time.process_time()
    start_actors(load, cfg)
    if midway is not None:
        time.sleep(seconds / 2)
        midway()
    time.sleep(max(0.0, seconds - (time.monotonic() - started)))
    load.stop.set()
    ended, cpu = time.monotonic(), time.process_time() - cpu
    load.tally.phase = f"after {name}"  # what the actors finish now is not the phase's
    load.join(timeout=60)
    return ended - started, cpu


def resolve_keys(load: Load, cfg: Config, say: Callable[[str], None]) -> None:
    """Keys without a definitive answer are retried, alternating instances: with ``wait_stale``
    until the app takes the claim a killed worker left over (``STALE_AFTER`` after the claim)."""
    from app.idempotency import STALE_AFTER

    open_keys = [r for r in load.ledger.keys.values() if not r.settled]
    if not open_keys:
        return
    wait = STALE_AFTER.total_seconds() + 15 if cfg.wait_stale else 5.0
    say(f"{len(open_keys)} key(s) without an answer yet; retrying them"
        + (f" until the app takes over their claims ({STALE_AFTER.total_seconds():.0f} s after them)"
           if cfg.wait_stale else ""))
    for rec in open_keys:
        load.settle_key(rec, load.all_instances[0], until=rec.first_sent + wait)


def drain(database_url: str, seconds: float) -> tuple[bool, float]:
    """Until nothing is due twice in a row (the workers caught up). Returns (drained, seconds waited)."""
    started = time.monotonic()
    quiet = 0
    while time.monotonic() - started < seconds:
        quiet = quiet + 1 if count_due(database_url) == 0 else 0
        if quiet >= 2:
            return True, time.monotonic() - started
        time.sleep(0.5)
    return False, time.monotonic() - started


def throughput(load: Load, seconds: Mapping[str, float], cpu: Mapping[str, float]) -> list[Check]:
    t = load.tally
    single = t.total(phase="single", instance="A") / seconds["single"] if seconds.get("single") else 0.0
    per = {i.name: t.total(phase="scale", instance=i.name) / seconds["scale"] for i in load.all_instances}
    total = sum(per.values())
    lost = t.unanswered_by_kind("scale")
    detail = (f"two instances {total:,.1f} req/s ({', '.join(f'{n} {v:,.1f}' for n, v in per.items())}; "
              f"{seconds['scale']:.0f} s, without an answer: {dict(lost) or 0})")
    if single:
        detail += f"; A alone {single:,.1f} req/s ({seconds['single']:.0f} s) → ×{total / single:.2f}"
    detail += "; the load generator's CPU " + ", ".join(f"{name} {cpu[name] / seconds[name]:.0%} of a core"
                                                       for name in seconds)
    return [Check("throughput (answered requests per second)", True, detail, info=True)]


def run(cfg: Config, server_url: str, say: Callable[[str], None] | None = None) -> Result:
    """The whole run; ``say`` prints progress (``scale-out: …``). Raises ``BenchError`` when the
    run itself cannot be carried out."""
    say = say or (lambda text: print(f"scale-out: {text}", flush=True))
    if not server_url.startswith("postgres"):
        raise BenchError("needs PostgreSQL (DATABASE_URL=postgresql://…): on SQLite one worker holds the lease")
    result = Result()
    host = machine()  # before our own load
    metrics_token = secrets.token_urlsafe(16)
    run_id = secrets.token_hex(3)
    with contextlib.ExitStack() as stack:
        database = stack.enter_context(bench_database({"DATABASE_URL": server_url}))
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="jinshan-scale-")))
        env = {**os.environ, "APP_ENV": "development", "LOG_LEVEL": cfg.log_level, "DATABASE_URL": database.url,
               "METRICS_TOKEN": metrics_token, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               **SERVER_SETTINGS}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        # Rate-limit counters in each process's memory: a shared Redis would carry counts from one
        # run to the next (staff logins are limited per user name and hour).
        env.pop("REDIS_URL", None)
        say(f"{database.kind}: migrating and seeding")
        devices = prepare(env)
        cluster = Cluster(env, folder, stack, cfg.workers_per_instance)
        cluster.metric_dirs["A"] = folder / "metrics-A"
        cluster.metric_dirs["A"].mkdir()
        started_at = database_now(database.url)  # escalations from here on are the workers'
        cluster.start_worker(metrics_of="A")  # they start while gunicorn does
        cluster.start_worker(metrics_of="A")
        a, b = cluster.start_instance("A"), cluster.start_instance("B")
        stack.callback(cluster.stop_all)
        cluster.wait_workers_ready()
        say(f"instances A {a.base_url} and B {b.base_url} ({cfg.workers_per_instance} gunicorn workers each), "
            f"workers 1 and 2 (pids {', '.join(str(w.process.pid) for w in cluster.workers)})")
        actors = Actors(residents=[], managers={},
                        devices=[basic(uid, secret) for uid, secret in devices])
        load = Load([a, b], actors, run_id=run_id)
        log_in(load, a, demo_managers(database.url))
        before = {i.name: scrape(load, i, metrics_token) for i in (a, b)}
        seconds: dict[str, float] = {}
        cpu: dict[str, float] = {}
        if cfg.single:
            say(f"phase single: the load against A alone for {cfg.single:.0f} s")
            seconds["single"], cpu["single"] = run_phase(load, cfg, "single", cfg.single, [a])
        sla = SlaDriver(load, database.url, count=cfg.sla_tickets, fast_forward=cfg.fast_forward)
        kills: list[str] = []

        def midway() -> None:
            if not cfg.kill:
                return
            victim, fresh, respawn = cluster.kill_gunicorn_worker("B")
            worker = cluster.workers[0]
            worker.process.kill()
            worker.process.wait()
            replacement = cluster.start_worker(metrics_of="A")
            kills.append(f"SIGKILLed gunicorn worker {victim} of B (respawned as {fresh} in {respawn:.1f} s) and "
                         f"{worker.name} (pid {worker.process.pid}); started {replacement.name} "
                         f"(pid {replacement.process.pid})")
            say(kills[-1])

        say(f"phase scale: the load against A and B for {cfg.duration:.0f} s, {cfg.sla_tickets} tickets under the "
            f"1-minute SLA" + (" (fast-forwarded)" if cfg.fast_forward else "") + ", kill half-way")
        load.start(sla.run, name="sla", joined=False)
        seconds["scale"], cpu["scale"] = run_phase(load, cfg, "scale", cfg.duration, [a, b], midway)
        resolve_keys(load, cfg, say)
        if not sla.done.is_set():
            say("waiting for the SLA plan (level 2 comes due two minutes after filing)")
        sla.done.wait(sla.timeout)
        load.join(timeout=5)
        drained, waited = drain(database.url, cfg.drain)
        say(f"workers {'drained' if drained else 'did NOT drain'} what was due in {waited:.1f} s")
        cluster.wait_workers_ready()  # the replacement is up (not killed since)
        say("reading /metrics and the database")
        after = {i.name: scrape(load, i, metrics_token) for i in (a, b)}
        due_after = count_due(database.url)
        jtis = [c.jti for c in load.ledger.codes]
        snap = read_database(database.url, run_id, started_at, [uid for uid, _s in devices], jtis,
                             acked={tid for _i, tid, _s, _c in load.ledger.acks})
        result.checks += [
            *ticket_checks(load.ledger, snap),
            *ack_checks(load.ledger, snap),
            *escalation_checks(load.ledger, snap),
            *code_checks(load.ledger, snap, [uid for uid, _s in devices]),
            *outbox_checks(snap),
            *told_checks(snap),
            *timer_checks(snap),
            *server_error_checks(load.tally),
            *unexpected_checks(load.tally),
            *metrics_checks(before, after, load.tally, snap, due_after),
            *throughput(load, seconds, cpu),
        ]
        if sla.error:
            result.checks.append(Check("SLA plan carried out", False, sla.error))
        ledger = load.ledger
        result.facts = {
            "tickets": sum(len(v) for v in snap.tickets.values()),
            "retried_other": ledger.retried_other, "double_taps": ledger.double_taps,
            "replayed": sum(1 for r in ledger.keys.values() for a in r.answers if a[1] == 201 and a[3]),
            "acks": sum(1 for a in ledger.acks if a[2] == 200),
            "ack_races": sum(1 for a in ledger.acks if a[3] == "invalid_transition"),
            "codes_accepted": len(snap.used_jti), "codes_both": sum(1 for c in ledger.codes if c.both),
            "escalations_1": sum(1 for (_t, lv), v in snap.escalations.items() if lv == 1 and v),
            "escalations_2": sum(1 for (_t, lv), v in snap.escalations.items() if lv == 2 and v),
            "outbox_sent": sum(1 for row in snap.outbox if row[3] == "sent"),
            "kills": len(kills),
        }
        errors = cluster.error_lines()
        result.lines = [
            f"run {run_id}: {database.kind}; instances A and B, gunicorn {cfg.workers_per_instance} workers each, "
            f"2 flask workers (counting into A's metrics); load: {cfg.filers} filers, {cfg.scanners} scanners, "
            f"{len(actors.managers) * cfg.staff_per_manager} staff threads",
            f"machine: {host}",
            *kills,
            *(c.line() for c in result.checks),
            f"ERROR log lines: {', '.join(f'{k} {v}' for k, v in errors.items())}",
            f"{'PASS' if result.ok else 'FAIL'}: {sum(c.ok for c in result.checks if not c.info)} of "
            f"{sum(1 for c in result.checks if not c.info)} checks passed",
        ]
        say("stopping the instances and the workers")
    return result


def basic(uid: str, secret: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{uid}:{secret}".encode()).decode()


def _raise_interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    cfg = Config.from_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        result = run(cfg, os.environ.get("DATABASE_URL") or DEFAULT_SERVER)
    except BenchError as exc:
        print(f"scale-out: could not run: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scale-out: interrupted; processes stopped, database dropped", file=sys.stderr)
        return 130
    print()
    for line in result.lines:
        print(line)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
