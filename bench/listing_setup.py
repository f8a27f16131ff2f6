"""Setup of the listing search endpoints in ``bench.endpoints``: 20,000 published rural-rental
rooms (``BENCH_ROOMS``) spread over the reference villages (within about 6 km of each centre,
rents 300–3,000 yuan), inserted in bulk straight into the bench database once (rows tagged
``bench`` in their details) and analysed (a bulk load's statistics would otherwise lag until
autovacuum's next pass, and the planner would guess), and a resident's token."""
from __future__ import annotations

import os
import random

from bench.endpoints import BenchContext, Prepared
from bench.qr_setup import resident_token

XINGHUO = "310116109-v-xinghuo"
XINGHUO_AT = (30.756, 121.264)
WORDS = ("空调", "热水器", "独立卫生间", "朝南", "近公交站", "可做饭", "带阳台", "新装修")


def rooms(ctx: BenchContext) -> None:
    import sqlalchemy as sa

    from app import create_app
    from app.config import load_settings
    from app.places.models import Village
    from auth.models import Account
    from scenarios.engines.listing.models import LsEntry

    total = int(os.environ.get("BENCH_ROOMS", "20000"))
    app = create_app(load_settings({**ctx.env, "LOG_LEVEL": "WARNING"}))
    with app.app_context():
        db, clock = app.extensions["db"], app.extensions["clock"]
        with db.transaction() as s:
            have = s.scalar(sa.select(sa.func.count()).select_from(LsEntry).where(LsEntry.scenario == "rural-rental"))
            if have >= total:
                return
            villages = s.scalars(sa.select(Village).where(Village.generated.is_(False))).all()
            owner = s.scalar(sa.select(Account.id).order_by(Account.id).limit(1))
            rng, now, rows = random.Random(19), clock.now(), []
            for i in range(total - have):
                v = villages[i % len(villages)]
                lat, lon = v.lat + rng.uniform(-0.05, 0.05), v.lon + rng.uniform(-0.06, 0.06)
                facilities = "、".join(rng.sample(WORDS, 3))
                title = f"{v.name} {rng.randint(1, 900)}号 {rng.randint(1, 3)}0{rng.randint(1, 4)}"
                rows.append({"scenario": "rural-rental", "owner_account_id": owner, "owner_person_id": None,
                             "moderator_org_id": v.committee_id, "category": "room", "place": v.code, "title": title,
                             "text": facilities, "address": f"{v.name}", "lat": lat, "lon": lon,
                             "price_fen": rng.randint(300, 3000) * 100, "photos": [], "details": {"bench": True},
                             "search_text": f"{title} {facilities} {v.name}".lower(), "rank": int(rng.random() < 0.1),
                             "state": "published", "created_at": now, "updated_at": now, "published_at": now})
            for start in range(0, len(rows), 2000):
                s.execute(sa.insert(LsEntry), rows[start:start + 2000])
            if s.get_bind().dialect.name == "postgresql":  # statistics, as autovacuum would keep them
                s.execute(sa.text("ANALYZE ls_entries"))


def search_setup(ctx: BenchContext) -> Prepared:
    rooms(ctx)
    return Prepared(headers={"Authorization": f"Bearer {resident_token(ctx)}"})


def search_path(*, text: str | None = None) -> str:
    from urllib.parse import urlencode

    params = {"place": XINGHUO, "price_min": 50_000, "price_max": 150_000, "lat": XINGHUO_AT[0],
              "lon": XINGHUO_AT[1], "radius_m": 5000, "page_size": 20}
    if text:
        params["q"] = text
    return "/api/v1/rural-rental/listings?" + urlencode(params)
