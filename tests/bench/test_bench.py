"""The benchmark harness's pure parts: wrk output, wrk scripts, endpoint selection, the table."""
from __future__ import annotations

import pytest

from bench.endpoints import BASELINE_PATH, ENDPOINTS, Endpoint, json_post_lua
from bench.run import BenchError, Config, Measurement, Target, parse_wrk, render_table, selected, verdict

WRK_ERRORS = """Running 1s test @ http://127.0.0.1:18999/nope
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.59ms    3.55ms  19.97ms   84.39%
    Req/Sec     1.40k   682.31     2.20k    60.00%
  Latency Distribution
     50%  812.00us
     75%    4.86ms
     90%    8.89ms
     99%    1.20s
  1393 requests in 1.00s, 707.56KB read
  Socket errors: connect 0, read 2, write 0, timeout 5
  Non-2xx or 3xx responses: 1393
Requests/sec:   1386.65
Transfer/sec:    704.34KB
"""


def test_parse_wrk_converts_units_and_counts_errors():
    m = parse_wrk(WRK_ERRORS)
    assert m.rps == pytest.approx(1386.65)
    assert m.p50_ms == pytest.approx(0.812)
    assert m.p99_ms == pytest.approx(1200.0)
    assert (m.requests, m.non_2xx, m.socket_errors) == (1393, 1393, 7)


def test_parse_wrk_clean_run_has_no_errors():
    clean = "\n".join(line for line in WRK_ERRORS.splitlines() if "errors" not in line and "Non-2xx" not in line)
    m = parse_wrk(clean)
    assert (m.non_2xx, m.socket_errors) == (0, 0)


def test_parse_wrk_without_latency_distribution_is_an_error():
    without = "\n".join(line for line in WRK_ERRORS.splitlines() if "%" not in line or "Latency " in line)
    with pytest.raises(BenchError, match="--latency"):
        parse_wrk(without)


def test_json_post_lua_quotes_bodies_that_contain_closing_brackets():
    lua = json_post_lua({"q": "a]]b]=]c 金山"}, {"Authorization": "Bearer x"})
    assert 'wrk.method = [[POST]]' in lua
    assert 'wrk.body = [==[{"q": "a]]b]=]c 金山"}]==]' in lua
    assert 'wrk.headers[ [[Authorization]] ] = [[Bearer x]]' in lua


def test_selection_keeps_the_baseline_first():
    eps = [Endpoint("b", "/b"), Endpoint("healthz", BASELINE_PATH), Endpoint("c", "/c")]
    assert [e.name for e in selected(eps, ("c",))] == ["healthz", "c"]
    assert [e.name for e in selected(eps, ())] == ["healthz", "b", "c"]
    with pytest.raises(BenchError):
        selected([Endpoint("b", "/b")], ())
    assert ENDPOINTS[0].path == BASELINE_PATH


def test_config_from_env_rejects_nonsense():
    assert Config.from_env({"BENCH_DURATION": "7", "BENCH_RESULTS": "-"}).duration == 7
    assert Config.from_env({"BENCH_RESULTS": "-"}).results is None
    with pytest.raises(BenchError):
        Config.from_env({"BENCH_DURATION": "0"})
    with pytest.raises(BenchError):
        Config.from_env({"BENCH_ROUNDS": "three"})


def _target(ratios: list[float], non_2xx: int = 0, skipped: str | None = None) -> Target:
    t = Target(Endpoint("search", "/s", target_ratio=0.5), {}, None, skipped)
    t.rounds = [Measurement(rps=100 * r, p50_ms=1, p99_ms=2, requests=10, non_2xx=non_2xx) for r in ratios]
    t.ratios = ratios
    return t


def test_verdict_uses_the_median_ratio_and_fails_on_errors():
    assert verdict(_target([0.4, 0.6, 0.55])) == "yes"
    assert verdict(_target([0.4, 0.6, 0.45])) == "NO"
    assert verdict(_target([0.9, 0.9, 0.9], non_2xx=3)) == "NO (errors)"
    assert verdict(_target([], skipped="HTTP 404")) == "not measured"


def test_table_reports_unmeasured_endpoints():
    table = render_table([_target([0.4, 0.6, 0.55]), _target([], skipped="HTTP 404")])
    assert "| 0.55 | – | – | ≥ 0.5 of /healthz | yes |" in table
    assert "not measured: HTTP 404" in table


def test_latency_targets_and_per_endpoint_connections():
    from bench.run import connections_for

    ep = Endpoint("image", "/i", target_p50_ms=15.0, connections=0)
    t = Target(ep, {}, None)
    t.rounds = [Measurement(rps=100, p50_ms=p, p99_ms=30, requests=10) for p in (12.0, 14.0, 19.0)]
    t.ratios = [0.1, 0.1, 0.1]
    assert verdict(t) == "yes"  # the median p50 (14 ms) is under 15 ms; no ratio target
    t.rounds[1] = Measurement(rps=100, p50_ms=16.0, p99_ms=30, requests=10)
    assert verdict(t) == "NO"
    assert "p50 < 15 ms" in render_table([t])
    cfg = Config.from_env({"BENCH_RESULTS": "-", "BENCH_CONNECTIONS": "16"})
    assert connections_for(cfg, ep, workers=2) == 2
    assert connections_for(cfg, Endpoint("x", "/x"), workers=2) == 16
    assert connections_for(cfg, Endpoint("x", "/x", connections=4), workers=2) == 4


def test_qr_endpoints_are_listed_with_their_targets():
    by_path = {ep.path: ep for ep in ENDPOINTS if ep.server == "app"}
    verify, personal = by_path["/api/v1/qr/verify"], by_path["/api/v1/qr/personal"]
    assert (verify.reference, verify.target_ref) == ("/verify", 0.6) and verify.setup
    assert (personal.reference, personal.target_ref) == ("/personal", 0.6)
    assert by_path["/api/v1/qr/personal/image"].target_p50_ms == 15.0
    references = {ep.path for ep in ENDPOINTS if ep.server == "reference"}
    assert references == {"/healthz", "/verify", "/personal"}


def _ref_target(own: list[float], ref: list[float], reference: str | None = None) -> Target:
    t = Target(Endpoint("scan", "/scan", target_ref=0.6, reference=reference), {}, None)
    t.rounds = [Measurement(rps=100, p50_ms=1, p99_ms=2, requests=10) for _ in ref]
    t.ratios, t.ref_ratios, t.own_ref_ratios = [1.0] * len(ref), ref, own
    return t


def test_reference_targets_are_judged_on_the_named_reference_else_its_healthz():
    assert verdict(_ref_target([], [0.5, 0.7, 0.65])) == "yes"  # against the reference /healthz
    assert verdict(_ref_target([], [0.5, 0.55, 0.7])) == "NO"
    assert verdict(_ref_target([0.61, 0.62, 0.7], [0.1, 0.1, 0.1], "/verify")) == "yes"  # its own reference
    assert verdict(_ref_target([0.5, 0.5, 0.7], [0.9, 0.9, 0.9], "/verify")) == "NO"
    assert verdict(_ref_target([], [0.9, 0.9, 0.9], "/verify")) == "NO"  # its reference was not measured
    table = render_table([_ref_target([0.61, 0.62, 0.7], [0.3, 0.31, 0.32], "/verify")])
    assert "| 1.00 | 0.31 | 0.62 (/verify) | ≥ 0.6 of ref /verify | yes |" in table


def test_selecting_an_endpoint_brings_the_reference_it_names():
    eps = [Endpoint("healthz", BASELINE_PATH), Endpoint("ref healthz", "/healthz", server="reference"),
           Endpoint("ref verify", "/verify", server="reference"), Endpoint("scan", "/scan", reference="/verify"),
           Endpoint("other", "/o")]
    assert [e.name for e in selected(eps, ("scan",))] == ["healthz", "ref healthz", "ref verify", "scan"]
    assert [e.name for e in selected(eps, ("other",))] == ["healthz", "ref healthz", "other"]



def test_table_gives_the_median_cpu_per_request():
    import dataclasses

    t = _target([0.4, 0.6, 0.55])
    t.rounds = [dataclasses.replace(m, app_cpu_ms=app, db_cpu_ms=db)
                for m, (app, db) in zip(t.rounds, [(1.0, 0.2), (3.0, None), (2.0, 0.4)], strict=True)]
    assert "| yes | 2.00 + 0.30 |" in render_table([t])
    bare = _target([0.5, 0.5, 0.5])  # no readings (not Linux): an empty cell, no crash
    assert "| yes | – |" in render_table([bare])


def test_cpu_meter_reads_a_real_process_and_its_children():
    """bench.cpu on real processes: a busy child's CPU shows up under its parent's meter
    (the child stays alive while the meter reads, as gunicorn's workers do)."""
    import subprocess
    import sys
    import time

    from bench.cpu import CpuMeter, children, cpu_seconds, postgres_pids

    spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\ntime.sleep(30)"
    parent = subprocess.Popen([sys.executable, "-c",
                               f"import subprocess, sys; subprocess.run([sys.executable, '-c', {spin!r}])"])
    try:
        for _ in range(100):
            if children(parent.pid):
                break
            time.sleep(0.01)
        assert children(parent.pid), "the busy child was not seen"
        meter = CpuMeter(parent.pid, with_database=False)
        meter.start()
        deadline = time.monotonic() + 30  # the child spins for 0.3 s of CPU, then sleeps
        while cpu_seconds(children(parent.pid)) < 0.29 and time.monotonic() < deadline:
            time.sleep(0.05)
        app_ms, db_ms = meter.stop(requests=10)
    finally:
        for pid in children(parent.pid):
            subprocess.run(["kill", str(pid)], check=False)
        parent.kill()
        parent.wait(timeout=10)
    assert db_ms is None
    assert app_ms is not None and app_ms > 5  # most of 0.3 s over 10 "requests"
    assert cpu_seconds([2 ** 22 + 7]) == 0  # a process that does not exist counts nothing
    assert all(isinstance(p, int) for p in postgres_pids())


def test_each_wrk_run_is_preceded_by_the_setups_before_run(tmp_path):
    """A setup's ``before_run`` gets each run's seconds (warm-up and rounds) before wrk starts."""
    from bench.run import run_wrk

    log = tmp_path / "log"  # the fake wrk and before_run each write a line: their order
    fake_wrk = tmp_path / "wrk"
    fake_wrk.write_text(f"#!/bin/sh\necho wrk >> {log}\ncat <<'EOF'\n" + WRK_ERRORS + "EOF\n")
    fake_wrk.chmod(0o755)

    def before_run(seconds: int) -> None:
        with log.open("a") as fh:
            fh.write(f"before {seconds}\n")

    t = Target(Endpoint("n", "/n", method="POST"), {}, None, before_run=before_run)
    cfg = Config.from_env({"BENCH_RESULTS": "-"})
    for seconds in (1, 5):
        assert run_wrk(str(fake_wrk), cfg, "http://127.0.0.1:9/n", t, seconds).requests == 1393
    assert log.read_text().splitlines() == ["before 1", "wrk", "before 5", "wrk"]


def test_the_notification_supply_signs_fresh_ones_per_run_from_where_the_last_run_stopped(tmp_path, monkeypatch):
    """Before each run: rate × (seconds + 1) notifications signed now, starting at the first intent
    the runs before did not send; a run never gets one another run sent."""
    from bench import ledger_setup

    made: list[int] = []

    def intents(url: str, count: int) -> list[tuple[str, int]]:
        made.append(count)
        start = sum(made) - count
        return [(f"P{start + k:024d}", 3000) for k in range(count)]

    monkeypatch.setattr(ledger_setup, "pending_intents", intents)
    clock = iter([1_000_000, 1_000_400])
    monkeypatch.setattr(ledger_setup.time, "time", lambda: next(clock))
    supply = ledger_setup.NotificationSupply("sqlite://", tmp_path, rate=3)

    def stamps() -> list[str]:
        return [line.split(" ")[0] for line in supply.lines_file.read_text().splitlines()]

    supply(1)  # warm-up: 3 × 2 signed at the first timestamp
    assert stamps() == ["1000000"] * 6 and supply.offset_file.read_text() == "0"
    supply.offset_file.write_text("4")  # what wrk's done() wrote: 4 sent
    supply(2)  # the next run: from the fifth intent on, 3 × 3, at the later timestamp
    assert stamps() == ["1000400"] * 9
    assert supply.start == 4 and made == [6, 7] and len(supply.intents) == 13


def test_the_database_meter_counts_this_database_and_the_server_not_other_databases():
    """On a shared PostgreSQL server the DB column counted every test's backends (issue 20's
    hotline row read 38.8 ms a request): only the bench database's backends and the server's
    own processes count."""
    from bench.cpu import serves_database

    mine = "jinshan_bench_1a2b"
    assert serves_database(f"postgres: 15/main: postgres {mine} 127.0.0.1(40112) idle in transaction", mine)
    assert serves_database(f"postgres: postgres {mine} [local] SELECT", mine)  # no cluster name in the title
    assert not serves_database("postgres: 15/main: postgres jinshan_test_w0_9f 127.0.0.1(40113) idle", mine)
    assert not serves_database(f"postgres: 15/main: postgres {mine}x 127.0.0.1(40114) idle", mine)
    assert serves_database(f"postgres: 15/main: autovacuum worker {mine}", mine)
    assert not serves_database("postgres: 15/main: autovacuum worker jinshan_test_w1_00", mine)
    for shared in ("postgres: 15/main: checkpointer", "postgres: 15/main: walwriter", "postgres: walwriter",
                   "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main"):
        assert serves_database(shared, mine), shared


def test_analyze_leaves_statistics_of_the_rows_there(database_url, migrated_db):
    """The bench runs ``analyze`` after its set-ups (the shared server runs without autovacuum):
    afterwards the planner knows the tables' sizes (PostgreSQL) / has ``sqlite_stat1`` (SQLite)."""
    import sqlalchemy as sa

    from bench.run import analyze

    analyze(database_url)
    with migrated_db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            last = conn.scalar(sa.text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'organisations'"))
            tuples = conn.scalar(sa.text("SELECT reltuples FROM pg_class WHERE relname = 'organisations'"))
            count = conn.scalar(sa.text("SELECT count(*) FROM organisations"))
            assert last is not None and tuples == count > 0
        else:
            assert conn.scalar(sa.text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'organisations'")) >= 1
