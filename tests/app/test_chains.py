"""``app.chains``: every installed chain's declared version reads back as a valid version (so
an administrator can start from it), a version's steps are stored as parsed, and a stored
version the code no longer understands escalates by the declared chain (alert someone)."""
from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from app import chains

pytestmark = pytest.mark.usefixtures("ctx")
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_every_declared_chain_is_a_version_its_own_terms_accept(app):
    assert {"elderly-sos", "property-repair", "city-report"} <= set(chains.TERMS)
    for terms in chains.TERMS.values():
        steps = chains.policy_json(terms.declared)
        assert chains.policy_json(chains.parse(terms, steps)) == steps, terms.key
        assert terms.explain(terms.declared)[0].startswith("第 1 级"), terms.key


def test_a_version_is_stored_as_parsed_and_numbered_per_chain(app, session):
    terms = chains.TERMS["elderly-sos"]
    steps = chains.policy_json(terms.declared)
    steps[1]["channels"] = ["sms", "sms", "wechat"]  # repeated names are kept once
    first = chains.set_chain(session, terms, steps=steps, reason=" 家属先短信 ", now=NOW, actor_account_id=None,
                             acting_org_id=None)
    other = chains.set_chain(session, chains.TERMS["property-repair"], reason="同步",
                             steps=chains.policy_json(chains.TERMS["property-repair"].declared), now=NOW,
                             actor_account_id=None, acting_org_id=None)
    assert (first.version, other.version, first.reason) == (1, 1, "家属先短信")
    assert first.steps[1]["channels"] == ["sms", "wechat"]
    assert chains.current_version(session, "elderly-sos") == 1
    assert chains.fingerprint(steps) == chains.fingerprint([dict(reversed(s.items())) for s in steps])


def test_a_version_the_code_no_longer_understands_escalates_by_the_declared_chain(app, session, caplog):
    terms = chains.TERMS["elderly-sos"]
    steps = chains.policy_json(terms.declared)
    chains.set_chain(session, terms, steps=steps, reason="测试", now=NOW, actor_account_id=None, acting_org_id=None)
    session.execute(chains.EscalationChain.__table__.update().values(
        steps=[{**steps[0], "recipients": [{"supplied": "dropped_in_code"}]}]))
    session.info.pop("escalation_chains", None)
    caplog.set_level(logging.ERROR, logger="app.chains")
    assert chains.policy(session, terms, 1) is terms.declared
    assert "no longer valid" in caplog.text
