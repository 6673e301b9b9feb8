"""Settings that end up in every message's headers, checked before a send.

``from``, ``reply_to``, ``unsubscribe_mailto``, ``list_id`` and ``name`` become From, Reply-To,
List-Unsubscribe and List-Id; ``base_url`` the one-click unsubscribe link, which RFC 8058 wants
over https. Gmail and Yahoo require DMARC alignment: the DKIM signing domain (``dkim_domain``)
must be the From domain or share it (one a subdomain of the other, "relaxed" alignment).
"""

from __future__ import annotations

import re
from email.utils import getaddresses
from urllib.parse import urlsplit

from ..config import Settings

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9]$", re.I)
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


def _address(value: str) -> tuple[str, str] | None:
    """(display name, address) when ``value`` is exactly one address with a real domain."""
    if any(c in value for c in "\r\n\0"):
        return None
    found = getaddresses([value])
    if len(found) != 1:
        return None
    name, address = found[0]
    local, _, domain = address.rpartition("@")
    return (name, address) if local and _DOMAIN.match(domain) else None


def from_domain(settings: Settings) -> str:
    found = _address(settings.from_address)
    return found[1].rpartition("@")[2].lower() if found else ""


def aligned(signing_domain: str, from_domain: str) -> bool:
    """DMARC relaxed alignment, without the public suffix list: one domain equals the other or is
    a subdomain of it."""
    a, b = signing_domain.lower().strip("."), from_domain.lower().strip(".")
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def sender_problems(settings: Settings) -> list[str]:
    messages = []
    if _address(settings.from_address) is None:
        messages.append(f"from: {settings.from_address!r} is not one address with a domain (the From header)")
    if settings.reply_to and _address(settings.reply_to) is None:
        messages.append(f"reply_to: {settings.reply_to!r} is not one address with a domain (the Reply-To header)")
    if settings.unsubscribe_mailto and (_address(settings.unsubscribe_mailto) is None or "<" in settings.unsubscribe_mailto):
        messages.append(f"unsubscribe_mailto: {settings.unsubscribe_mailto!r} is not a bare address (List-Unsubscribe)")
    if any(ord(c) < 32 for c in settings.name):
        messages.append("name: contains a control character or line break (the List-Id header)")
    if settings.list_id and not _DOMAIN.match(settings.list_id.strip("<>")):
        messages.append(f"list_id: {settings.list_id!r} is not a label like weekly.example.com (the List-Id header)")
    base = urlsplit(settings.base_url)
    if base.scheme != "https" and base.hostname not in _LOCAL_HOSTS:
        messages.append(f"base_url: {settings.base_url!r} is not https: one-click unsubscribe (RFC 8058) needs an https link")
    dkim = [settings.dkim_selector, settings.dkim_domain, settings.dkim_key_file]
    if any(dkim) and not all(dkim):
        messages.append("dkim_selector, dkim_domain and dkim_key_file go together: set all three, or none")
    domain = from_domain(settings)
    if settings.dkim_domain and domain and not aligned(settings.dkim_domain, domain):
        messages.append(
            f"dkim_domain {settings.dkim_domain!r} does not align with the From domain {domain!r}: Gmail and "
            "Yahoo require DMARC alignment (sign with the From domain or a parent or subdomain of it)")
    return messages
