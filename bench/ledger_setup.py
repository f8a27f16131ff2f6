"""Setup hooks of the ledger's endpoints in ``bench.endpoints`` (issue 15).

- ``wechatpay_settings``: the server's WeChat Pay configuration for the bench: keys made once per
  bench process (a merchant key and a "WeChat Pay" platform key, written to a temporary folder),
  the gateway an unused local address (receiving a notification calls nothing).
- ``paid_booking_setup``: booking a paid class of the demo centre: each request a hold with its
  payment intent (``purposes.charge``), as ``booking_setup.contention_setup`` books a free one.
- ``notify_setup``: WeChat Pay's payment notifications, each for its own pending intent, signed
  with the platform key and encrypted with the API v3 key as WeChat Pay does
  (``tests/support/fake_wechatpay.py``); each is sent once, so each request books a payment
  (payer → payee entries, ``on_paid``). Timestamps are the setup's: the run must end within the
  5 minutes a notification is accepted.
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from bench.endpoints import BenchContext, Prepared, _lua_string, per_thread_lines_lua
from bench.qr_setup import _int

NOTIFY_RATE_CAP = 300
PRICE_FEN = 3000
OWNER = "310116-venue-sports-001"


@cache
def _fake():
    from tests.support import fake_wechatpay as fw

    return fw.FakeWeChatPay()


@cache
def wechatpay_settings() -> dict[str, str]:
    from tests.support import fake_wechatpay as fw

    folder = Path(tempfile.mkdtemp(prefix="jinshan-bench-wechatpay-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    (folder / "merchant.pem").write_text(_fake().merchant_private_pem)
    (folder / "wechatpay.pem").write_text(_fake().platform_public_pem)
    return {"WECHATPAY_APPID": fw.APPID, "WECHATPAY_MCHID": fw.MCHID, "WECHATPAY_APIV3_KEY": fw.APIV3_KEY,
            "WECHATPAY_CERT_SERIAL_NO": fw.MERCHANT_SERIAL, "WECHATPAY_PUBLIC_KEY_ID": fw.PUBLIC_KEY_ID,
            "WECHATPAY_PRIVATE_KEY_PATH": str(folder / "merchant.pem"),
            "WECHATPAY_PUBLIC_KEY_PATH": str(folder / "wechatpay.pem"),
            "WECHATPAY_NOTIFY_URL": "https://example.invalid/api/v1/payments/notify/wechatpay",
            "WECHATPAY_API_BASE": "http://127.0.0.1:9"}


def paid_booking_setup(ctx: BenchContext) -> Prepared:
    from bench import booking_setup

    return booking_setup.contention_setup(ctx, price_fen=PRICE_FEN)


def _pending_intents(ctx: BenchContext, count: int) -> list[tuple[str, int]]:
    """``count`` WeChat Pay intents, pending, each of its own payer, to the demo centre."""
    import sqlalchemy as sa

    from app import create_app
    from app.config import load_settings
    from auth.models import Account, Person
    from auth.organisations import Organisation
    from scenarios.engines.ledger import payments

    app = create_app(load_settings({**ctx.env, "LOG_LEVEL": "WARNING"}))
    out: list[tuple[str, int]] = []
    with app.app_context():
        db, clock = app.extensions["db"], app.extensions["clock"]
        now = clock.now()
        with db.transaction() as s:
            payee = s.scalar(sa.select(Organisation.id).where(Organisation.code == OWNER))
        while len(out) < count:
            with db.transaction() as s:
                for _ in range(min(500, count - len(out))):
                    person = Person(name="压测", real_name_level="basic")
                    s.add(Account(kind="dev", openid=f"bench-payer-{len(out)}-{int(now.timestamp())}", person=person,
                                  status="active"))
                    s.flush()
                    intent = payments.create(s, scenario="venue-booking", payer_person_id=person.id,
                                             payee_org_id=payee, amount_fen=PRICE_FEN, description="压测支付", now=now,
                                             provider="wechatpay")
                    payments.mark_pending(s, intent, now)
                    out.append((intent.out_trade_no, intent.amount_fen))
    app.extensions["db"].dispose()
    return out


def notify_setup(ctx: BenchContext) -> Prepared:
    env = ctx.env
    seconds = _int(env, "BENCH_WARMUP", 1) + _int(env, "BENCH_ROUNDS", 3) * _int(env, "BENCH_DURATION", 5)
    intents = _pending_intents(ctx, _int(env, "BENCH_NOTIFICATIONS", seconds * NOTIFY_RATE_CAP))
    lines = []
    for k, (number, amount) in enumerate(intents):
        resource = {"out_trade_no": number, "transaction_id": f"42{k:026d}", "trade_state": "SUCCESS",
                    "amount": {"total": amount, "payer_total": amount, "currency": "CNY"}}
        headers, body = _fake().notification(resource)
        lines.append(" ".join((headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"],
                               headers["Wechatpay-Signature"], headers["Wechatpay-Serial"], body.decode())))
    folder = Path(tempfile.mkdtemp(prefix="jinshan-bench-notify-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    lines_file, offset_file = folder / "notifications.txt", folder / "offset.txt"
    lines_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    offset_file.write_text("0", encoding="ascii")
    return Prepared(lua=NOTIFY_LUA.format(lines=_lua_string(str(lines_file)), offset=_lua_string(str(offset_file)),
                                          nthreads=_int(env, "BENCH_THREADS", 2)))


NOTIFY_LUA = per_thread_lines_lua("LINES_FILE", "lines", """
local stamps, nonces, signatures, serials, bodies = {{}}, {{}}, {{}}, {{}}, {{}}
counter = 0

function init(args)
  for line in io.lines(LINES_FILE) do
    local stamp, nonce, signature, serial, body = line:match("^(%S+) (%S+) (%S+) (%S+) (.+)$")
    stamps[#stamps + 1] = stamp
    nonces[#nonces + 1] = nonce
    signatures[#signatures + 1] = signature
    serials[#serials + 1] = serial
    bodies[#bodies + 1] = body
  end
end

function request()
  local i = base + tid + counter * NTHREADS + 1
  counter = counter + 1
  if i > #bodies then i = #bodies end
  local headers = {{}}
  headers["Content-Type"] = "application/json"
  headers["Wechatpay-Timestamp"] = stamps[i]
  headers["Wechatpay-Nonce"] = nonces[i]
  headers["Wechatpay-Signature"] = signatures[i]
  headers["Wechatpay-Serial"] = serials[i]
  headers["Wechatpay-Signature-Type"] = "WECHATPAY2-SHA256-RSA2048"
  return wrk.format("POST", nil, headers, bodies[i])
end

""")
