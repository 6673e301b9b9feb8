"""Signed, purpose-bound tokens for the links in every email: unsubscribe, preferences, confirm.

A token names one subscriber and is signed (HMAC-SHA256, itsdangerous) with a salt per purpose, so
an unsubscribe token never opens someone's preferences, nor anyone else's. Unsubscribe and
preference tokens do not expire (an old email's link must keep working); confirmation tokens do.
Making one takes about 1 µs: cheap enough to do per recipient while sending.

The key is ``NEWSLETTER_SECRET_KEY``; without it one is generated once and kept in the publication
folder (``.secret_key``, git-ignored), so links stay valid across runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, Signer, TimestampSigner

from .config import Settings

PURPOSES = ("unsubscribe", "preferences", "confirm")
KEY_FILE = ".secret_key"
CONFIRM_MAX_AGE = 7 * 24 * 3600


class BadToken(ValueError):
    """The token is forged, damaged, for another purpose, or expired."""


def secret_key(settings: Settings) -> bytes:
    """The signing key: from settings, or the publication's key file, created on first use."""
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    path = Path(settings.root) / KEY_FILE
    try:
        return path.read_text(encoding="ascii").strip().encode("ascii")
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(32)
    # Create exclusively: two processes starting at once must end up with the same key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip().encode("ascii")
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key.encode("ascii")


class Tokens:
    """Makes and reads tokens, and the public URLs that carry them."""

    def __init__(self, key: bytes, base_url: str, confirm_max_age: int = CONFIRM_MAX_AGE):
        self.base_url = base_url.rstrip("/")
        self.confirm_max_age = confirm_max_age
        self._signers = {
            "unsubscribe": Signer(key, salt="newsletter.unsubscribe", digest_method=hashlib.sha256),
            "preferences": Signer(key, salt="newsletter.preferences", digest_method=hashlib.sha256),
            "confirm": TimestampSigner(key, salt="newsletter.confirm", digest_method=hashlib.sha256),
        }
        self._keys = {purpose: signer.derive_key() for purpose, signer in self._signers.items()}

    @classmethod
    def for_settings(cls, settings: Settings) -> "Tokens":
        return cls(secret_key(settings), settings.base_url)

    def make(self, purpose: str, subscriber_id: int) -> str:
        if purpose == "confirm":
            return self._signers[purpose].sign(str(subscriber_id)).decode("ascii")
        # The same bytes as Signer.sign, with the derived key computed once: this runs per recipient.
        value = str(subscriber_id).encode("ascii")
        mac = hmac.digest(self._keys[purpose], value, "sha256")
        return f"{subscriber_id}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode('ascii')}"

    def read(self, purpose: str, token: str) -> int:
        """The subscriber id in a token; :class:`BadToken` if it is not valid for ``purpose``."""
        signer = self._signers[purpose]
        try:
            if isinstance(signer, TimestampSigner):
                value = signer.unsign(token, max_age=self.confirm_max_age)
            else:
                value = signer.unsign(token)
        except SignatureExpired:
            raise BadToken("this link has expired") from None
        except BadSignature:
            raise BadToken("this link is not valid") from None
        return int(value)

    def url(self, purpose: str, subscriber_id: int) -> str:
        return f"{self.base_url}/{purpose}/{self.make(purpose, subscriber_id)}"

    def unsubscribe_url(self, subscriber_id: int) -> str:
        return self.url("unsubscribe", subscriber_id)

    def preferences_url(self, subscriber_id: int) -> str:
        return self.url("preferences", subscriber_id)

    def confirm_url(self, subscriber_id: int) -> str:
        return self.url("confirm", subscriber_id)
