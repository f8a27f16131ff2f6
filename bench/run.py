"""``make bench``: load-test the endpoints of bench/endpoints.py with wrk against gunicorn.

The database is a fresh one on the PostgreSQL server DATABASE_URL names (created for the run,
dropped WITH (FORCE) after it), else a temporary SQLite file; it is migrated and seeded with
the demo data. Each round measures every endpoint, /healthz included; the report gives the
median over the rounds of requests/s, p50, p99 and of the ratio to /healthz's requests/s in
the same round. The table is printed and appended to bench/RESULTS.md.

Environment: BENCH_DURATION (seconds per endpoint per round, default 5), BENCH_ROUNDS (3),
BENCH_WARMUP (seconds per endpoint before the first round, 1), BENCH_THREADS (2),
BENCH_CONNECTIONS (16), BENCH_ONLY (comma-separated parts of endpoint names),
BENCH_RESULTS (the results file; ``-`` to not write one), BENCH_LOG_LEVEL (INFO), BENCH_APP (the
WSGI app gunicorn serves, ``wsgi:app``; ``tests.support.telemetry_wsgi:app`` adds the telemetry engine's test scenario).
"""
from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.cpu import CpuMeter
from bench.endpoints import (
    BASELINE_PATH,
    ENDPOINTS,
    REFERENCE_HEALTHZ,
    SERVER_SETTINGS,
    BenchContext,
    Endpoint,
    Prepared,
)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_RESULTS = ROOT / "bench" / "RESULTS.md"
LOG_LEVEL = os.environ.get("BENCH_LOG_LEVEL", "INFO")
"""The app runs as deployed: one JSON request-log line per request (``BENCH_LOG_LEVEL=WARNING``
compares with runs made before the reference app, which ran without it)."""


class BenchError(RuntimeError):
    """The benchmark cannot go on (a step failed); the message says which and why."""


@dataclass(frozen=True)
class Config:
    duration: int = 5
    rounds: int = 3
    warmup: int = 1
    threads: int = 2
    connections: int = 16
    only: tuple[str, ...] = ()
    results: Path | None = DEFAULT_RESULTS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        def number(name: str, default: int, least: int) -> int:
            raw = env.get(name, "").strip()
            try:
                value = int(raw) if raw else default
            except ValueError:
                raise BenchError(f"{name} must be a whole number, not {raw!r}") from None
            if value < least:
                raise BenchError(f"{name} must be at least {least}")
            return value

        results_raw = env.get("BENCH_RESULTS", "").strip()
        results = None if results_raw == "-" else Path(results_raw) if results_raw else DEFAULT_RESULTS
        only = tuple(p.strip() for p in env.get("BENCH_ONLY", "").split(",") if p.strip())
        return cls(
            duration=number("BENCH_DURATION", 5, 1),
            rounds=number("BENCH_ROUNDS", 3, 1),
            warmup=number("BENCH_WARMUP", 1, 0),
            threads=number("BENCH_THREADS", 2, 1),
            connections=number("BENCH_CONNECTIONS", 16, 1),
            only=only,
            results=results,
        )


# ---------------------------------------------------------------- wrk and its output

@dataclass(frozen=True)
class Measurement:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int = 0
    socket_errors: int = 0
    app_cpu_ms: float | None = None  # gunicorn's CPU (master and workers) per request
    db_cpu_ms: float | None = None  # PostgreSQL's processes' CPU per request (None on SQLite)


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _to_ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def parse_wrk(output: str) -> Measurement:
    """Read requests/s, p50, p99 and the error counts from ``wrk --latency`` output."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.M)
    total = re.search(r"^\s+(\d+) requests in ", output, re.M)
    if not (rps and p50 and p99 and total):
        raise BenchError(f"unexpected wrk output (was --latency given?):\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return Measurement(
        rps=float(rps.group(1)),
        p50_ms=_to_ms(*p50.groups()),
        p99_ms=_to_ms(*p99.groups()),
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in sock.groups()) if sock else 0,
    )


def ensure_wrk() -> str:
    """wrk's path, installing it with apt-get when missing (``apt-get update`` on failure)."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = ["apt-get", "install", "-y", "-q", "wrk"]
    if os.geteuid() != 0 and shutil.which("sudo"):
        apt = ["sudo", *apt]
    print("bench: wrk is missing; installing it with apt-get", flush=True)
    if subprocess.run(apt, check=False).returncode != 0:
        update = [*apt[: apt.index("install")], "update", "-q"]
        subprocess.run(update, check=False)
        subprocess.run(apt, check=False)
    found = shutil.which("wrk")
    if not found:
        raise BenchError("wrk is not installed and `apt-get install -y wrk` failed; install it by hand")
    return found


def wrk_version(wrk: str) -> str:
    out = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    match = re.search(r"wrk (\S+)", out.stdout + out.stderr)
    return match.group(1) if match else "?"


# ---------------------------------------------------------------- database

@dataclass
class BenchDatabase:
    url: str
    kind: str


def _server_kind(database_url: str) -> str:
    return "postgresql" if database_url.startswith("postgres") else "sqlite"


@contextlib.contextmanager
def bench_database(env: Mapping[str, str]) -> Iterator[BenchDatabase]:
    """A fresh database for this run, removed afterwards whatever happens."""
    server = env.get("DATABASE_URL", "")
    if _server_kind(server) == "postgresql":
        yield from _postgres_database(server)
        return
    folder = Path(tempfile.mkdtemp(prefix="jinshan-bench-"))
    try:
        yield BenchDatabase(f"sqlite:///{folder / 'bench.db'}", f"SQLite {sqlite3.sqlite_version} (temporary file)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def database_name(url: str) -> str | None:
    """The database a URL names (its PostgreSQL backends' process titles carry it)."""
    import sqlalchemy as sa

    return sa.make_url(url).database


def _postgres_database(server: str) -> Iterator[BenchDatabase]:
    import sqlalchemy as sa

    from app.db import normalise_url

    name = f"jinshan_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(normalise_url(server), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        print(f"bench: created database {name}", flush=True)
        url = sa.make_url(normalise_url(server)).set(database=name).render_as_string(hide_password=False)
        try:
            yield BenchDatabase(url, f"PostgreSQL {version} (database {name}, dropped after the run)")
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            print(f"bench: dropped database {name}", flush=True)
    finally:
        admin.dispose()


def analyze(database_url: str) -> None:
    """``VACUUM ANALYZE`` the whole database (SQLite: ``ANALYZE``) once the set-ups have loaded it,
    as autovacuum would leave a database in service. The shared server here runs with
    ``autovacuum = off``: without this, tables bulk-loaded after the migration keep the statistics
    of their empty selves and the planner picks plans for a few rows (the phone lookup of hotline
    filing and parcel registration walked all 6,400 resident accounts: 18 ms per request)."""
    import sqlalchemy as sa

    from app.db import normalise_url

    engine = sa.create_engine(normalise_url(database_url), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
    finally:
        engine.dispose()


def _run_step(what: str, cmd: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(list(cmd), cwd=ROOT, env=dict(env), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"{what} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return done


def prepare_database(env: Mapping[str, str]) -> list[str]:
    """Migrate and seed; returns warnings (a failed seed is reported, not fatal)."""
    _run_step("alembic upgrade head", [str(BIN / "alembic"), "upgrade", "head"], env)
    _run_step("flask qr init-keys", [str(BIN / "flask"), "--app", "wsgi", "qr", "init-keys"], env)
    try:
        _run_step("flask seed demo", [str(BIN / "flask"), "--app", "wsgi", "seed", "demo"], env)
    except BenchError as exc:
        last = [line for line in str(exc).splitlines() if line.strip()][-1]
        print(f"bench: WARNING: `flask seed demo` failed, measuring without demo data: {last}", flush=True)
        return [f"`flask --app wsgi seed demo` failed, so no demo data: `{last.strip()}`"]
    return []


# ---------------------------------------------------------------- gunicorn

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """Runs in the child: SIGKILL of the bench must not leave gunicorn behind."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    log: Path
    workers: int

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextlib.contextmanager
def gunicorn(env: Mapping[str, str], workers: int, app: str = "wsgi:app") -> Iterator[Server]:
    """Gunicorn in its own process group; stopped (and its group killed) on the way out."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="jinshan-bench-gunicorn-", suffix=".log")[1])
    cmd = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
           "--log-level", "warning", "--no-control-socket", app]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent)
    server = Server(proc, f"http://127.0.0.1:{port}", log, workers)
    try:
        wait_healthy(server)
        yield server
    finally:
        stop(proc)
        log.unlink(missing_ok=True)


def wait_healthy(server: Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(f"gunicorn exited with {server.process.returncode}:\n{server.log_tail()}")
        with contextlib.suppress(OSError):
            if http_status(server.base_url + BASELINE_PATH, {}) == 200:
                return
        time.sleep(0.1)
    raise BenchError(f"gunicorn did not answer {BASELINE_PATH} within {timeout:.0f} s:\n{server.log_tail()}")


def stop(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the master, wait, then SIGKILL whatever is left in its process group."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            print("bench: gunicorn did not stop in time; killing it", file=sys.stderr, flush=True)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # workers a dead master left behind, if any
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def http_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 (our own http URL)
        return resp.read().decode()


def http_status(url: str, headers: Mapping[str, str]) -> int:
    request = urllib.request.Request(url, headers=dict(headers))  # noqa: S310 (our own http URL)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


# ---------------------------------------------------------------- rounds

@dataclass
class Target:
    endpoint: Endpoint
    headers: Mapping[str, str]
    script: Path | None
    skipped: str | None = None  # why it is not measured
    base_url: str = ""
    rounds: list[Measurement] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # to our /healthz
    ref_ratios: list[float] = field(default_factory=list)  # to the reference /healthz
    own_ref_ratios: list[float] = field(default_factory=list)  # to the reference endpoint it names
    before_run: Callable[[int], None] | None = None  # the setup's Prepared.before_run


def prepare_targets(endpoints: Sequence[Endpoint], ctx: BenchContext, folder: Path,
                    base_urls: Mapping[str, str] | None = None) -> list[Target]:
    """``ctx`` is the app's (setups log in there); each target is measured at its server's URL."""
    base_urls = base_urls or {"app": ctx.base_url}
    targets = []
    for i, ep in enumerate(endpoints):
        base_url = base_urls.get(ep.server)
        if base_url is None:
            targets.append(Target(ep, {}, None, f"no {ep.server} server", ""))
            continue
        headers, lua, skipped, before_run = dict(ep.headers), ep.lua, None, None
        if ep.setup is not None:
            try:
                prepared = ep.setup(ctx) or Prepared()
                headers.update(prepared.headers)
                lua, before_run = prepared.lua or lua, prepared.before_run
            except Exception as exc:  # reported in the table; the other endpoints go on
                skipped = f"setup failed: {type(exc).__name__}: {exc}"
        script = None
        if lua:
            script = folder / f"endpoint{i}.lua"
            script.write_text(lua, encoding="utf-8")
        elif not skipped and ep.method.upper() != "GET":
            skipped = f"{ep.method} needs a lua script (bench.endpoints.json_post_lua)"
        if not skipped and ep.method.upper() == "GET" and not lua:
            try:
                status = http_status(base_url + ep.path, headers)
            except OSError as exc:
                status, skipped = 0, f"unreachable: {exc}"
            if status and not 200 <= status < 400:
                skipped = f"HTTP {status}"
        targets.append(Target(ep, headers, script, skipped, base_url, before_run=before_run))
    return targets


def connections_for(cfg: Config, ep: Endpoint, workers: int) -> int:
    if ep.connections is None:
        return cfg.connections
    return ep.connections or workers


def run_wrk(wrk: str, cfg: Config, url: str, target: Target, seconds: int, workers: int = 1,
            meter: CpuMeter | None = None) -> Measurement:
    conns = connections_for(cfg, target.endpoint, workers)
    threads = min(cfg.threads, conns)  # wrk wants at least one connection per thread
    cmd = [wrk, f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency"]
    if target.script:
        cmd += ["-s", str(target.script)]
    for name, value in target.headers.items():
        cmd += ["-H", f"{name}: {value}"]
    if target.before_run is not None:
        target.before_run(seconds)
    if meter is not None:
        meter.start()
    done = subprocess.run([*cmd, url], capture_output=True, text=True, check=False, timeout=seconds + 60)
    if done.returncode != 0:
        raise BenchError(f"wrk failed (exit {done.returncode}): {done.stderr or done.stdout}")
    m = parse_wrk(done.stdout)
    if meter is not None:
        app_ms, db_ms = meter.stop(m.requests)
        m = dataclasses.replace(m, app_cpu_ms=app_ms, db_cpu_ms=db_ms)
    return m


def _find(targets: Sequence[Target], server: str, path: str) -> Target | None:
    return next((t for t in targets if t.endpoint.server == server and t.endpoint.path == path), None)


def measure(wrk: str, cfg: Config, targets: list[Target], workers: int = 1,
            meters: Mapping[str, CpuMeter] | None = None) -> None:
    meters = meters or {}
    live = [t for t in targets if not t.skipped]
    if cfg.warmup:
        print(f"bench: warming up ({cfg.warmup} s per endpoint)", flush=True)
        for t in live:
            run_wrk(wrk, cfg, t.base_url + t.endpoint.path, t, cfg.warmup, workers)
    baseline = _find(targets, "app", BASELINE_PATH)
    reference = _find(live, "reference", REFERENCE_HEALTHZ)
    for n in range(1, cfg.rounds + 1):
        print(f"bench: round {n}/{cfg.rounds}", flush=True)
        for t in live:
            m = run_wrk(wrk, cfg, t.base_url + t.endpoint.path, t, cfg.duration, workers,
                        meters.get(t.endpoint.server))
            t.rounds.append(m)
            print(f"  {t.endpoint.name:<36} {m.rps:>10.1f} req/s  p50 {m.p50_ms:7.2f} ms  "
                  f"p99 {m.p99_ms:7.2f} ms  CPU ms/req {cpu_text([m])}"
                  + (f"  non-2xx {m.non_2xx}" if m.non_2xx else ""), flush=True)
        base_rps = baseline.rounds[-1].rps
        ref_rps = reference.rounds[-1].rps if reference is not None else 0.0
        for t in live:
            t.ratios.append(t.rounds[-1].rps / base_rps if base_rps else 0.0)
            if ref_rps:
                t.ref_ratios.append(t.rounds[-1].rps / ref_rps)
            own = _find(live, "reference", t.endpoint.reference) if t.endpoint.reference else None
            if own is not None and own.rounds and own.rounds[-1].rps:
                t.own_ref_ratios.append(t.rounds[-1].rps / own.rounds[-1].rps)


# ---------------------------------------------------------------- the report

def _fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def has_target(ep: Endpoint) -> bool:
    return ep.target_ratio is not None or ep.target_p50_ms is not None or ep.target_ref is not None


def target_text(ep: Endpoint) -> str:
    parts = []
    if ep.target_ref is not None:
        parts.append(f"≥ {ep.target_ref:g} of ref {ep.reference or REFERENCE_HEALTHZ}")
    if ep.target_ratio is not None:
        parts.append(f"≥ {ep.target_ratio:g} of /healthz")
    if ep.target_p50_ms is not None:
        parts.append(f"p50 < {ep.target_p50_ms:g} ms")
    return ", ".join(parts)


def ref_ratios_for_target(t: Target) -> list[float]:
    """The ratios ``target_ref`` is judged on: to the named reference endpoint, else to ref /healthz."""
    return t.own_ref_ratios if t.endpoint.reference else t.ref_ratios


def verdict(t: Target) -> str:
    ep = t.endpoint
    if not has_target(ep):
        return ""
    if t.skipped or not t.ratios:
        return "not measured"
    errors = sum(m.non_2xx + m.socket_errors for m in t.rounds)
    if errors:
        return "NO (errors)"
    ok = ep.target_ratio is None or statistics.median(t.ratios) >= ep.target_ratio
    ok = ok and (ep.target_p50_ms is None or statistics.median(m.p50_ms for m in t.rounds) < ep.target_p50_ms)
    if ep.target_ref is not None:
        judged = ref_ratios_for_target(t)
        ok = ok and bool(judged) and statistics.median(judged) >= ep.target_ref
    return "yes" if ok else "NO"


def cpu_text(rounds: Sequence[Measurement]) -> str:
    """Median CPU milliseconds per request of gunicorn and of PostgreSQL (``app + db``)."""
    app = [m.app_cpu_ms for m in rounds if m.app_cpu_ms is not None]
    if not app:
        return "–"
    db = [m.db_cpu_ms for m in rounds if m.db_cpu_ms is not None]
    text = f"{statistics.median(app):.2f}"
    return text + (f" + {statistics.median(db):.2f}" if db else "")


def _median_text(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "–"


def render_table(targets: Sequence[Target]) -> str:
    head = ("| endpoint | request | req/s (median) | p50 ms | p99 ms | ratio to /healthz | ratio to ref /healthz "
            "| ratio to its ref | target | met | CPU ms/req app + db | req/s per round | notes |")
    rows = [head, "|" + "---|" * 13]
    for t in targets:
        ep = t.endpoint
        target = target_text(ep)
        request = f"`{ep.method} {ep.path}`" + (" (reference app)" if ep.server == "reference" else "")
        if t.skipped or not t.rounds:
            rows.append(f"| {ep.name} | {request} | – | – | – | – | – | – | {target} | {verdict(t)} | – | – "
                        f"| not measured: {t.skipped or 'no rounds'} |")
            continue
        notes = []
        non_2xx = sum(m.non_2xx for m in t.rounds)
        sock = sum(m.socket_errors for m in t.rounds)
        if non_2xx:
            notes.append(f"{non_2xx} non-2xx/3xx of {sum(m.requests for m in t.rounds)}")
        if sock:
            notes.append(f"{sock} socket errors")
        own = f"{_median_text(t.own_ref_ratios)} ({ep.reference})" if ep.reference else "–"
        rows.append(
            f"| {ep.name} | {request} | {_fmt(statistics.median(m.rps for m in t.rounds))} "
            f"| {_fmt(statistics.median(m.p50_ms for m in t.rounds), 2)} "
            f"| {_fmt(statistics.median(m.p99_ms for m in t.rounds), 2)} "
            f"| {_median_text(t.ratios)} | {_median_text(t.ref_ratios)} | {own} | {target} | {verdict(t)} "
            f"| {cpu_text(t.rounds)} | {' / '.join(_fmt(m.rps, 0) for m in t.rounds)} | {'; '.join(notes)} |"
        )
    return "\n".join(rows)


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "? GiB"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    load = "?"
    with contextlib.suppress(OSError, IndexError):
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return (f"{cpu_count()} cores (nproc), {model}, {memory} RAM, {platform.system()} {platform.release()}; "
            f"load average before the run {load}")


def git_commit() -> str:
    """Short commit, with ``-dirty`` when tracked or new files differ (RESULTS.md aside)."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changes = [line for line in git("status", "--porcelain").splitlines()
               if not line.endswith("bench/RESULTS.md")]
    return commit + ("-dirty" if changes else "")


def report(cfg: Config, targets: Sequence[Target], *, db_kind: str, workers: int, wrk: str,
           warnings: Sequence[str], started: datetime, host: str) -> str:
    lines = [
        f"## {started:%Y-%m-%d %H:%M} UTC · {git_commit()} · {db_kind.split(' (')[0]}",
        "",
        f"- machine: {host}",
        f"- database: {db_kind}",
        f"- server: gunicorn {workers} workers (`{os.environ.get('BENCH_APP') or 'wsgi:app'}`), "
        f"APP_ENV=development, LOG_LEVEL={LOG_LEVEL}; "
        f"the reference app (`bench.reference_app:app`) under the same settings; Python {platform.python_version()}",
        f"- load: wrk {wrk_version(wrk)}, {cfg.threads} threads, {cfg.connections} connections, "
        f"{cfg.duration} s per endpoint per round, {cfg.rounds} round(s) (medians), warm-up {cfg.warmup} s"
        + "".join(f"; {t.endpoint.name}: {connections_for(cfg, t.endpoint, workers)} connections"
                  for t in targets if t.endpoint.connections is not None),
        *([f"- server settings for the bench: {', '.join(f'{k}={v}' for k, v in SERVER_SETTINGS.items())}"]
          if SERVER_SETTINGS else []),
        *(f"- warning: {w}" for w in warnings),
        "",
        render_table(targets),
        "",
    ]
    checked = [t for t in targets if has_target(t.endpoint)]
    for t in checked:
        ep = t.endpoint
        wants, got = [], []
        if ep.target_ref is not None:
            wants.append(f"req/s ≥ {ep.target_ref:g} × the reference {ep.reference or REFERENCE_HEALTHZ}'s")
            got.append(_median_text(ref_ratios_for_target(t)))
        if ep.target_ratio is not None:
            wants.append(f"req/s ≥ {ep.target_ratio:g} × /healthz's")
            got.append(_median_text(t.ratios))
        if ep.target_p50_ms is not None:
            wants.append(f"p50 < {ep.target_p50_ms:g} ms")
            got.append(f"{statistics.median(m.p50_ms for m in t.rounds):.2f} ms" if t.rounds else "–")
        want = f"- target {ep.name}: {' and '.join(wants)}"
        if t.skipped or not t.rounds:
            lines.append(f"{want}: **not measured** ({t.skipped or 'no rounds'})")
        else:
            lines.append(f"{want}: {', '.join(got)} → **{verdict(t)}**")
    if not checked:
        lines.append("- no targets set")
    return "\n".join(lines) + "\n"


RESULTS_HEADER = """# Benchmark results

Appended by `make bench` (`python -m bench.run`); newest at the bottom. Each section is one
run: when, which commit (`-dirty`: uncommitted changes), the machine, the database
(a fresh PostgreSQL database when `DATABASE_URL` names a PostgreSQL server, else a temporary
SQLite file, migrated and seeded with `flask seed demo`) and the load.

How to read a table: gunicorn (one worker per core) serves the app on 127.0.0.1 and wrk
(`--latency`) loads one endpoint at a time. A run has several rounds; every round measures
`/healthz` (the app doing nothing) and each endpoint. Columns are medians over the rounds:
requests per second, the 50th and 99th percentile latency, and the ratio of the endpoint's
requests/s to `/healthz`'s in the same round. The ratio is what targets are set on: it
cancels out most of the machine's speed (wrk runs on the same cores, so absolute numbers
on a small machine are low). "req/s per round" shows the spread; "not measured" says why
(e.g. HTTP 404: the endpoint does not exist on that commit); non-2xx answers are counted in
notes and fail a target. A high "load average before the run" means other work shared the
cores: compare ratios, not absolute requests/s, across such runs. "CPU ms/req app + db" (from
the 05:2x runs on): the CPU time gunicorn's processes and the PostgreSQL server's processes
spent per request during the rounds (from `/proc`, medians; `bench/cpu.py`): steadier than
requests/s, and it says whether Python or the database is the cost.

Run it: `make bench` (SQLite) or `DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres
make bench`; `BENCH_DURATION=10 BENCH_ROUNDS=5` for steadier numbers, `BENCH_ONLY=name` for
some endpoints, `BENCH_RESULTS=-` to not write here. Endpoints are listed in
`bench/endpoints.py`.
"""


def append_results(path: Path, section: str) -> None:
    if not path.exists() or not path.read_text(encoding="utf-8").strip():
        path.write_text(RESULTS_HEADER, encoding="utf-8")
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n" + section)


# ---------------------------------------------------------------- main

def selected(endpoints: Sequence[Endpoint], only: Sequence[str]) -> list[Endpoint]:
    if not any(ep.path == BASELINE_PATH and ep.server == "app" for ep in endpoints):
        raise BenchError(f"the endpoints must include the baseline {BASELINE_PATH}")

    def wanted(ep: Endpoint) -> bool:
        named = not only or any(part in ep.name for part in only)
        referred = any(other.reference == ep.path and (not only or any(p in other.name for p in only))
                       for other in endpoints)
        return ep.path == BASELINE_PATH or named or (ep.server == "reference" and referred)

    # the baselines first, so a round starts with them
    return sorted((ep for ep in endpoints if wanted(ep)), key=lambda ep: ep.path != BASELINE_PATH)


def _raise_interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(cfg: Config, endpoints: Sequence[Endpoint]) -> str:
    started = datetime.now(UTC)
    host = machine()  # before our own load
    wrk = ensure_wrk()
    endpoints = selected(endpoints, cfg.only)
    base_env = {**os.environ, "APP_ENV": "development", "LOG_LEVEL": LOG_LEVEL,
                "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    with bench_database(os.environ) as database, tempfile.TemporaryDirectory(prefix="jinshan-bench-") as tmp:
        env = {**base_env, **SERVER_SETTINGS, "DATABASE_URL": database.url}
        print(f"bench: {database.kind}: migrating and seeding", flush=True)
        warnings = prepare_database(env)
        workers = cpu_count()
        with gunicorn(env, workers, app=env.get("BENCH_APP") or "wsgi:app") as server:
            print(f"bench: gunicorn ({workers} workers) at {server.base_url}", flush=True)
            ref_env = {**base_env, "REFERENCE_DATABASE_URL": database.url,
                       "REFERENCE_JWKS": http_text(server.base_url + "/.well-known/jwks.json")}
            with gunicorn(ref_env, workers, app="bench.reference_app:app") as ref:
                print(f"bench: reference app ({workers} workers) at {ref.base_url}", flush=True)
                ctx = BenchContext(server.base_url, database.url, env)
                targets = prepare_targets(endpoints, ctx, Path(tmp),
                                          {"app": server.base_url, "reference": ref.base_url})
                analyze(database.url)  # the set-ups' bulk rows counted, as in service
                for t in targets:
                    if t.skipped:
                        print(f"bench: {t.endpoint.name}: not measured: {t.skipped}", flush=True)
                if any(t.skipped for t in targets if t.endpoint.path == BASELINE_PATH):
                    raise BenchError(f"the baseline {BASELINE_PATH} cannot be measured")
                with_db = _server_kind(database.url) == "postgresql"
                name = database_name(database.url) if with_db else None  # not other databases' backends
                meters = {"app": CpuMeter(server.process.pid, with_database=with_db, database=name),
                          "reference": CpuMeter(ref.process.pid, with_database=with_db, database=name)}
                measure(wrk, cfg, targets, workers, meters)
        return report(cfg, targets, db_kind=database.kind, workers=workers, wrk=wrk,
                      warnings=warnings, started=started, host=host)


def main() -> int:
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        cfg = Config.from_env(os.environ)
        section = run(cfg, ENDPOINTS)
    except BenchError as exc:
        print(f"bench: FAILED: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted; server stopped, database removed", file=sys.stderr)
        return 130
    print()
    print(section)
    if cfg.results is not None:
        append_results(cfg.results, section)
        print(f"bench: appended to {cfg.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
