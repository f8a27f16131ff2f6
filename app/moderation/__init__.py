"""Content moderation of user text and photos that others will see.

``service.submit`` records one ``ModerationItem`` per text and photo of a subject (a city
report, a hot spot, a listing…) and returns the subject's state: ``cleared``,
``pending_review`` or ``rejected``. A ``Moderator`` gives each a machine verdict (the local
keyword filter by default, WeChat's content security API when ``MODERATION_PROVIDER=wechat``);
staff decide what waits in ``pending_review``; the ``moderation_decided`` signal tells the
owning scenario. Private content (a repair inside someone's home) is not submitted at all:
that is the caller's choice.
"""
