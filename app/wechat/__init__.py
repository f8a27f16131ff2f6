"""WeChat's server API: the shared access token, subscription messages, the callback.

- ``config``: settings (``WECHAT_*``), read once per call from the app's settings.
- ``tokens``: the access token shared by every process through the database.
- ``client``: ``WechatApi.call`` — JSON POSTs with the token, its renewal on 40001/42001,
  and a small circuit breaker so an outage does not stall the worker.
- ``grants``: one-time subscription grants (``POST /api/v1/me/subscriptions``).
- ``template_data``: WeChat's field limits (``thing`` ≤ 20 characters, …).
- ``channel``: the outbox channel ``wechat`` (``message/subscribe/send``).
- ``callback``: ``/api/v1/wechat/callback``, its signature and an event registry.
"""
