"""What keeps the forms honest: CSRF tokens, a honeypot field and rate limits.

- **CSRF** (double submit, signed): the form page sets a random cookie and puts a signed copy of
  it in a hidden field; a POST is accepted only when the two agree and the signature is less than
  :data:`CSRF_MAX_AGE` old. Another site can make a browser send the cookie, but cannot read it to
  forge the field. The cookie is ``SameSite=Lax`` and ``Secure`` when the site is https.
- **Honeypot**: a field people never see (:data:`HONEYPOT`); bots fill every field. A form with it
  filled gets the ordinary answer and does nothing.
- **Rate limits**: sliding windows in memory, per client address and per email address (keyed by
  its hash). In memory means per process: run one ``serve`` process, or put a limit in the proxy.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

CSRF_COOKIE = "nl_csrf"
CSRF_FIELD = "csrf"
CSRF_MAX_AGE = 4 * 3600
HONEYPOT = "website"
#: Subscribe forms one client address may send per window (an office behind one NAT sends several).
PER_CLIENT = (20, 600.0)
#: Confirmation requests one email address may cause per window (nobody gets mail-bombed).
PER_ADDRESS = (3, 3600.0)


class Csrf:
    """Issues and checks the form tokens."""

    def __init__(self, key: bytes, secure: bool):
        self.signer = TimestampSigner(key, salt="newsletter.csrf", digest_method=hashlib.sha256)
        self.secure = secure

    def token(self, cookie: str | None) -> tuple[str, str | None]:
        """(the hidden field's value, a new cookie to set or None to keep the one sent)."""
        if cookie and 16 <= len(cookie) <= 64 and cookie.isascii() and cookie.replace("-", "").replace("_", "").isalnum():
            return self.signer.sign(cookie).decode("ascii"), None
        fresh = secrets.token_urlsafe(24)
        return self.signer.sign(fresh).decode("ascii"), fresh

    def valid(self, cookie: str | None, field: str | None) -> bool:
        if not cookie or not field:
            return False
        try:
            value = self.signer.unsign(field, max_age=CSRF_MAX_AGE).decode("ascii")
        except (BadSignature, SignatureExpired, UnicodeDecodeError):
            return False
        return hmac.compare_digest(value, cookie)

    def set_cookie(self, response, value: str | None) -> None:
        if value:
            response.set_cookie(CSRF_COOKIE, value, max_age=CSRF_MAX_AGE, httponly=True, samesite="lax",
                                secure=self.secure)


class RateLimit:
    """At most ``limit`` hits per ``window`` seconds for each key; thread-safe, memory bounded."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000):
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count a hit for ``key``; False when it is over the limit (the hit is not counted)."""
        now = self.clock()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= self.max_keys:
                    self._prune(now)
                hits = self._hits[key] = deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def _prune(self, now: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - self.window]:
            del self._hits[key]
        while len(self._hits) >= self.max_keys:  # still full of live keys: forget the oldest
            self._hits.pop(next(iter(self._hits)))
