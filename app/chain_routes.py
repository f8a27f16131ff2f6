"""``/api/v1/admin/escalation-chains``: district administrators read every changeable
escalation chain (``app.chains``) and its versions, preview a new one in words and set it.

A version applies to subjects (tickets, SOS alarms) that start after it; each keeps the version
it started with. The chain is named in the query or body (``chain``: a scenario's slug), as
SLA policies name their scenario. Anyone but a district administrator: 403.
"""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow.validate import Length

from app import chains
from app.api import Blueprint, ErrorSchema, Schema, fields
from app.config import Settings
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError
from auth.principal import current_principal, require_staff

blp = Blueprint("escalation_chains", __name__, url_prefix="/api/v1/admin/escalation-chains",
                description="Escalation chains: versions set by district administrators (the effect in words).")


class ChainRecipientSchema(Schema):
    of = fields.String(validate=Length(min=1, max=40),
                       metadata={"description": "an organisation the chain's user finds from the subject"})
    roles = fields.List(fields.String(validate=Length(min=1, max=40)), validate=Length(max=20))
    supplied = fields.String(validate=Length(min=1, max=40),
                             metadata={"description": "a recipient the scenario supplies (`contacts`)"})


class ChainStepSchema(Schema):
    name = fields.String(required=True, validate=Length(max=chains.NAME_MAX))
    after_seconds = fields.Integer(required=True, allow_none=True, metadata={
        "description": "seconds from `since`; null: the subject's own target (workflow: its response target)"})
    since = fields.String(load_default="previous", metadata={"description": "`start` or `previous`"})
    recipients = fields.List(fields.Nested(ChainRecipientSchema), required=True, validate=Length(max=20))
    channels = fields.List(fields.String(validate=Length(max=16)), load_default=list, validate=Length(max=4),
                           metadata={"description": "empty: each recipient's default channel"})
    urgent = fields.Boolean(load_default=True)
    instruction = fields.String(load_default=None, allow_none=True, validate=Length(max=40))
    repeat_seconds = fields.Integer(load_default=None, allow_none=True,
                                    metadata={"description": "the last step only: repeat until someone acts"})


class ChainPreviewSchema(Schema):
    chain = fields.String(required=True, validate=Length(min=1, max=60))
    steps = fields.List(fields.Nested(ChainStepSchema), required=True, validate=Length(max=chains.MAX_STEPS + 1))


class ChainPostSchema(ChainPreviewSchema):
    reason = fields.String(required=True, validate=Length(max=chains.REASON_MAX))


class ChainArgsSchema(Schema):
    chain = fields.String(required=True, validate=Length(min=1, max=60))


class ChainExplainedSchema(Schema):
    chain = fields.String(required=True)
    steps = fields.List(fields.Nested(ChainStepSchema), required=True)
    explanation = fields.List(fields.String(), required=True, metadata={"description": "the effect, a step a line"})


class ChainVersionSchema(Schema):
    version = fields.Integer(required=True, metadata={"description": "0: the chain declared in code"})
    steps = fields.List(fields.Nested(ChainStepSchema), required=True)
    explanation = fields.List(fields.String(), required=True)
    reason = fields.String(required=True)
    created_at = fields.DateTime(allow_none=True)
    created_by_account_id = fields.Integer(allow_none=True)
    acting_org_id = fields.Integer(allow_none=True)


class ChainVersionsSchema(Schema):
    chain = fields.String(required=True)
    title_zh = fields.String(required=True)
    starts = fields.String(required=True, metadata={"description": "when the chain starts and stops, in words"})
    current_version = fields.Integer(required=True, metadata={"description": "what subjects starting now take"})
    items = fields.List(fields.Nested(ChainVersionSchema), required=True, metadata={"description": "newest first"})


class ChainSummarySchema(Schema):
    chain = fields.String(required=True)
    title_zh = fields.String(required=True)
    current_version = fields.Integer(required=True)
    explanation = fields.List(fields.String(), required=True)


class ChainListSchema(Schema):
    items = fields.List(fields.Nested(ChainSummarySchema), required=True)


def _admin() -> None:
    if not current_principal().is_district_admin:
        raise ApiError("forbidden")


def _errors(blp_: Blueprint) -> Any:
    return blp_.alt_response(422, schema=ErrorSchema, description=(
        "`escalation_chain_invalid` (a step's field at fault), `escalation_chain_unsafe` (the chain's own rule: "
        "elderly-sos keeps a human in the loop), `validation_error` (unknown chain)"))


def versions_view(session: Any, terms: chains.ChainTerms) -> dict[str, Any]:
    """A chain and its versions (the API's answer and the console's table)."""
    return {"chain": terms.key, "title_zh": terms.title_zh, "starts": terms.starts,
            "current_version": chains.current_version(session, terms.key), "items": chains.versions(session, terms)}


@blp.route("")
class Chains(MethodView):
    @require_staff
    @blp.response(200, ChainListSchema)
    def get(self):
        """Every changeable chain, with the version new subjects take, in words."""
        _admin()
        session = get_session()
        items = []
        for key, terms in sorted(chains.TERMS.items()):
            version = chains.current_version(session, key)
            items.append({"chain": key, "title_zh": terms.title_zh, "current_version": version,
                          "explanation": terms.explain(chains.policy(session, terms, version))})
        return {"items": items}


@blp.route("/versions")
class ChainVersions(MethodView):
    @require_staff
    @blp.arguments(ChainArgsSchema, location="query")
    @blp.response(200, ChainVersionsSchema)
    def get(self, args):
        """A chain's versions, newest first, down to the declared one (version 0)."""
        _admin()
        return versions_view(get_session(), chains.terms_for(args["chain"]))

    @require_staff
    @blp.arguments(ChainPostSchema)
    @blp.response(201, ChainVersionSchema)
    @_errors(blp)
    @blp.alt_response(409, schema=ErrorSchema, description="`conflict`: another change took that version first")
    def post(self, args):
        """Set a new version: for subjects that start after it (those running keep theirs)."""
        _admin()
        session = get_session()
        terms = chains.terms_for(args["chain"])
        principal = current_principal()
        row = chains.set_chain(session, terms, steps=args["steps"], reason=args["reason"],
                               now=current_clock().now(), actor_account_id=principal.account_id,
                               acting_org_id=principal.org_id)
        session.commit()
        return next(v for v in chains.versions(session, terms) if v["version"] == row.version)


@blp.route("/preview")
class ChainPreview(MethodView):
    @require_staff
    @blp.arguments(ChainPreviewSchema)
    @blp.response(200, ChainExplainedSchema)
    @_errors(blp)
    def post(self, args):
        """What a chain would do, in words, without saving it (refused as a new version would be)."""
        _admin()
        terms = chains.terms_for(args["chain"])
        policy = chains.parse(terms, args["steps"])
        return {"chain": terms.key, "steps": chains.policy_json(policy), "explanation": terms.explain(policy)}


def blueprints(settings: Settings) -> list[Blueprint]:
    return [blp]
