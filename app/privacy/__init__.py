"""Residents' rights over their personal data (PIPL arts. 44, 45): a copy of everything held
about them, built by the worker and downloaded through a signed, expiring link.

- ``parts``: the one hook through which the platform and every engine or scenario contribute
  their part of a person's data (declared by name in the registry: ``personal_data``), and the
  list of tables that hold personal data, so a table nobody exports is caught by a test;
- ``platform``: the platform's own part (person, accounts, residences, relations, uploads,
  notices, staff reads);
- ``models``: ``data_exports``; ``exports``: requesting, building (a timer), signing, purging;
- ``bundle``: the zip (``data.json`` and a readable Chinese ``index.html``); ``routes``: HTTP.
"""
