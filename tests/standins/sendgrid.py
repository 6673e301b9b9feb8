"""A local stand-in of SendGrid's ``POST /v3/mail/send`` for tests and benchmarks.

It enforces the documented limits (≤ 1000 personalizations and ≤ 1000 recipients per request, an
address once per request, reserved headers refused, ``from``, ``subject`` and ``content``
required, substitutions and custom_args ≤ 10,000 bytes, ≤ 10 categories, 401 on a wrong key) and
answers 202 with an ``X-Message-Id``. Faults can be scripted (429 with X-RateLimit-Reset, 5xx, a
slow answer). With ``record=True`` it keeps what each recipient would receive, substitutions applied.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RESERVED_HEADERS = {
    "x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type", "content-transfer-encoding",
    "to", "from", "subject", "reply-to", "cc", "bcc",
}


@dataclass
class Delivered:
    """One recipient's copy, as SendGrid would send it."""

    email: str
    name: str
    subject: str
    text: str
    html: str
    headers: dict
    custom_args: dict
    categories: list
    message_id: str


@dataclass
class Fault:
    status: int
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


class SendGridStandIn:
    """Start with ``with SendGridStandIn(api_key="k") as sg:``; point the provider at ``sg.url``."""

    def __init__(self, api_key: str = "test-key", record: bool = True):
        self.api_key = api_key
        self.record = record
        self.delivered: list[Delivered] = []
        self.requests: list[dict] = []  # summary per accepted or refused request
        self.accepted_requests = 0
        self.accepted_recipients = 0
        self.faults: deque[Fault] = deque()
        #: Seconds every accepted request takes (after reading it, before answering): a slow API.
        self.delay = 0.0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def inject(self, *faults: Fault) -> None:
        """The next requests get these answers, in order, before normal service resumes."""
        self.faults.extend(faults)

    def __enter__(self) -> "SendGridStandIn":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- validation -----------------------------------------------------------------------

    def validate(self, body: dict) -> list[dict]:
        errors: list[dict] = []

        def error(message: str, field_name: str | None = None) -> None:
            errors.append({"message": message, "field": field_name, "help": None})

        personalizations = body.get("personalizations")
        if not isinstance(personalizations, list) or not personalizations:
            error("The personalizations field is required and must have at least one personalization.", "personalizations")
            return errors
        if len(personalizations) > 1000:
            error("The personalizations field must have no more than 1000 items.", "personalizations")
        from_ = body.get("from") or {}
        if not from_.get("email"):
            error("The from object must be provided for every email send.", "from")
        content = body.get("content")
        if not body.get("template_id") and (not isinstance(content, list) or not content
                                            or any(not c.get("type") or not c.get("value") for c in content)):
            error("Unless a valid template_id is provided, the content parameter is required.", "content")
        if len(body.get("categories") or []) > 10:
            error("You may not have more than 10 categories per request.", "categories")
        for name in (body.get("headers") or {}):
            if name.lower() in RESERVED_HEADERS:
                error(f"The header {name} is reserved and may not be set.", "headers")
        seen: set[str] = set()
        recipients = 0
        for i, p in enumerate(personalizations):
            if not (body.get("subject") or p.get("subject")):
                error("The subject is required.", f"personalizations.{i}.subject")
            if not p.get("to"):
                error("The to array is required for all personalization objects.", f"personalizations.{i}.to")
            for kind in ("to", "cc", "bcc"):
                for address in p.get(kind) or []:
                    recipients += 1
                    email = str(address.get("email", "")).lower()
                    if email in seen:
                        error("Each email address in the personalization block should be unique between to, cc, and bcc.",
                              f"personalizations.{i}.{kind}")
                    seen.add(email)
            for name in (p.get("headers") or {}):
                if name.lower() in RESERVED_HEADERS:
                    error(f"The header {name} is reserved and may not be set.", f"personalizations.{i}.headers")
            if len(json.dumps(p.get("substitutions") or {}).encode()) > 10000:
                error("The substitutions object must be no more than 10000 bytes.", f"personalizations.{i}.substitutions")
            custom_args = {**(body.get("custom_args") or {}), **(p.get("custom_args") or {})}
            if any(not isinstance(v, str) for v in custom_args.values()):
                error("Custom args values must be strings.", f"personalizations.{i}.custom_args")
            if len(json.dumps(custom_args).encode()) > 10000:
                error("The custom_args must be no more than 10000 bytes.", f"personalizations.{i}.custom_args")
        if recipients > 1000:
            error("The total number of recipients must be no more than 1000.", "personalizations")
        return errors

    def _accept(self, body: dict, message_id: str) -> None:
        count = sum(len(p.get("to") or []) for p in body["personalizations"])
        delivered = []
        if self.record:
            contents = {c["type"]: c["value"] for c in body.get("content", [])}
            for p in body["personalizations"]:
                text, html_ = contents.get("text/plain", ""), contents.get("text/html", "")
                for key, value in (p.get("substitutions") or {}).items():
                    text, html_ = text.replace(key, value), html_.replace(key, value)
                for to in p["to"]:
                    delivered.append(Delivered(
                        email=to["email"], name=to.get("name", ""), subject=p.get("subject") or body.get("subject"),
                        text=text, html=html_, headers={**(body.get("headers") or {}), **(p.get("headers") or {})},
                        custom_args={**(body.get("custom_args") or {}), **(p.get("custom_args") or {})},
                        categories=list(body.get("categories") or []), message_id=message_id,
                    ))
        with self._lock:
            self.accepted_requests += 1
            self.accepted_recipients += count
            self.delivered.extend(delivered)

    # --- HTTP -----------------------------------------------------------------------------

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def _answer(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, str(value))
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (a timeout test)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/v3/mail/send":
                    self._answer(404, {"errors": [{"message": "not found", "field": None, "help": None}]})
                    return
                if self.headers.get("Authorization") != f"Bearer {standin.api_key}":
                    self._answer(401, {"errors": [{"message": "The provided authorization grant is invalid, expired, or revoked", "field": None, "help": None}]})
                    return
                with standin._lock:
                    fault = standin.faults.popleft() if standin.faults else None
                if fault is not None:
                    if fault.delay:
                        time.sleep(fault.delay)
                    standin.requests.append({"status": fault.status})
                    self._answer(fault.status, fault.body, fault.headers)
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._answer(400, {"errors": [{"message": "Bad Request", "field": None, "help": None}]})
                    return
                errors = standin.validate(body)
                if errors:
                    standin.requests.append({"status": 400, "errors": errors})
                    self._answer(400, {"errors": errors})
                    return
                message_id = uuid.uuid4().hex[:22]
                standin._accept(body, message_id)
                if standin.delay:
                    time.sleep(standin.delay)
                standin.requests.append({"status": 202, "recipients": sum(len(p["to"]) for p in body["personalizations"])})
                self._answer(202, None, {"X-Message-Id": message_id})

        return Handler
