"""The notification outbox: rows written with the state change, delivered by the worker."""
