"""Checking and normalizing one email address."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


class BadAddress(ValueError):
    """The address is not a valid email address; the message says why."""


def normalize(raw: str) -> tuple[str, str]:
    """``(email, key)``: trimmed, domain in ASCII (punycode), ``key`` lowercased for uniqueness."""
    text = raw.strip()
    if not text:
        raise BadAddress("no email address")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise BadAddress(f"invalid email address {text!r}: {exc}") from None
    email = result.ascii_email or result.normalized
    return email, email.lower()
