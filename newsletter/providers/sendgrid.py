"""SendGrid: up to 1000 recipients per ``POST /v3/mail/send``, personalized by substitutions.

The rendered issue goes once per request; each recipient is a personalization with its own
``substitutions`` for the per-recipient fields, its own List-Unsubscribe headers and
``custom_args`` {issue, subscriber} that come back on every event. SendGrid substitutes the same
values into both parts, so the text part's placeholders are renamed (``__NL_T_…``) and get the raw
values while the HTML's get HTML-escaped ones.

Traps of the official client, handled here: it sets no timeout; ``Mail.add_personalization``
prepends (we send a plain dict, in order, and never correlate by position anyway); it opens a new
connection per request and is not thread-safe (one client per thread).
"""

from __future__ import annotations

import html
import http.client
import json
import threading
import time
import urllib.error
from collections.abc import Sequence
from dataclasses import replace
from email.utils import parseaddr

from python_http_client import exceptions as http_errors
from sendgrid import SendGridAPIClient

from ..render.placeholders import TOKENS
from .base import (
    AuthError,
    BatchRejected,
    InDoubt,
    Mailing,
    ProviderBase,
    ProviderError,
    Recipient,
    Result,
    TransientError,
)
from .message import list_unsubscribe

MAX_PER_REQUEST = 1000
#: Bytes of ``substitutions`` SendGrid takes per personalization.
MAX_SUBSTITUTIONS = 10_000
TEXT_TOKENS = {field: token.replace("__NL_", "__NL_T_", 1) for field, token in TOKENS.items()}


def _address(value: str) -> dict[str, str]:
    name, email = parseaddr(value)
    return {"email": email, "name": name} if name else {"email": email}


class SendGridProvider(ProviderBase):
    name = "sendgrid"
    batch_size = MAX_PER_REQUEST
    #: Requests in flight at once: the client opens a connection per request, so overlap them.
    #: Two beat four on two cores (measured with bench/send.py): the rest is the GIL.
    parallel = 2

    def __init__(self, api_key: str, host: str = "https://api.sendgrid.com", timeout: float = 30.0,
                 sandbox: bool = False):
        if not api_key:
            raise AuthError("SENDGRID_API_KEY is not set")
        self.api_key = api_key
        self.host = host.rstrip("/")
        self.timeout = timeout
        self.sandbox = sandbox
        self._local = threading.local()
        self._prepared: tuple[Mailing, dict, list[str], list[str]] | None = None
        self._lock = threading.Lock()

    def _client(self) -> SendGridAPIClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = SendGridAPIClient(api_key=self.api_key, host=self.host)
            client.client.timeout = self.timeout  # the client has none by default
            self._local.client = client
        return client

    def _prepare(self, mailing: Mailing) -> tuple[dict, list[str], list[str]]:
        """The request body shared by every batch, and which fields each part uses; once per mailing."""
        with self._lock:
            if self._prepared is not None and self._prepared[0] is mailing:
                return self._prepared[1:]
            rendered = mailing.rendered
            text = rendered.text
            for field, token in TOKENS.items():
                text = text.replace(token, TEXT_TOKENS[field])
            base: dict = {
                "from": _address(mailing.from_address),
                "subject": mailing.subject,
                "content": [{"type": "text/plain", "value": text}, {"type": "text/html", "value": rendered.html}],
                "categories": (mailing.categories or [mailing.issue_id])[:10],
                "headers": {"X-Newsletter-Issue": mailing.issue_id, "List-Id": mailing.list_id},
            }
            if mailing.reply_to:
                base["reply_to"] = _address(mailing.reply_to)
            if self.sandbox:
                base["mail_settings"] = {"sandbox_mode": {"enable": True}}
            html_fields = [f for f, t in TOKENS.items() if t in rendered.html]
            text_fields = [f for f, t in TEXT_TOKENS.items() if t in text]
            self._prepared = (mailing, base, html_fields, text_fields)
            return base, html_fields, text_fields

    def personalization(self, mailing: Mailing, recipient: Recipient,
                        html_fields: list[str], text_fields: list[str]) -> dict:
        values = recipient.values()
        substitutions = {TOKENS[f]: html.escape(values[f]) for f in html_fields}
        substitutions.update({TEXT_TOKENS[f]: values[f] for f in text_fields})
        to = {"email": recipient.email}
        name = " ".join(recipient.name.split())  # no CR/LF or tabs in a header
        if name:
            to["name"] = name
        custom_args = {"issue": mailing.issue_id}
        if recipient.subscriber_id is not None:
            custom_args["subscriber"] = str(recipient.subscriber_id)
        if recipient.delivery_id is not None:
            custom_args["delivery"] = str(recipient.delivery_id)
        return {
            "to": [to],
            "substitutions": substitutions,
            "headers": {
                "List-Unsubscribe": list_unsubscribe(mailing, recipient),
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
            "custom_args": custom_args,
        }

    def send(self, mailing: Mailing, recipients: Sequence[Recipient]) -> list[Result]:
        if not recipients:
            return []
        if len(recipients) > MAX_PER_REQUEST:
            raise ValueError(f"at most {MAX_PER_REQUEST} recipients per request")
        base, html_fields, text_fields = self._prepare(mailing)
        personalizations, too_big = [], {}
        for r in recipients:
            fitted = self._fitted(mailing, r, html_fields, text_fields)
            if fitted is None:  # fails alone: one such recipient would make SendGrid refuse all 1000
                too_big[id(r)] = Result(r, ok=False, error=f"per-recipient fields exceed SendGrid's "
                                                            f"{MAX_SUBSTITUTIONS:,}-byte substitutions limit")
            else:
                personalizations.append(fitted)
        message_id = ""
        if personalizations:
            response = self._post(dict(base, personalizations=personalizations))
            headers = getattr(response, "headers", None)
            if headers is not None:
                message_id = headers.get("X-Message-Id", "") or ""
        return [too_big.get(id(r)) or Result(r, ok=True, message_id=message_id) for r in recipients]

    def _fitted(self, mailing: Mailing, recipient: Recipient, html_fields: list[str],
                text_fields: list[str]) -> dict | None:
        """The recipient's personalization, with the name shortened as little as needed when its
        substitutions would pass SendGrid's limit (the name is the one field without a bound:
        a 1,000-character name of non-ASCII letters fills 24 KB); None if even no name is too much."""
        fitted = self.personalization(mailing, recipient, html_fields, text_fields)
        if _fits(fitted["substitutions"]):
            return fitted
        fitted, low, high = None, 0, len(recipient.name) - 1
        while low <= high:  # the longest prefix of the name that fits
            middle = (low + high) // 2
            shorter = replace(recipient, name=recipient.name[:middle].rstrip())
            candidate = self.personalization(mailing, shorter, html_fields, text_fields)
            if _fits(candidate["substitutions"]):
                fitted, low = candidate, middle + 1
            else:
                high = middle - 1
        return fitted

    def _post(self, body: dict):
        try:
            return self._client().client.mail.send.post(request_body=body)
        except http_errors.HTTPError as exc:
            raise _translate(exc) from None
        except urllib.error.URLError as exc:
            # urllib wraps failures to connect and to send the request: nothing was accepted.
            raise TransientError(f"SendGrid unreachable at {self.host}: {exc.reason}") from None
        except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
            # The request went out and the answer was lost: SendGrid may have accepted the batch,
            # and its API has no idempotency key, so resending could mail everyone twice.
            what = f"no answer within {self.timeout:g} s" if isinstance(exc, TimeoutError) else f"connection lost: {exc}"
            raise InDoubt(f"SendGrid: {what} after the request was sent") from None


def _fits(substitutions: dict[str, str]) -> bool:
    """Within SendGrid's limit, counted as JSON with non-ASCII escaped (at least what SendGrid
    counts). A cheap bound first: nearly every recipient is far below it."""
    bound = sum(len(k) + 12 * len(v) + 6 for k, v in substitutions.items()) + 2
    return bound <= MAX_SUBSTITUTIONS or len(json.dumps(substitutions)) <= MAX_SUBSTITUTIONS


def _error_text(exc: http_errors.HTTPError) -> str:
    body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body or "")
    try:
        errors = json.loads(body).get("errors") or []
        messages = [
            (f"{e.get('field')}: " if e.get("field") else "") + str(e.get("message", ""))
            for e in errors
        ]
        if messages:
            return "; ".join(messages)
    except (ValueError, AttributeError):
        pass
    return body.strip()[:500] or f"HTTP {exc.status_code}"


def _translate(exc: http_errors.HTTPError) -> ProviderError:
    status = getattr(exc, "status_code", 0) or 0
    text = _error_text(exc)
    if status in (401, 403):
        return AuthError(f"SendGrid refused the API key (HTTP {status}): {text}")
    if status == 429:
        reset = None
        headers = getattr(exc, "headers", None) or {}
        try:
            reset = float(headers.get("X-RateLimit-Reset")) - time.time()
        except (TypeError, ValueError):
            pass
        return TransientError(f"SendGrid rate limit (HTTP 429): {text}", retry_after=max(reset or 0.0, 0.0) or None)
    if status >= 500:
        return TransientError(f"SendGrid error (HTTP {status}): {text}")
    return BatchRejected(f"SendGrid rejected the batch (HTTP {status}): {text}")
