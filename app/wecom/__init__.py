"""企业微信 (WeCom) application messages to staff: the outbox channel ``wecom``.

- ``config``: settings (``WECOM_*``, ``CONSOLE_BASE_URL``), read once per call from the app's settings.
- ``client``: ``WecomApi`` — ``gettoken`` through the shared token row (``app.wechat.tokens.TokenStore``,
  keyed ``wecom:<corpid>:<agentid>``), ``message/send`` with one refetch of a rejected token, and a
  circuit breaker so an outage fails fast.
- ``card``: the text card (title, description, link) from a template and an outbox payload,
  within WeCom's byte limits.
- ``channel``: the outbox channel ``wecom`` (to a staff account's ``StaffContact.wecom_userid``).
"""
