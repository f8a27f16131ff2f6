"""Signed QR codes: keys, tokens, passes, verification, rendering."""
