"""Setup of the ev-charging nearby row in ``bench.endpoints``: the 150 demo piles (``flask seed
demo``) as if their devices kept reporting through the run (two in three ``free``, the others
``charging``, the reading's time an hour ahead so the 2-minute silence rule does not empty the
page mid-run), and a resident's token. The request is the mini-program's: free piles within
3 km of 石化街道, nearest first."""
from __future__ import annotations

from datetime import timedelta

from bench.endpoints import BenchContext, Prepared
from bench.qr_setup import resident_token

AT = (30.7155, 121.3400)
PATH = f"/api/v1/ev-charging/piles/nearby?lat={AT[0]}&lon={AT[1]}&radius_m=3000&state=free"


def _keep_reporting(ctx: BenchContext) -> None:
    import sqlalchemy as sa

    from app import create_app
    from app.config import load_settings
    from scenarios.ev_charging.models import EvPile

    app = create_app(load_settings({**ctx.env, "LOG_LEVEL": "WARNING"}))
    with app.app_context():
        db, clock = app.extensions["db"], app.extensions["clock"]
        with db.transaction() as s:
            at = clock.now() + timedelta(hours=1)
            s.execute(sa.update(EvPile).values(status=sa.case((EvPile.id % 3 == 0, "charging"), else_="free"),
                                               status_at=at))


def nearby_setup(ctx: BenchContext) -> Prepared:
    _keep_reporting(ctx)
    return Prepared(headers={"Authorization": f"Bearer {resident_token(ctx)}"})
