"""Shared domain engines (workflow, booking, dispatch, listing, approval, telemetry, ledger)."""
