"""SendGrid: up to 1000 recipients per ``POST /v3/mail/send``, personalized by substitutions.

The rendered issue goes once per request; each recipient is a personalization with its own
``substitutions`` for the per-recipient fields, its own List-Unsubscribe header and the
``subscriber`` custom arg; what is the same for everyone (``List-Unsubscribe-Post``, the ``issue``
custom arg, ``List-Id``) is said once per request, and SendGrid merges it into every
personalization. The webhook finds a ledger row by the ``issue`` and ``subscriber`` custom args
that come back on every event (``web/webhook.py``).

SendGrid substitutes the same values into both parts, but the HTML wants them HTML-escaped. A
field whose values in a batch all read the same escaped (nearly always) has one token in both
parts and one substitution; only when escaping changes one of them does that batch's text part
get its own token (``__NL_T_…``) and every recipient the escaped duplicate.

The hot path leaves the official client's HTTP layer (``python_http_client``): it re-encodes the
body with ``json.dumps``, opens a new TCP connection per request, and formats the whole payload
into a debug string even with logging off (~2.7 ms per 1,000-recipient request). One pooled
``httpx.Client`` per provider (keep-alive, thread-safe, as many connections as requests in
flight) and ``orjson`` for the body replace it; the ``sendgrid`` package stays for its event
webhook helper.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Sequence
from dataclasses import replace
from email.utils import parseaddr

import httpx
import orjson

from ..render.placeholders import TOKENS, first_name
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
#: Requests in flight at most, unless set (``max_in_flight``): the send loop adapts below it.
MAX_IN_FLIGHT = 16


def _address(value: str) -> dict[str, str]:
    name, email = parseaddr(value)
    return {"email": email, "name": name} if name else {"email": email}


def _escapes(values: list[str]) -> bool:
    """Whether HTML-escaping changes any of these values: one escape over all of them."""
    joined = "\n".join(values)
    return html.escape(joined) != joined


class _Prepared:
    """What every request of one mailing shares: the body without content or personalizations,
    the two parts, and which fields each part uses. Made once per mailing."""

    def __init__(self, mailing: Mailing, sandbox: bool):
        self.mailing = mailing
        rendered = mailing.rendered
        self.html = rendered.html
        self.text = rendered.text
        self.base: dict = {
            "from": _address(mailing.from_address),
            "subject": mailing.subject,
            "categories": (mailing.categories or [mailing.issue_id])[:10],
            "headers": {"X-Newsletter-Issue": mailing.issue_id, "List-Id": mailing.list_id,
                        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
            "custom_args": {"issue": mailing.issue_id},
        }
        if mailing.reply_to:
            self.base["reply_to"] = _address(mailing.reply_to)
        if sandbox:
            self.base["mail_settings"] = {"sandbox_mode": {"enable": True}}
        self.in_html = {f for f, t in TOKENS.items() if t in self.html}
        self.in_text = {f for f, t in TOKENS.items() if t in self.text}
        self.fields = [f for f in TOKENS if f in self.in_html or f in self.in_text]
        self._contents: dict[frozenset, list[dict]] = {}

    def content(self, split: frozenset) -> list[dict]:
        """The two parts, the text part's tokens of the ``split`` fields renamed."""
        parts = self._contents.get(split)
        if parts is None:
            text = self.text
            for field in split:
                text = text.replace(TOKENS[field], TEXT_TOKENS[field])
            parts = self._contents[split] = [{"type": "text/plain", "value": text},
                                             {"type": "text/html", "value": self.html}]
        return parts

    def plan(self, values: dict[str, list[str]]) -> tuple[frozenset, list[tuple[str, str, str | None, bool]]]:
        """For one batch, given the values of each field in the HTML part: which fields get a separate text token, and
        per field (field, token, text token or None, escape the token's value)."""
        split, slots = set(), []
        for field in self.fields:
            escape = field in values and _escapes(values[field])
            if escape and field in self.in_text:
                split.add(field)
                slots.append((field, TOKENS[field], TEXT_TOKENS[field], True))
            else:
                slots.append((field, TOKENS[field], None, escape))
        return frozenset(split), slots


class SendGridProvider(ProviderBase):
    name = "sendgrid"
    batch_size = MAX_PER_REQUEST
    #: Requests in flight at most (the send loop adapts below it); one pooled connection each.
    parallel = MAX_IN_FLIGHT

    def __init__(self, api_key: str, host: str = "https://api.sendgrid.com", timeout: float = 30.0,
                 sandbox: bool = False, max_in_flight: int = MAX_IN_FLIGHT):
        if not api_key:
            raise AuthError("SENDGRID_API_KEY is not set")
        self.host = host.rstrip("/")
        self.timeout = timeout
        self.sandbox = sandbox
        self.parallel = max(1, max_in_flight)
        self._url = f"{self.host}/v3/mail/send"
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self._http = httpx.Client(
            timeout=timeout,
            limits=httpx.Limits(max_connections=self.parallel, max_keepalive_connections=self.parallel),
        )
        self._prepared: _Prepared | None = None

    def close(self) -> None:
        self._http.close()

    def _prepare(self, mailing: Mailing) -> _Prepared:
        prepared = self._prepared
        if prepared is None or prepared.mailing is not mailing:  # two threads may both build it: harmless
            prepared = self._prepared = _Prepared(mailing, self.sandbox)
        return prepared

    def personalization(self, mailing: Mailing, recipient: Recipient, slots, name: str | None = None) -> dict:
        """One recipient's personalization; ``slots`` from :meth:`_Prepared.plan`."""
        if name is None:
            name = " ".join(recipient.name.split())  # no CR/LF or tabs in a header or a greeting
        substitutions = {}
        for field, token, text_token, escape in slots:
            value = (recipient.unsubscribe_url if field == "unsubscribe_url" else
                     recipient.preferences_url if field == "preferences_url" else
                     recipient.email if field == "subscriber.email" else
                     name if field == "subscriber.name" else first_name(name))
            if text_token is not None:
                substitutions[text_token] = value
            substitutions[token] = html.escape(value) if escape else value
        to = {"email": recipient.email, "name": name} if name else {"email": recipient.email}
        personalization = {
            "to": [to],
            "substitutions": substitutions,
            "headers": {"List-Unsubscribe": list_unsubscribe(mailing, recipient)},
        }
        if recipient.subscriber_id is not None:
            personalization["custom_args"] = {"subscriber": str(recipient.subscriber_id)}
        return personalization

    def send(self, mailing: Mailing, recipients: Sequence[Recipient]) -> list[Result]:
        if not recipients:
            return []
        if len(recipients) > MAX_PER_REQUEST:
            raise ValueError(f"at most {MAX_PER_REQUEST} recipients per request")
        prepared = self._prepare(mailing)
        names = [" ".join(r.name.split()) for r in recipients]
        columns = {"subscriber.email": [r.email for r in recipients], "subscriber.name": names,
                   "subscriber.first_name": names,  # needs escaping only if the name does
                   "unsubscribe_url": [r.unsubscribe_url for r in recipients],
                   "preferences_url": [r.preferences_url for r in recipients]}
        split, slots = prepared.plan({f: columns[f] for f in prepared.fields if f in prepared.in_html})
        personalizations, too_big = [], {}
        for r, name in zip(recipients, names):
            fitted = self._fitted(mailing, r, slots, name)
            if fitted is None:  # fails alone: one such recipient would make SendGrid refuse all 1000
                too_big[id(r)] = Result(r, ok=False, error=f"per-recipient fields exceed SendGrid's "
                                                            f"{MAX_SUBSTITUTIONS:,}-byte substitutions limit")
            else:
                personalizations.append(fitted)
        message_id = ""
        if personalizations:
            body = orjson.dumps(dict(prepared.base, content=prepared.content(split), personalizations=personalizations))
            del personalizations  # only the bytes wait for the answer, in each of the requests in flight
            message_id = self._post(body)
        if not too_big:
            return [Result(r, ok=True, message_id=message_id) for r in recipients]
        return [too_big.get(id(r)) or Result(r, ok=True, message_id=message_id) for r in recipients]

    def _fitted(self, mailing: Mailing, recipient: Recipient, slots, name: str) -> dict | None:
        """The recipient's personalization, with the name shortened as little as needed when its
        substitutions would pass SendGrid's limit (the name is the one field without a bound:
        a 1,000-character name of non-ASCII letters fills 24 KB); None if even no name is too much."""
        fitted = self.personalization(mailing, recipient, slots, name)
        if _fits(fitted["substitutions"]):
            return fitted
        fitted, low, high = None, 0, len(name) - 1
        while low <= high:  # the longest prefix of the name that fits
            middle = (low + high) // 2
            shorter = replace(recipient, name=name[:middle].rstrip())
            candidate = self.personalization(mailing, shorter, slots)
            if _fits(candidate["substitutions"]):
                fitted, low = candidate, middle + 1
            else:
                high = middle - 1
        return fitted

    def _post(self, body: bytes) -> str:
        """Hand the request over; SendGrid's message id, or the error that says what happened."""
        try:
            response = self._http.post(self._url, content=body, headers=self._headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteError,
                httpx.WriteTimeout, httpx.UnsupportedProtocol) as exc:
            # No connection, or the request could not be written in full: nothing was accepted.
            raise TransientError(f"SendGrid unreachable at {self.host}: {exc or type(exc).__name__}") from None
        except httpx.TransportError as exc:
            # The request went out and the answer was lost: SendGrid may have accepted the batch,
            # and its API has no idempotency key, so resending could mail everyone twice.
            what = (f"no answer within {self.timeout:g} s" if isinstance(exc, httpx.TimeoutException)
                    else f"connection lost: {exc or type(exc).__name__}")
            raise InDoubt(f"SendGrid: {what} after the request was sent") from None
        if response.status_code >= 300:
            raise _translate(response)
        return response.headers.get("X-Message-Id", "")


def _fits(substitutions: dict[str, str]) -> bool:
    """Within SendGrid's limit, counted as JSON with non-ASCII escaped (at least what SendGrid
    counts). A cheap bound first: nearly every recipient is far below it."""
    bound = sum(map(len, substitutions)) + 12 * sum(map(len, substitutions.values())) + 6 * len(substitutions) + 2
    return bound <= MAX_SUBSTITUTIONS or len(json.dumps(substitutions)) <= MAX_SUBSTITUTIONS


def _error_text(response: httpx.Response) -> str:
    body = response.content.decode("utf-8", "replace")
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
    return body.strip()[:500] or f"HTTP {response.status_code}"


def _translate(response: httpx.Response) -> ProviderError:
    status = response.status_code
    text = _error_text(response)
    if status in (401, 403):
        return AuthError(f"SendGrid refused the API key (HTTP {status}): {text}")
    if status == 429:
        reset = None
        try:
            reset = float(response.headers.get("X-RateLimit-Reset")) - time.time()
        except (TypeError, ValueError):
            pass
        return TransientError(f"SendGrid rate limit (HTTP 429): {text}", retry_after=max(reset or 0.0, 0.0) or None)
    if status >= 500:
        return TransientError(f"SendGrid error (HTTP {status}): {text}")
    return BatchRejected(f"SendGrid rejected the batch (HTTP {status}): {text}")
