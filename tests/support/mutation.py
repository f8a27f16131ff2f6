"""Help for ``make mutants`` (mutmut): nothing here acts in an ordinary test run.

mutmut runs, for each mutant, only the tests that called the mutated function in a first
traced run. A function whose result is memoised (the escalation's and the QR consumption's
statements, built once per dialect; the access tokens' checked signatures) is called by the
first test only, so later tests would neither be chosen for its mutants nor see them. Under
mutmut (``MUTANT_UNDER_TEST`` set) each test therefore starts with those memos emptied.
"""
from __future__ import annotations

import os
import sys

MEMOISED = (
    ("scenarios.engines.workflow.escalation", "_statement"),
    ("qr.service", "_consume"),
    ("auth.tokens", "_verified_claims"),
)


def under_mutmut() -> bool:
    return bool(os.environ.get("MUTANT_UNDER_TEST"))


def forget_memos() -> None:
    """Empty the rule modules' memos (only those already imported: importing is not our job)."""
    for module_name, name in MEMOISED:
        module = sys.modules.get(module_name)
        memo = getattr(module, name, None) if module is not None else None
        if memo is not None:
            memo.cache_clear()
