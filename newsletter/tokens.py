"""Signed, purpose-bound tokens for the links in every email: unsubscribe, preferences, confirm.

A token names one subscriber and is signed (HMAC-SHA256 with a key itsdangerous derives per
purpose), so an unsubscribe token never opens someone's preferences, nor anyone else's. Unsubscribe and
preference tokens do not expire (an old email's link must keep working); confirmation tokens do.
Signing is the per-recipient cost of sending: each purpose's HMAC pads are hashed once
(:class:`_Mac`), and :meth:`Tokens.links` gives a recipient's two link URLs at once, about 1.5 µs
each instead of 2.5 with ``hmac.digest``.

The key is ``NEWSLETTER_SECRET_KEY``; without it one is generated once and kept in the publication
folder (``.secret_key``, git-ignored), so links stay valid across runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from itsdangerous import Signer

from .config import Settings
from .configcheck import MIN_SECRET_KEY
from .errors import InputError

PURPOSES = ("unsubscribe", "preferences", "confirm")
KEY_FILE = ".secret_key"
CONFIRM_MAX_AGE = 7 * 24 * 3600


class BadToken(ValueError):
    """The token is forged, damaged, for another purpose, or expired."""


def secret_key(settings: Settings) -> bytes:
    """The signing key: from settings, or the publication's key file, created on first use.

    A key file shorter than :data:`~newsletter.configcheck.MIN_SECRET_KEY` bytes is refused (the
    setting itself is checked when settings load); nothing about the key is ever printed.
    """
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    path = Path(settings.root) / KEY_FILE
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(32)
    # Written to a file of its own, then linked into place: two processes starting at once end up
    # with the same key, and nobody ever reads a file that is still empty.
    try:
        fd, temporary = tempfile.mkstemp(prefix=".secret_key.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(key + "\n")
            os.link(temporary, path)
        finally:
            os.unlink(temporary)
    except FileExistsError:
        return _read_key(path)
    except OSError as exc:
        raise InputError.at(path, None, f"cannot create the secret key file ({exc.strerror}): "
                                        "set NEWSLETTER_SECRET_KEY instead") from None
    return key.encode("ascii")


def _read_key(path: Path) -> bytes:
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise InputError.at(path, None, f"cannot read the secret key: {exc.strerror or type(exc).__name__}") from None
    if len(key) < MIN_SECRET_KEY:
        raise InputError.at(path, None, f"the secret key is {len(key)} bytes, at least {MIN_SECRET_KEY} are needed: "
                                        "delete the file to have a new one made (links in emails sent so far stop working)")
    return key


class Tokens:
    """Makes and reads tokens, and the public URLs that carry them.

    A token shows the subscriber id and a signature over the id *and the subscriber's address*:
    if the subscriber is erased and the id is ever given to someone else, old links stop working
    rather than acting on the new person. Reading a token therefore looks the address up.
    """

    def __init__(self, key: bytes, base_url: str, confirm_max_age: int = CONFIRM_MAX_AGE):
        self.base_url = base_url.rstrip("/")
        self.confirm_max_age = confirm_max_age
        self._signers = {
            purpose: Signer(key, salt=f"newsletter.{purpose}", digest_method=hashlib.sha256)
            for purpose in PURPOSES
        }
        self._keys = {purpose: signer.derive_key() for purpose, signer in self._signers.items()}
        self._macs = {purpose: _Mac(key) for purpose, key in self._keys.items()}
        self._link_prefixes = (f"{self.base_url}/unsubscribe/", f"{self.base_url}/preferences/")

    @classmethod
    def for_settings(cls, settings: Settings) -> "Tokens":
        return cls(secret_key(settings), settings.base_url)

    def _signature(self, purpose: str, message: str, legacy: bool = False) -> str:
        """Signer.get_signature's MAC, with the derived key computed once (this runs per recipient),
        written in hex. The base64 form (``legacy``, still read) has ``-`` in it, and a piece after
        one can look like a Bitcoin address to SpamAssassin (PDS_BTC_ID, +1 point, about one token in
        7,000); hex never can."""
        if not legacy:
            return self._macs[purpose].hexdigest(message.encode("utf-8"))
        mac = hmac.digest(self._keys[purpose], message.encode("utf-8"), "sha256")
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    def make(self, purpose: str, subscriber_id: int, email_key: str, now: float | None = None,
             legacy: bool = False) -> str:
        if purpose == "confirm":
            stamp = format(int(now if now is not None else time.time()), "x")
            message = f"{subscriber_id}:{email_key}:{stamp}"
            return f"{subscriber_id}.{stamp}.{self._signature(purpose, message, legacy)}"
        return f"{subscriber_id}.{self._signature(purpose, f'{subscriber_id}:{email_key}', legacy)}"

    def read(self, purpose: str, token: str, email_of: Callable[[int], str | None]) -> int:
        """The subscriber id in a token; :class:`BadToken` unless it is valid for ``purpose`` and
        for the address ``email_of(id)`` gives now (None: no such subscriber)."""
        parts = token.split(".")
        stamp = None
        if purpose == "confirm":
            if len(parts) != 3 or not _hex(parts[1]) or len(parts[1]) > 16:
                raise BadToken("this link is not valid")
            stamp = int(parts[1], 16)
        elif len(parts) != 2:
            raise BadToken("this link is not valid")
        # ASCII digits only: str.isdigit() and int() also take other scripts' digits ("٤٢").
        if not _ID.fullmatch(parts[0]):
            raise BadToken("this link is not valid")
        subscriber_id = int(parts[0])
        email_key = email_of(subscriber_id)
        if email_key is None:
            raise BadToken("this link is not valid")
        legacy = not _hex(parts[-1])  # a link from an email sent before tokens were written in hex
        expected = self.make(purpose, subscriber_id, email_key, now=stamp, legacy=legacy)
        # As bytes: compare_digest raises TypeError for str holding non-ASCII characters.
        if not hmac.compare_digest(expected.encode("utf-8"), token.encode("utf-8", "replace")):
            raise BadToken("this link is not valid")
        if stamp is not None and time.time() - stamp > self.confirm_max_age:
            raise BadToken("this link has expired")
        return subscriber_id

    @staticmethod
    def issued_at(token: str) -> float:
        """When a confirmation token was made (epoch seconds); only for a token :meth:`read` accepted."""
        return float(int(token.split(".")[1], 16))

    def url(self, purpose: str, subscriber_id: int, email_key: str) -> str:
        return f"{self.base_url}/{purpose}/{self.make(purpose, subscriber_id, email_key)}"

    def unsubscribe_url(self, subscriber_id: int, email_key: str) -> str:
        return self.url("unsubscribe", subscriber_id, email_key)

    def preferences_url(self, subscriber_id: int, email_key: str) -> str:
        return self.url("preferences", subscriber_id, email_key)

    def confirm_url(self, subscriber_id: int, email_key: str) -> str:
        return self.url("confirm", subscriber_id, email_key)

    def links(self, subscriber_id: int, email_key: str) -> tuple[str, str]:
        """The unsubscribe and preferences URLs of one recipient, as :meth:`url` makes them:
        what every email carries, so the send loop asks for both at once."""
        message = f"{subscriber_id}:{email_key}".encode("utf-8")
        unsubscribe, preferences = self._link_prefixes
        return (f"{unsubscribe}{subscriber_id}.{self._macs['unsubscribe'].hexdigest(message)}",
                f"{preferences}{subscriber_id}.{self._macs['preferences'].hexdigest(message)}")


class _Mac:
    """HMAC-SHA256 with one key, its inner and outer pads hashed once (RFC 2104): signing is then
    two hash copies and updates. ``hmac.digest`` derives the pads again on every call (1.7 µs), and
    copying a keyed ``hmac.new`` object does what this does through more layers (1.1 µs; this: 0.7)."""

    def __init__(self, key: bytes):
        if len(key) > 64:  # SHA-256's block size: a longer key is hashed first, as hmac does
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


#: A subscriber id as written in a token: ASCII digits that fit a 64-bit database integer.
_ID = re.compile(r"[1-9][0-9]{0,17}")


def _hex(text: str) -> bool:
    return bool(text) and all(c in "0123456789abcdef" for c in text)
