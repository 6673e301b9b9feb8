"""``POST /webhooks/sendgrid``: SendGrid's Signed Event Webhook.

SendGrid signs ``timestamp + raw body`` with ECDSA (P-256, SHA-256) and sends the base64 DER
signature and the timestamp in headers; the public key (base64 DER, as SendGrid shows it, or PEM)
is ``NEWSLETTER_SENDGRID_WEBHOOK_KEY``. The raw bytes are verified (re-serialized JSON would not
match), the timestamp must be within :data:`MAX_SKEW` seconds of now (a captured request cannot be
replayed later), and only then is the body parsed. Unsigned or badly signed: 403; not a JSON array
of objects: 400; either way nothing is stored. Replays within the window are harmless: events are
deduplicated by ``sg_event_id``.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from ..store.events import BadEvents, parse_events

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_SKEW = 300
log = logging.getLogger("newsletter.web")


class BadKey(ValueError):
    """The configured public key is not an EC P-256 public key."""


def load_key(text: str) -> ec.EllipticCurvePublicKey:
    """The webhook's public key from base64 DER (SendGrid's format) or PEM."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = load_pem_public_key(text.encode("ascii"))
        else:
            key = load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error, UnicodeEncodeError, TypeError) as exc:
        raise BadKey(f"not a public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise BadKey("not an ECDSA P-256 public key")
    return key


class Verifier:
    """Checks one request's signature and timestamp."""

    def __init__(self, key: ec.EllipticCurvePublicKey | None, clock=time.time):
        self.key = key
        self.clock = clock

    def check(self, signature: str | None, timestamp: str | None, body: bytes) -> str | None:
        """None when the request is genuine and fresh, else why not."""
        if self.key is None:
            return "no webhook key is configured (NEWSLETTER_SENDGRID_WEBHOOK_KEY)"
        if not signature or not timestamp:
            return "unsigned"
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
            return "bad timestamp"
        if abs(self.clock() - int(timestamp)) > MAX_SKEW:
            return "stale timestamp"
        try:
            self.key.verify(base64.b64decode(signature, validate=True), timestamp.encode("ascii") + body,
                            ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, binascii.Error, ValueError):
            return "bad signature"
        return None


async def sendgrid_events(request: Request) -> JSONResponse:
    """Verify, parse, and store a batch of events in one transaction."""
    state = request.app.state
    body = await request.body()
    refused = state.verifier.check(request.headers.get(SIGNATURE_HEADER), request.headers.get(TIMESTAMP_HEADER), body)
    if refused:
        log.warning("SendGrid webhook refused: %s", refused)
        return JSONResponse({"error": refused}, status_code=403)
    try:
        events = parse_events(body)
    except BadEvents as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    result = await run_in_threadpool(state.store.events.ingest, events)
    return JSONResponse({"received": result.received, "new": result.new, "matched": result.matched,
                         "updated": result.updated, "suppressed": result.suppressed})
