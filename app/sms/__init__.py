"""Text messages: the outbox channel ``sms`` and its providers (``record`` by default, ``http``)."""
