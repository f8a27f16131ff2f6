"""The console's editor of an escalation chain (``app.chains``), on the pages that show a chain
(``/console/escalation-policies?chain=<slug>``, ``/console/sos/escalation``): the versions, and a
form of steps that is first previewed — the chain in words (``ChainTerms.explain``), refused
as the API refuses it — and saved only as previewed (the form carries the preview's
fingerprint; a changed form is previewed again). The form's rows become the API's JSON steps
(``form_steps``), so one ``parse`` and one ``set_chain`` serve both.
"""
from __future__ import annotations

from typing import Any

from flask import g, request
from werkzeug.datastructures import MultiDict

from app import chains
from app.chain_routes import versions_view
from app.console.pages import render
from app.context import current_clock
from app.db import get_session
from app.errors import ApiError, message_for
from app.escalation import CHANNEL_WORDS, INSTRUCTION_WORDS

FORM_STEPS = 6
"""Rows of the form: the chain's steps and empty rows to add more (the API takes up to ``MAX_STEPS``)."""


def _seconds(raw: str | None) -> Any:
    """A number of seconds as typed: an int when it is one, None when blank, else the text (refused)."""
    raw = (raw or "").strip()
    if not raw:
        return None
    return int(raw) if raw.isdigit() and len(raw) <= 9 else raw


def form_steps(terms: chains.ChainTerms, form: MultiDict) -> list[dict[str, Any]]:
    """The form's rows as the API's steps (a row with no name and no recipient is left out)."""
    steps = []
    for n in range(FORM_STEPS):
        name = (form.get(f"s{n}_name") or "").strip()
        picked = form.getlist(f"s{n}_r")
        if not name and not picked:
            continue
        by_org: dict[str, list[str]] = {}
        recipients: list[dict[str, Any]] = []
        for value in picked:
            kind, _, rest = value.partition(":")
            if kind == "supplied":
                recipients.append({"supplied": rest})
            else:
                by_org.setdefault(kind, []).append(rest)
        recipients = [{"of": of, "roles": roles} for of, roles in by_org.items()] + recipients
        after = None if terms.target is not None and form.get(f"s{n}_target") else _seconds(form.get(f"s{n}_after"))
        if after is None and terms.target is None:
            after = ""  # every step states its limit: refused by parse under its field
        steps.append({"name": name, "after_seconds": after, "since": form.get(f"s{n}_since") or "previous",
                      "recipients": recipients, "channels": form.getlist(f"s{n}_ch"),
                      "urgent": bool(form.get(f"s{n}_urgent")), "instruction": form.get(f"s{n}_instruction") or None,
                      "repeat_seconds": _seconds(form.get(f"s{n}_repeat"))})
    return steps


def _rows(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The form's rows from steps (``step_json`` rows), padded with empty ones."""
    rows = []
    for step in steps[:FORM_STEPS]:
        picked = [f"{r['of']}:{role}" for r in step.get("recipients", []) if "of" in r for role in r.get("roles", [])]
        picked += [f"supplied:{r['supplied']}" for r in step.get("recipients", []) if "supplied" in r]
        rows.append({**step, "picked": picked})
    return rows + [{"name": "", "picked": [], "channels": [], "urgent": True, "since": "previous"}
                   for _ in range(FORM_STEPS - len(rows))]


def chain_editor(terms: chains.ChainTerms, *, title: str, action_url: str, back: str | None = None) -> Any:
    """The editor page of ``terms``' chain (GET: the current version in the form; POST
    ``action=preview`` or ``save``)."""
    session = get_session()
    view = versions_view(session, terms)
    current = next(v for v in view["items"] if v["version"] == view["current_version"])
    context: dict[str, Any] = {"terms": terms, "title": title, "view": view, "current": current,
                               "action_url": action_url, "back": back, "choices": terms.recipient_choices(),
                               "channel_words": {c: CHANNEL_WORDS.get(c, c) for c in chains.CHANNELS},
                               "instructions": INSTRUCTION_WORDS, "preview": None, "saved": None,
                               "errors": {}, "reason": "", "fingerprint": "", "note": None}
    if request.method != "POST":
        return render("console/chain.html", rows=_rows(current["steps"]), **context)
    steps = form_steps(terms, request.form)
    context["reason"] = request.form.get("reason", "")
    try:
        policy = chains.parse(terms, steps)
        if request.form.get("action") == "save" and request.form.get("fingerprint") == chains.fingerprint(steps):
            row = chains.set_chain(session, terms, steps=steps, reason=context["reason"], now=current_clock().now(),
                                   actor_account_id=g.principal.account_id, acting_org_id=g.principal.org_id)
            session.commit()
            view = versions_view(session, terms)
            saved = next(v for v in view["items"] if v["version"] == row.version)
            context.update(view=view, current=saved, saved=saved, reason="")
            return render("console/chain.html", rows=_rows(saved["steps"]), **context)
        if request.form.get("action") == "save":
            context["note"] = "升级链在预览后有改动：请确认下面的新说明后再保存。"
        context.update(preview=terms.explain(policy), fingerprint=chains.fingerprint(steps))
        return render("console/chain.html", rows=_rows(steps), **context)
    except ApiError as exc:
        if exc.status != 422:
            raise
        context.update(errors=exc.errors or {}, message=message_for(exc.code))
        return render("console/chain.html", rows=_rows(steps), **context), 422
