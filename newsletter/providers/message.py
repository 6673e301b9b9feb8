"""One recipient's RFC 5322 message, built as bytes without the ``email`` package's slow paths.

The headers and MIME skeleton that every recipient shares are prepared once per mailing; per
recipient only the personalized parts are base64-encoded (C speed) and a few headers written.
``email.message_from_bytes`` reads the result back as ``multipart/alternative`` with text/plain
first and text/html last (RFC 2046 §5.1.4).
"""

from __future__ import annotations

import base64
import uuid
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr

from .base import Mailing, Recipient

CRLF = "\r\n"


def _header_text(value: str) -> str:
    """A header value, RFC 2047-encoded when it is not plain ASCII."""
    try:
        value.encode("ascii")
        return value
    except UnicodeEncodeError:
        return Header(value, "utf-8").encode(maxlinelen=998)


def _address(name: str, email: str) -> str:
    name = " ".join(name.split())
    if not name:
        return email
    try:
        name.encode("ascii")
        return formataddr((name, email))
    except UnicodeEncodeError:
        return formataddr((Header(name, "utf-8").encode(maxlinelen=998), email))


def _base64(text: str) -> str:
    return base64.encodebytes(text.encode("utf-8")).decode("ascii").replace("\n", CRLF)


def domain_of(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2] or "localhost"


def list_unsubscribe(mailing: Mailing, recipient: Recipient) -> str:
    value = f"<{recipient.unsubscribe_url}>"
    if mailing.unsubscribe_mailto:
        value += f", <mailto:{mailing.unsubscribe_mailto}?subject=unsubscribe>"
    return value


class MessageBuilder:
    """Builds each recipient's message for one mailing."""

    def __init__(self, mailing: Mailing):
        self.mailing = mailing
        self.domain = domain_of(mailing.from_address)
        from_name, from_email = parseaddr(mailing.from_address)
        shared = [
            f"From: {_address(from_name, from_email)}",
            f"Subject: {_header_text(mailing.subject)}",
            "MIME-Version: 1.0",
            f"X-Newsletter-Issue: {mailing.issue_id}",
        ]
        if mailing.reply_to:
            shared.append(f"Reply-To: {mailing.reply_to}")
        self._shared = CRLF.join(shared)

    def message_id(self) -> str:
        return f"<{uuid.uuid4().hex}@{self.domain}>"

    def build(self, recipient: Recipient, message_id: str | None = None) -> tuple[str, bytes]:
        """(Message-ID, the message as bytes with CRLF line ends) for one recipient."""
        html, text = self.mailing.rendered.personalize(recipient.values())
        message_id = message_id or self.message_id()
        boundary = "=_nl_" + uuid.uuid4().hex
        headers = [
            self._shared,
            f"To: {_address(recipient.name, recipient.email)}",
            f"Date: {formatdate(usegmt=True)}",
            f"Message-ID: {message_id}",
            f"List-Unsubscribe: {list_unsubscribe(self.mailing, recipient)}",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        ]
        if recipient.subscriber_id is not None:
            headers.append(f"X-Newsletter-Subscriber: {recipient.subscriber_id}")
        headers.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        body = (
            CRLF.join(headers) + CRLF + CRLF
            + f"--{boundary}{CRLF}Content-Type: text/plain; charset=\"utf-8\"{CRLF}"
            + f"Content-Transfer-Encoding: base64{CRLF}{CRLF}{_base64(text)}"
            + f"--{boundary}{CRLF}Content-Type: text/html; charset=\"utf-8\"{CRLF}"
            + f"Content-Transfer-Encoding: base64{CRLF}{CRLF}{_base64(html)}"
            + f"--{boundary}--{CRLF}"
        )
        return message_id, body.encode("ascii")
