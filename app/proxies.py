"""Client addresses behind a reverse proxy: ``X-Forwarded-*`` is believed only from our proxies.

``TRUSTED_PROXIES`` (comma-separated IPs or CIDRs; unset: none) names the peers allowed to say
who the client is. A request whose peer (``REMOTE_ADDR``) is one of them goes through
Werkzeug's ``ProxyFix`` with ``TRUSTED_PROXY_HOPS`` (default 1) for ``X-Forwarded-For`` and
``X-Forwarded-Proto``; any other request is passed on untouched, so a forged header from the
internet changes nothing: rate limits, sign-in throttling and known addresses all see
``request.remote_addr``.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def parse_networks(value: str | None, *, setting: str) -> tuple[Network, ...]:
    """``"10.0.0.1, 10.1.0.0/16"`` → networks; a bad entry is a ``ConfigError`` naming ``setting``."""
    networks = []
    for part in (value or "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(f"{setting}: {part!r} is not an IP address or CIDR network") from None
    return tuple(networks)


def address_in(address: str | None, networks: Iterable[Network]) -> bool:
    """Whether ``address`` (text, possibly missing or malformed) lies in one of ``networks``."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


class TrustedProxies:
    """WSGI middleware: ``ProxyFix`` for requests from a trusted proxy, nothing for the rest."""

    def __init__(self, wsgi_app: Any, networks: tuple[Network, ...], hops: int) -> None:
        self.wsgi_app = wsgi_app
        self.networks = networks
        self.fixed = ProxyFix(wsgi_app, x_for=hops, x_proto=hops)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if address_in(environ.get("REMOTE_ADDR"), self.networks):
            return self.fixed(environ, start_response)
        return self.wsgi_app(environ, start_response)


def install(app: Any) -> None:
    """Wrap ``app.wsgi_app`` when ``TRUSTED_PROXIES`` is set."""
    settings = app.extensions["settings"]
    networks = parse_networks(settings.get("TRUSTED_PROXIES"), setting="TRUSTED_PROXIES")
    if not networks:
        return
    try:
        hops = int(settings.get("TRUSTED_PROXY_HOPS") or "1")
    except ValueError:
        raise ConfigError("TRUSTED_PROXY_HOPS must be a whole number") from None
    if hops < 1:
        raise ConfigError("TRUSTED_PROXY_HOPS must be at least 1")
    app.wsgi_app = TrustedProxies(app.wsgi_app, networks, hops)
