"""The console's shell: sign-in (the API's staff login: same accounts, throttling and choice
of organisation), logout, switching organisation, the password reset by SMS code, the home
page and the 404 page of unknown console URLs."""
from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, g, redirect, request, url_for
from flask_limiter.errors import RateLimitExceeded

from app.console import session as console_session
from app.console.pages import console_blueprint, error_page, form_args, not_found, public, render, safe_next
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError, message_for
from auth import password_reset, staff
from auth.models import Account
from auth.ratelimit import rate_limit, username_key
from auth.schemas import StaffLoginSchema, SwitchOrgSchema

STATIC = "static"


def _message(exc: ApiError) -> str:
    return exc.message or message_for(exc.code)


@cache  # built once: its views (and their rate limits) are decorated once, whatever the apps
def blueprints() -> list[Blueprint]:
    blp = console_blueprint("shell", __name__, template_folder="templates")
    shell_static = Blueprint("console", __name__, static_folder=STATIC, static_url_path="/console/static")
    blp.register_error_handler(RateLimitExceeded, lambda exc: error_page(ApiError("rate_limited")))

    @blp.get("/")
    def home():
        return render("console/home.html")

    @blp.get("/login")
    @public
    def login_page():
        if g.principal.is_staff:
            return redirect(safe_next(request.args.get("next")))
        return render("console/login.html", next=request.args.get("next", ""), choices=None, error=None)

    @blp.post("/login")
    @public
    @rate_limit("staff_login")
    def login():
        """Sign in; with several organisations and none chosen, the choice is asked (409
        ``org_required`` of the API) and the password typed again."""
        session = get_session()
        clock = current_clock()
        args: dict[str, Any] = {}
        try:
            args = form_args(StaffLoginSchema, skip=("next",))
            account, org = staff.login(session, clock=clock, username=args["username"], password=args["password"],
                                       address=request.remote_addr or "-", org_code=args.get("org"))
            console_session.sign_in(session, clock=clock, account=account, org=org)
            session.commit()
        except ApiError as exc:
            session.rollback()
            choices = (exc.detail or {}).get("organisations") if exc.code == "org_required" else None
            page = render("console/login.html", next=request.form.get("next", ""), choices=choices,
                          username=request.form.get("username", ""), error=_message(exc))
            return page, exc.status, exc.headers
        return redirect(safe_next(request.form.get("next")))

    @blp.post("/logout")
    def logout():
        session = get_session()
        console_session.sign_out(session, clock=current_clock())
        session.commit()
        return redirect(url_for("console_shell.login"))

    @blp.post("/switch")
    def switch():
        """Act for another of one's organisations: a new sign-in session, the old one ends."""
        session = get_session()
        clock = current_clock()
        org = staff.switch_org(session, account_id=g.principal.account_id, org_code=form_args(SwitchOrgSchema)["org"])
        account = session.get(Account, g.principal.account_id)
        console_session.sign_out(session, clock=clock)
        console_session.sign_in(session, clock=clock, account=account, org=org)
        session.commit()
        return redirect(url_for("console_shell.home"))

    @blp.get("/organisations")
    def organisations():
        memberships = staff.active_memberships(get_session(), g.principal.account_id)
        return render("console/organisations.html", choices=[staff.membership_choice(m) for m in memberships])

    @blp.get("/password-reset")
    @public
    def reset_page():
        return render("console/reset_request.html")

    @blp.post("/password-reset")
    @public
    @rate_limit("staff_login")
    @rate_limit("password_reset_user", key_func=username_key)
    def reset_request():
        """The API's reset: the same answer whoever is named; the code goes to the verified mobile."""
        from auth.contact_routes import ResetRequestSchema

        session = get_session()
        password_reset.request(session, clock=current_clock(), username=form_args(ResetRequestSchema)["username"])
        session.commit()
        return redirect(url_for("console_shell.reset_confirm_page", sent=1))

    @blp.get("/password-reset/confirm")
    @public
    def reset_confirm_page():
        return render("console/reset_confirm.html", sent=request.args.get("sent"), error=None)

    @blp.post("/password-reset/confirm")
    @public
    @rate_limit("staff_login")
    @rate_limit("password_reset_user", key_func=username_key)
    def reset_confirm():
        from auth.contact_routes import ResetConfirmSchema

        session = get_session()
        try:
            args = form_args(ResetConfirmSchema)
            password_reset.confirm(session, clock=current_clock(), username=args["username"], code=args["code"],
                                   new_password=args["new_password"])
            session.commit()
        except ApiError as exc:
            session.rollback()
            return render("console/reset_confirm.html", sent=None, error=_message(exc)), exc.status
        return redirect(url_for("console_shell.login", reset=1))

    @blp.route("/<path:rest>", methods=["GET", "POST"])
    @public
    def unknown(rest: str):
        """An unknown console URL: the console's 404 page (not the API's JSON)."""
        return not_found()

    return [blp, shell_static]
