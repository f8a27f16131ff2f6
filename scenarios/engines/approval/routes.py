"""HTTP API of an approval scenario, mounted at ``/api/v1/<slug>``, built from its config.

``POST /applications`` (``Idempotency-Key``; 422 ``not_eligible`` lists every failed rule);
``GET /applications`` the caller's own (residents) or the reviewing organisation's queue (staff:
``state``, ``overdue``; nearest deadline first); ``GET /applications/<id>`` with its history; the
actions of ``actions.ACTIONS``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask.views import MethodView

from app.action_routes import Action, mount
from app.api import Blueprint, ErrorSchema, page_of, paginate
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from app.idempotency import idempotent
from auth.principal import current_principal, require_auth
from auth.visibility import loaded, visible_object
from scenarios.engines.approval import service as svc
from scenarios.engines.approval.actions import ACTIONS
from scenarios.engines.approval.config import ApprovalConfig
from scenarios.engines.approval.models import SUBJECT, ApApplication
from scenarios.engines.approval.schemas import ApplicationCreateSchema, ApplicationListArgs, ApplicationSchema
from scenarios.engines.approval.visibility import register_object_types


def application_view(session, application: ApApplication, principal, *, with_history: bool = True) -> dict[str, Any]:
    view = {c: getattr(application, c) for c in ("id", "scenario", "state", "form", "subject_type", "subject_id",
                                                 "reasons", "note", "review_due_at", "overdue", "decided_at",
                                                 "created_at")}
    view["mine"] = principal.is_resident and principal.account_id == application.applicant_account_id
    view["history"] = [{"action": d.action, "from_state": d.from_state, "to_state": d.to_state,
                        "reasons": d.reasons, "note": d.note, "at": d.at}
                       for d in svc.history(session, application)] if with_history else []
    return view


def _err(blp: Blueprint, status: int, description: str) -> Callable:
    return blp.alt_response(status, schema=ErrorSchema, description=description)


def _of_scenario(config: ApprovalConfig) -> ApApplication:
    application = loaded(SUBJECT)
    if application.scenario != config.slug:
        raise ApiError("not_found")
    return application


def make_blueprint(config: ApprovalConfig) -> Blueprint:
    register_object_types()
    slug = config.slug
    blp = Blueprint(f"{slug}-applications", __name__, url_prefix=f"/api/v1/{slug}",
                    description=f"{config.title_zh}: applications ({slug}), on the approval engine.")

    @blp.route("/applications")
    class Applications(MethodView):
        @require_auth
        @blp.arguments(ApplicationListArgs, location="query")
        @blp.response(200, page_of(ApplicationSchema, f"{config.schema_prefix}ApplicationPageSchema"))
        def get(self, args):
            """Residents: their own applications, newest first. Staff: their organisation's, nearest
            deadline first (``state``, ``overdue``)."""
            session = get_session()
            principal = current_principal()
            stmt = sa.select(ApApplication).where(ApApplication.scenario == slug)
            state, overdue = args.pop("state"), args.pop("overdue")
            if principal.is_resident:
                stmt = stmt.where(ApApplication.applicant_account_id == principal.account_id).order_by(
                    ApApplication.id.desc())
            else:
                stmt = stmt.where(ApApplication.org_id == principal.org_id).order_by(
                    ApApplication.review_due_at.is_(None), ApApplication.review_due_at, ApApplication.id)
            if state:
                stmt = stmt.where(ApApplication.state == state)
            if overdue is not None:
                stmt = stmt.where(ApApplication.overdue.is_(overdue))
            page = paginate(session, stmt, args)
            return {**page, "items": [application_view(session, a, principal, with_history=False)
                                      for a in page["items"]]}

        @idempotent
        @require_auth(kinds=config.applicant_kinds)
        @blp.arguments(ApplicationCreateSchema)
        @blp.response(201, ApplicationSchema)
        @_err(blp, 422, "`not_eligible` (every failed rule in `errors` and `detail.reasons`), `validation_error` "
                        "(`form.<field>`)")
        def post(self, args):
            """Apply: the form is checked by the scenario's schema and eligibility rules, then goes to
            the reviewing organisation with its deadline."""
            session = get_session()
            principal = current_principal()
            application = svc.create(session, clock=current_clock(), principal=principal, config=config,
                                     form=args["form"])
            answer = application_view(session, application, principal)
            session.commit()
            return answer

    @blp.route("/applications/<int:application_id>")
    class Item(MethodView):
        @visible_object(SUBJECT, "application_id")
        @require_auth
        @blp.response(200, ApplicationSchema)
        def get(self, application_id: int):
            """An application with its decision history (its applicant; the reviewing organisation)."""
            return application_view(get_session(), _of_scenario(config), current_principal())

    for action in ACTIONS:
        _action_view(blp, config, action)
    return blp


def _action_view(blp: Blueprint, config: ApprovalConfig, action: Action) -> None:
    def run(action: Action, args: dict[str, Any], application_id: int) -> dict[str, Any]:
        session = get_session()
        principal = current_principal()
        application = action.service(session, clock=current_clock(), principal=principal, config=config,
                                     application=_of_scenario(config), **args)
        answer = application_view(session, application, principal)
        session.commit()
        return answer

    endpoint = action.path.replace("-", "_")
    mount(blp, action, rule=f"/applications/<int:application_id>/{action.path}",
          endpoint=f"application_{endpoint}",
          view_name=f"{config.schema_prefix}Application{endpoint.title().replace('_', '')}View", run=run,
          wraps=(_err(blp, 409, action.errors),
                 _err(blp, 403, "Not yours to do (reviewers decide; the applicant resubmits and withdraws)"),
                 blp.response(200, ApplicationSchema), blp.arguments(action.schema), require_auth,
                 visible_object(SUBJECT, "application_id"), idempotent))


def scenario_blueprints(config: ApprovalConfig) -> list[Blueprint]:
    return [make_blueprint(config)]
