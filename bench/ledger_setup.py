"""Setup hooks of the ledger's endpoints in ``bench.endpoints`` (issue 15).

- ``wechatpay_settings``: the server's WeChat Pay configuration for the bench: keys made once per
  bench process (a merchant key and a "WeChat Pay" platform key, written to a temporary folder),
  the gateway an unused local address (receiving a notification calls nothing).
- ``paid_booking_setup``: booking a paid class of the demo centre: each request a hold with its
  payment intent (``purposes.charge``), as ``booking_setup.contention_setup`` books a free one.
- ``notify_setup``: WeChat Pay's payment notifications, each for its own pending intent, signed
  with the platform key and encrypted with the API v3 key as WeChat Pay does
  (``tests/support/fake_wechatpay.py``); each is sent once, so each request books a payment
  (payer → payee entries, ``on_paid``). A notification is accepted within 5 minutes of its
  timestamp and a full run lasts far longer, so they are signed per wrk run
  (``NotificationSupply``, the ``before_run`` of ``Prepared``): before each run, as many as
  ``NOTIFY_RATE_CAP`` per second of it, for the intents the runs before left unpaid (more are
  created when needed). A run that outruns them sends unsigned requests (401: counted as
  errors, never a silent replay).
"""
from __future__ import annotations

import atexit
import shutil
import tempfile
import time
from functools import cache
from pathlib import Path

from bench.endpoints import BenchContext, Prepared, _lua_string, per_thread_lines_lua
from bench.qr_setup import _int

NOTIFY_RATE_CAP = 4000
"""Notifications signed per second of a wrk run (``BENCH_NOTIFY_RATE``): more than our own
``/healthz`` answers on the bench machine, which no notification can outrun."""
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


def pending_intents(database_url: str, count: int) -> list[tuple[str, int]]:
    """``count`` new WeChat Pay intents, pending, each of its own payer, to the demo centre
    (Core bulk inserts: the bench needs tens of thousands); their (out_trade_no, amount)."""
    import secrets
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from app.db import Database
    from auth.models import Person
    from auth.organisations import Organisation
    from scenarios.engines.ledger.models import LgPaymentIntent

    persons, intents = Person.__table__, LgPaymentIntent.__table__
    now = datetime.now(UTC)
    db = Database(database_url)
    out: list[tuple[str, int]] = []
    try:
        with db.engine.begin() as conn:
            payee = conn.scalar(sa.select(Organisation.id).where(Organisation.code == OWNER))
            while len(out) < count:
                n = min(5000, count - len(out))
                payers = conn.execute(sa.insert(persons).returning(persons.c.id, sort_by_parameter_order=True),
                                      [{"real_name_level": "none", "created_at": now, "updated_at": now}] * n
                                      ).scalars().all()
                rows = [{"scenario": "venue-booking", "payer_person_id": payer, "payee_org_id": payee,
                         "amount_fen": PRICE_FEN, "currency": "CNY", "description": "压测支付", "status": "pending",
                         "provider": "wechatpay", "out_trade_no": "P" + secrets.token_hex(12), "refunded_fen": 0,
                         "expires_at": now + timedelta(hours=2), "created_at": now, "updated_at": now}
                        for payer in payers]
                conn.execute(sa.insert(intents), rows)
                out += [(row["out_trade_no"], row["amount_fen"]) for row in rows]
    finally:
        db.dispose()
    return out


def signed_notification(number: str, amount: int, k: int, timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
    """WeChat Pay's TRANSACTION.SUCCESS for order ``number`` (transaction ``k``), signed with
    ``timestamp`` (now when None)."""
    resource = {"out_trade_no": number, "transaction_id": f"42{k:026d}", "trade_state": "SUCCESS",
                "amount": {"total": amount, "payer_total": amount, "currency": "CNY"}}
    return _fake().notification(resource, timestamp=int(time.time()) if timestamp is None else timestamp)


class NotificationSupply:
    """Signs, before each wrk run of ``seconds``, ``rate × (seconds + 1)`` notifications with the
    current timestamp into ``lines_file`` (and rewinds ``offset_file``, which the wrk script
    advances): they start at the first intent the runs before did not book, so none is wasted
    and none is sent twice."""

    def __init__(self, database_url: str, folder: Path, rate: int) -> None:
        self.database_url, self.rate = database_url, rate
        self.lines_file, self.offset_file = folder / "notifications.txt", folder / "offset.txt"
        self.intents: list[tuple[str, int]] = []
        self.start = 0  # the first intent of the current batch
        self.offset_file.write_text("0", encoding="ascii")

    def __call__(self, seconds: int) -> None:
        self.start += int(self.offset_file.read_text(encoding="ascii").strip() or 0)  # what the last run sent
        end = self.start + self.rate * (seconds + 1)
        if end > len(self.intents):
            self.intents += pending_intents(self.database_url, end - len(self.intents))
        lines, now = [], int(time.time())
        for k in range(self.start, end):
            headers, body = signed_notification(*self.intents[k], k, now)
            lines.append(" ".join((headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"],
                                   headers["Wechatpay-Signature"], headers["Wechatpay-Serial"], body.decode())))
        self.lines_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.offset_file.write_text("0", encoding="ascii")


def notify_setup(ctx: BenchContext) -> Prepared:
    folder = Path(tempfile.mkdtemp(prefix="jinshan-bench-notify-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    supply = NotificationSupply(ctx.database_url, folder, _int(ctx.env, "BENCH_NOTIFY_RATE", NOTIFY_RATE_CAP))
    return Prepared(lua=NOTIFY_LUA.format(lines=_lua_string(str(supply.lines_file)),
                                          offset=_lua_string(str(supply.offset_file)),
                                          nthreads=_int(ctx.env, "BENCH_THREADS", 2)),
                    before_run=supply)


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
  local headers = {{}}
  if i > #bodies then  -- the supply is used up: unsigned, so 401 and counted, never a replay
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", nil, headers, "{{}}")
  end
  headers["Content-Type"] = "application/json"
  headers["Wechatpay-Timestamp"] = stamps[i]
  headers["Wechatpay-Nonce"] = nonces[i]
  headers["Wechatpay-Signature"] = signatures[i]
  headers["Wechatpay-Serial"] = serials[i]
  headers["Wechatpay-Signature-Type"] = "WECHATPAY2-SHA256-RSA2048"
  return wrk.format("POST", nil, headers, bodies[i])
end

""")
