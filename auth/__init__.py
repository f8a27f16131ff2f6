"""Identity: organisations, accounts, persons, staff, devices, tokens, personal data."""
