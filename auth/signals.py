"""Identity events other modules listen to (blinker).

- ``person_merged(sender, session, keep_id, drop_id)``: two persons were found to be one
  human (随申办 verification); re-point your rows from ``drop_id`` to ``keep_id``.
- ``person_erased(sender, session, person_id)``: the person cancelled their account (PIPL);
  erase or anonymise your rows about them, keeping only what a law requires.
- ``membership_disabled(sender, session, account_id, org_id, at)``: a staff member may no longer
  act for the organisation (their sessions in it are already revoked); stand down what they
  were doing for it (an agent on duty).
"""
from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

person_merged = _signals.signal("person-merged")
person_erased = _signals.signal("person-erased")
membership_disabled = _signals.signal("membership-disabled")
