"""Checking and normalizing one email address.

email-validator decides; it takes ~20 µs an address, most of it on the domain. Real lists have
few distinct domains, so a plain ASCII address (dot-atom local part) is split, its local part
checked with the same dot-atom rule, and its domain validated once by email-validator and
remembered. Anything else goes to email-validator whole. Addresses that need SMTPUTF8 (a
non-ASCII local part) are refused: few providers deliver them, and SendGrid would refuse a whole
batch over one.
"""

from __future__ import annotations

import re
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")
MAX_LOCAL = 64
MAX_ADDRESS = 254


class BadAddress(ValueError):
    """The address is not a valid email address; the message says why."""


@lru_cache(maxsize=20_000)
def _domain(domain: str) -> str | None:
    """The domain as email-validator normalizes it (ASCII), or None if it refuses it."""
    try:
        result = validate_email(f"a@{domain}", check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    return (result.ascii_domain or result.domain)


def _slow(text: str) -> tuple[str, str]:
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise BadAddress(f"invalid email address {text!r}: {exc}") from None
    email = result.ascii_email or result.normalized
    return email, email.lower()


def normalize(raw: str) -> tuple[str, str]:
    """``(email, key)``: trimmed, domain in ASCII (punycode), ``key`` lowercased for uniqueness."""
    text = raw.strip()
    if not text:
        raise BadAddress("no email address")
    local, at, domain = text.rpartition("@")
    if at and len(local) <= MAX_LOCAL and _DOT_ATOM.fullmatch(local) and domain.isascii():
        normalized = _domain(domain)
        if normalized is not None:
            email = f"{local}@{normalized}"
            if len(email) <= MAX_ADDRESS:
                return email, email.lower()
    return _slow(text)  # email-validator's own verdict and message
