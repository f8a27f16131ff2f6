"""Setup hooks of the QR endpoints in ``bench.endpoints`` (run once the server is up and seeded).

- ``personal_setup`` / ``image_setup``: a demo resident logs in (dev login) and the routes
  are loaded with its bearer token.
- ``verify_setup``: a sentinel device of a demo venue operator (``flask devices create``)
  verifies valid single-use personal codes, each sent once. The codes are issued here, in
  this process, straight into the bench database (the way ``POST /api/v1/qr/personal``
  issues them, signed with the same key), with a lifetime lengthened to outlast the run
  (``QR_PERSONAL_TTL_SECONDS``, a setting of this process only). The wrk script hands each
  request the next unused code; an offset file carries the position from one wrk run
  (warm-up, rounds) to the next, so no code is ever sent twice. ``BENCH_QR_TOKENS`` sets
  how many codes (default: enough for 3,000 requests/s over the whole run).
"""
from __future__ import annotations

import atexit
import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from bench.endpoints import BenchContext, Prepared, _lua_string, per_thread_lines_lua

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESIDENT_OPENID = "bench-resident"
OPERATOR = "310116-venue-01"  # a demo venue operator of place-checkin
TOKEN_RATE_CAP = 3000  # requests/s the default token count allows for
ISSUE_BATCH = 2000


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    return int(raw) if raw else default


def resident_token(ctx: BenchContext) -> str:
    req = urllib.request.Request(  # noqa: S310 (our own http URL)
        ctx.base_url + "/api/v1/auth/dev/login", data=json.dumps({"openid": RESIDENT_OPENID}).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
        return json.load(resp)["access_token"]


def personal_setup(ctx: BenchContext) -> Prepared:
    return Prepared(headers={"Authorization": f"Bearer {resident_token(ctx)}"}, lua='wrk.method = "POST"\n')


def image_setup(ctx: BenchContext) -> Prepared:
    return Prepared(headers={"Authorization": f"Bearer {resident_token(ctx)}"})


def _device(ctx: BenchContext) -> tuple[str, str]:
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "devices", "create", "--org", OPERATOR, "--kind", "sentinel",
         "--name", "bench sentinel"], cwd=ROOT, env=dict(ctx.env), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"flask devices create failed: {done.stderr.strip() or done.stdout.strip()}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return out["device_id"], out["secret"]


def issue_codes(ctx: BenchContext, count: int, lifetime_seconds: int) -> list[str]:
    """``count`` personal codes of the bench resident, committed in the bench database."""
    import sqlalchemy as sa

    from app import create_app
    from app.config import load_settings
    from auth.models import Account
    from qr.service import issue_personal

    env = {**ctx.env, "QR_PERSONAL_TTL_SECONDS": str(lifetime_seconds), "LOG_LEVEL": "WARNING"}
    app = create_app(load_settings(env))
    tokens: list[str] = []
    with app.app_context():
        db, clock = app.extensions["db"], app.extensions["clock"]
        with db.transaction(write=False) as s:
            person_id = s.scalar(sa.select(Account.person_id).where(
                Account.kind == "dev", Account.openid == RESIDENT_OPENID))
        if person_id is None:
            raise RuntimeError("the bench resident is missing (dev login failed?)")
        while len(tokens) < count:
            with db.transaction() as s:
                for _ in range(min(ISSUE_BATCH, count - len(tokens))):
                    tokens.append(issue_personal(s, holder_type="person", holder_id=person_id, clock=clock).token)
    app.extensions["db"].dispose()
    return tokens


VERIFY_LUA = per_thread_lines_lua("TOKENS_FILE", "tokens", """
local tokens = {{}}
counter = 0

function init(args)
  for line in io.lines(TOKENS_FILE) do tokens[#tokens + 1] = line end
end

function request()
  local i = base + tid + counter * NTHREADS + 1
  counter = counter + 1
  local token = tokens[i] or tokens[#tokens]
  return wrk.format(nil, nil, nil, '{{"token":"' .. token .. '"}}')
end

""")


def verify_setup(ctx: BenchContext) -> Prepared:
    env = ctx.env
    seconds = _int(env, "BENCH_WARMUP", 1) + _int(env, "BENCH_ROUNDS", 3) * _int(env, "BENCH_DURATION", 5)
    count = _int(env, "BENCH_QR_TOKENS", seconds * TOKEN_RATE_CAP)
    resident_token(ctx)  # creates the bench resident
    uid, secret = _device(ctx)
    started = time.monotonic()
    tokens = issue_codes(ctx, count, lifetime_seconds=max(600, 20 * seconds + 600))
    print(f"bench: issued {len(tokens)} personal codes in {time.monotonic() - started:.1f} s", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="jinshan-bench-qr-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    tokens_file, offset_file = folder / "tokens.txt", folder / "offset.txt"
    tokens_file.write_text("\n".join(tokens) + "\n", encoding="ascii")
    offset_file.write_text("0", encoding="ascii")
    basic = base64.b64encode(f"{uid}:{secret}".encode()).decode()
    lua = VERIFY_LUA.format(tokens=_lua_string(str(tokens_file)), offset=_lua_string(str(offset_file)),
                            nthreads=_int(env, "BENCH_THREADS", 2))
    return Prepared(headers={"Authorization": f"Basic {basic}"}, lua=lua)


def reference_verify_setup(ctx: BenchContext) -> Prepared:
    """The reference app's ``/verify`` gets codes of its own, issued as for ``verify_setup``
    (the reference checks them against the app's published key)."""
    env = ctx.env
    seconds = _int(env, "BENCH_WARMUP", 1) + _int(env, "BENCH_ROUNDS", 3) * _int(env, "BENCH_DURATION", 5)
    count = _int(env, "BENCH_QR_TOKENS", seconds * TOKEN_RATE_CAP)
    resident_token(ctx)
    tokens = issue_codes(ctx, count, lifetime_seconds=max(600, 20 * seconds + 600))
    folder = Path(tempfile.mkdtemp(prefix="jinshan-bench-ref-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    tokens_file, offset_file = folder / "tokens.txt", folder / "offset.txt"
    tokens_file.write_text("\n".join(tokens) + "\n", encoding="ascii")
    offset_file.write_text("0", encoding="ascii")
    return Prepared(lua=VERIFY_LUA.format(tokens=_lua_string(str(tokens_file)), offset=_lua_string(str(offset_file)),
                                          nthreads=_int(env, "BENCH_THREADS", 2)))
