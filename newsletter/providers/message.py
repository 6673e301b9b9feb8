"""One recipient's RFC 5322 message, built as bytes without the ``email`` package's slow paths.

The headers that every recipient shares are prepared once per mailing; per recipient only the
personalized parts are encoded and a few headers written. Parts go as ``8bit`` (UTF-8, lines
folded under SMTP's 998-octet limit) where the server takes 8BITMIME, else as base64 (C speed).
``email.message_from_bytes`` reads either back as ``multipart/alternative`` with text/plain first
and text/html last (RFC 2046 §5.1.4).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
import uuid
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from functools import partial

from ..render import Personalizer
from ..render.placeholders import TOKEN_SHAPE
from .base import Mailing, Recipient

CRLF = "\r\n"


def _header_text(value: str, name: str) -> str:
    """A header value folded to 78 columns with CRLF; RFC 2047-encoded when it is not plain ASCII."""
    value = " ".join(value.split())
    charset = "us-ascii" if value.isascii() else "utf-8"
    return Header(value, charset, header_name=name).encode(maxlinelen=78, linesep=CRLF)


def _address(name: str, email: str) -> str:
    """``Name <email>``; a long or non-ASCII name as encoded words, which fold safely."""
    name = " ".join(name.split())  # no CR/LF (header injection), no runs of white space
    if not name:
        return email
    if name.isascii() and len(name) <= 60:
        return formataddr((name, email))
    return f"{Header(name, 'utf-8', header_name='To').encode(maxlinelen=78, linesep=CRLF)}{CRLF} <{email}>"


def domain_of(address: str) -> str:
    return parseaddr(address)[1].rpartition("@")[2] or "localhost"


def list_id(from_address: str, configured: str = "") -> str:
    """The ``List-Id`` value (RFC 2919): ``Name <label.domain>``. The label is the ``list_id``
    setting when given, else the From name made a label, under the From domain."""
    name = " ".join(parseaddr(from_address)[0].split())
    label = configured.strip().strip("<>") or (
        (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "newsletter") + "." + domain_of(from_address)
    )
    return f"{_header_text(name, 'List-Id')} <{label}>" if name else f"<{label}>"


def list_unsubscribe(mailing: Mailing, recipient: Recipient, fold: str = " ") -> str:
    """The List-Unsubscribe value; ``fold`` goes between the two links (CRLF + space in a header)."""
    value = f"<{recipient.unsubscribe_url}>"
    if mailing.unsubscribe_mailto:
        value += f",{fold}<mailto:{mailing.unsubscribe_mailto}?subject=unsubscribe>"
    return value


class _EightBitPart:
    """A part folded for 8bit once per mailing, kept as bytes split at its placeholders.

    Folding never splits a placeholder (they hold no spaces); only lines with placeholders can
    grow when filled, so a recipient whose values could push such a line past the limit is folded
    again (rare: a very long name), and everyone else costs one join of bytes.
    """

    def __init__(self, folded: bytes, escape_html: bool, fold, linesep: bytes = b"\r\n"):
        text = folded.decode("utf-8")
        self.personalizer = Personalizer.compile(text, escape_html=escape_html)
        self.pieces = [piece.encode("utf-8").replace(b"\r\n", linesep) for piece in self.personalizer.pieces]
        self.slots = self.personalizer.slots
        self.escape = escape_html
        self.fold = fold
        self.linesep = linesep
        # Each line with placeholders: its length without them, and the fields it takes.
        lines = [Personalizer.compile(line, escape_html=False) for line in text.split(CRLF) if TOKEN_SHAPE.search(line)]
        self.token_lines = [(len("".join(line.pieces).encode("utf-8")), [field for _, field in line.slots])
                            for line in lines]

    def fill(self, values: dict[str, str]) -> bytes | None:
        escape = html.escape if self.escape else str
        encoded = {field: escape(value).encode("utf-8") for field, value in values.items()}
        if any(rest + sum(len(encoded[f]) for f in fields) > MAX_LINE for rest, fields in self.token_lines):
            folded = self.fold(self.personalizer.fill(values).encode("utf-8"))
            return None if folded is None else folded.replace(b"\r\n", self.linesep)
        parts = list(self.pieces)
        for index, field in self.slots:
            parts[index] = encoded[field]
        return b"".join(parts)


class MessageBuilder:
    """Builds each recipient's message for one mailing, with CRLF line ends (SMTP) or ``linesep``
    (a Maildir file takes the local one)."""

    def __init__(self, mailing: Mailing, linesep: bytes = b"\r\n"):
        self.mailing = mailing
        self.linesep = linesep
        self.domain = domain_of(mailing.from_address)
        from_name, from_email = parseaddr(mailing.from_address)
        shared = [
            f"From: {_address(from_name, from_email)}",
            f"Subject: {_header_text(mailing.subject, 'Subject')}",
            "MIME-Version: 1.0",
            f"List-Id: {mailing.list_id}",
            f"X-Newsletter-Issue: {mailing.issue_id}",
        ]
        if mailing.reply_to:
            shared.append(f"Reply-To: {mailing.reply_to}")
        self._shared = CRLF.join(shared)
        self._eight_bit: tuple[_EightBitPart | None, _EightBitPart | None] | None = None

    def _eight_bit_parts(self) -> tuple[_EightBitPart | None, _EightBitPart | None]:
        """(text, html) folded once; None for a part that cannot go as 8bit."""
        if self._eight_bit is None:
            rendered = self.mailing.rendered
            # A space in text may become a line break only where white space is not preformatted.
            text_breaks = "<pre" not in rendered.html and "white-space:pre" not in rendered.html.replace(" ", "")
            fold_html_here = partial(fold_html, text_breaks=text_breaks)
            text = fold_text(rendered.text.encode("utf-8"))
            page = fold_html_here(rendered.html.encode("utf-8"))
            page = _room_for_values(page, fold_html_here) if page is not None else None
            self._eight_bit = (
                _EightBitPart(text, False, fold_text, self.linesep) if text is not None else None,
                _EightBitPart(page, True, fold_html_here, self.linesep) if page is not None else None,
            )
        return self._eight_bit

    def message_id(self) -> str:
        return f"<{uuid.uuid4().hex}@{self.domain}>"

    def build(self, recipient: Recipient, message_id: str | None = None,
              eight_bit: bool = False) -> tuple[str, bytes]:
        """(Message-ID, the message as bytes with CRLF line ends) for one recipient."""
        values = recipient.values()
        message_id = message_id or self.message_id()
        boundary = "=_nl_" + uuid.uuid4().hex
        headers = [
            self._shared,
            f"To: {_address(recipient.name, recipient.email)}",
            # RFC 5322 §3.3: a numeric zone ("+0000"), not the obsolete "GMT".
            f"Date: {format_datetime(dt.datetime.now(dt.timezone.utc))}",
            f"Message-ID: {message_id}",
            f"List-Unsubscribe: {list_unsubscribe(self.mailing, recipient, fold=CRLF + ' ')}",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        ]
        if recipient.subscriber_id is not None:
            headers.append(f"X-Newsletter-Subscriber: {recipient.subscriber_id}")
        headers.append(f'Content-Type: multipart/alternative;{CRLF} boundary="{boundary}"')
        head = (CRLF.join(headers) + CRLF + CRLF).encode("ascii")
        delimiter = f"--{boundary}{CRLF}".encode("ascii")
        text_8bit, html_8bit = self._eight_bit_parts() if eight_bit else (None, None)
        text_body = text_8bit.fill(values) if text_8bit else None
        html_body = html_8bit.fill(values) if html_8bit else None
        html_part = text_part = None
        if text_body is None or html_body is None:  # base64 for this part (a fold failed, or no 8BITMIME)
            html_part, text_part = self.mailing.rendered.personalize(values)
        nl = self.linesep
        if nl != b"\r\n":  # the bodies already have it; the small framing pieces get it here
            head, delimiter = head.replace(b"\r\n", nl), delimiter.replace(b"\r\n", nl)
        return message_id, b"".join((
            head,
            delimiter, _part("text/plain", text_body, text_part, nl),
            delimiter, _part("text/html", html_body, html_part, nl),
            f"--{boundary}--".encode("ascii"), nl,
        ))


def _part(content_type: str, eight_bit: bytes | None, content: str | None, nl: bytes = b"\r\n") -> bytes:
    """A MIME part: the 8bit body when there is one, else ``content`` in base64; lines end in ``nl``."""
    encoding = "8bit" if eight_bit is not None else "base64"
    head = (f'Content-Type: {content_type}; charset="utf-8"{CRLF}'
            f"Content-Transfer-Encoding: {encoding}{CRLF}{CRLF}").encode("ascii").replace(b"\r\n", nl)
    if eight_bit is not None:
        return head + eight_bit + nl
    assert content is not None
    return head + base64.encodebytes(content.encode("utf-8")).replace(b"\n", nl)


MAX_LINE = 998  # octets, without CRLF (RFC 5322 §2.1.1)


def fold_text(data: bytes) -> bytes | None:
    """CRLF line ends; None if a line is too long to send as 8bit (the caller uses base64)."""
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    if any(len(line) > MAX_LINE for line in lines):
        return None
    return b"\r\n".join(lines)


def fold_html(data: bytes, text_breaks: bool = False, limit: int = MAX_LINE) -> bytes | None:
    """HTML with lines of at most ``limit`` octets, broken where a line break changes nothing.

    A space between two attributes of a tag always qualifies; a space in text only when
    ``text_breaks`` (no preformatted text). None when a line cannot be broken.
    """
    out = []
    for line in data.replace(b"\r\n", b"\n").split(b"\n"):
        while len(line) > limit:
            cut = _break_point(line, limit, text_breaks)
            if cut is None:
                return None
            out.append(line[:cut])
            line = line[cut + 1:]
        out.append(line)
    return b"\r\n".join(out)


ROOMY = MAX_LINE // 2


def _room_for_values(folded: bytes, fold) -> bytes:
    """Lines holding placeholders folded again to half the limit where they can be: the values
    filled in per recipient (two signed links and an address can take 500 octets) then fit, and
    no recipient's message has to be folded on its own."""
    lines = folded.split(b"\r\n")
    for number, line in enumerate(lines):
        if len(line) > ROOMY and TOKEN_SHAPE.search(line.decode("utf-8", "replace")):
            lines[number] = fold(line, limit=ROOMY) or line
    return b"\r\n".join(lines)


def _break_point(line: bytes, limit: int, text_breaks: bool) -> int | None:
    """The last space before ``limit`` that a line break may replace: between two attributes of
    a tag, or (with ``text_breaks``) in text. Never inside a comment (Outlook's conditional
    comments), a quoted value, or a ``<style>`` block's string."""
    end = limit
    while True:
        space = line.rfind(b" ", 0, end)
        if space <= 0:
            return None
        end = space
        if line.rfind(b"<!--", 0, space) > line.rfind(b"-->", 0, space):
            continue
        opened, closed = line.rfind(b"<", 0, space), line.rfind(b">", 0, space)
        if opened > closed:
            if line[opened + 1:opened + 2].isalpha() and _outside_quotes(line[opened:space]):
                return space
            continue
        style = line.rfind(b"<style", 0, space)
        if style > line.rfind(b"</style", 0, space):
            if text_breaks and _outside_quotes(line[line.index(b">", style) + 1:space]):
                return space
            continue
        if text_breaks:
            return space


def _outside_quotes(tag_start: bytes) -> bool:
    quote = 0
    for byte in tag_start:
        if quote:
            if byte == quote:
                quote = 0
        elif byte in (34, 39):  # " '
            quote = byte
    return quote == 0
