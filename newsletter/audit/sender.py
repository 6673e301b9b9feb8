"""Settings that end up in every message's headers, checked before a send.

``from``, ``reply_to`` and ``unsubscribe_mailto`` become From, Reply-To and List-Unsubscribe: each
must be at a real domain (``localhost`` is not one). Gmail and Yahoo require DMARC alignment: the
DKIM signing domain (``dkim_domain``) must be the From domain or share it (one a subdomain of the
other, "relaxed" alignment). What is malformed (a line break in a header-bound setting, an http
``base_url``, a ``list_id`` that is not a label, DKIM settings incomplete) never gets this far:
:mod:`newsletter.configcheck` refuses it when settings load.
"""

from __future__ import annotations

import re
from email.utils import getaddresses

from ..config import Settings

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9]$", re.I)


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
    if settings.unsubscribe_mailto and _address(settings.unsubscribe_mailto) is None:
        messages.append(f"unsubscribe_mailto: {settings.unsubscribe_mailto!r} is not an address with a domain (List-Unsubscribe)")
    domain = from_domain(settings)
    if settings.dkim_domain and domain and not aligned(settings.dkim_domain, domain):
        messages.append(
            f"dkim_domain {settings.dkim_domain!r} does not align with the From domain {domain!r}: Gmail and "
            "Yahoo require DMARC alignment (sign with the From domain or a parent or subdomain of it)")
    return messages
