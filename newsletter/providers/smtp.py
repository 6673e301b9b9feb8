"""SMTP: several reused connections in parallel, STARTTLS and AUTH from a URL, optional DKIM.

``NEWSLETTER_SMTP_URL`` is ``smtp://user:pass@host:port`` (``?starttls=1`` to upgrade the
connection; ``smtps://`` for TLS from the start). A recipient the server refuses (a 5xx, or a 4xx)
fails alone; a dropped connection fails the rest of its share of the batch as transient, so the
send loop can try them again.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from .base import AuthError, Mailing, ProviderBase, Recipient, Result, SetupError
from .message import MessageBuilder

_DOT = re.compile(rb"(?m)^\.")  # dot-stuffing (RFC 5321 §4.5.2)


class _MaybeSent(Exception):
    """The message was handed to the server, and then the connection failed."""


DKIM_HEADERS = [
    b"from", b"to", b"subject", b"date", b"message-id", b"mime-version", b"content-type",
    b"list-unsubscribe", b"list-unsubscribe-post", b"list-id", b"reply-to",
]


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    username: str = ""
    password: str = ""
    starttls: bool = False
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> "SmtpTarget":
        """The target of an ``smtp://`` URL. A ValueError never repeats the URL: it holds a password."""
        from ..configcheck import smtp_url_problem

        problem = smtp_url_problem(url)
        if problem:
            raise ValueError(problem)
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        flag = lambda name: query.get(name, ["0"])[-1].lower() in ("1", "true", "yes")  # noqa: E731
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 25),
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            starttls=flag("starttls"),
            tls=tls,
        )


@dataclass(frozen=True)
class DkimKey:
    selector: str
    domain: str
    private_key: bytes  # PEM

    def sign(self, raw: bytes) -> bytes:
        import dkim

        signature = dkim.sign(raw, self.selector.encode(), self.domain.encode(), self.private_key,
                              include_headers=DKIM_HEADERS)
        return signature + raw


class SmtpProvider(ProviderBase):
    name = "smtp"
    batch_size = 200

    def __init__(self, url: str, connections: int = 4, timeout: float = 30.0, dkim: DkimKey | None = None,
                 local_hostname: str | None = None):
        self.target = SmtpTarget.parse(url)
        self.connections = max(1, connections)
        self.timeout = timeout
        self.dkim = dkim
        self.local_hostname = local_hostname
        self._local = threading.local()
        self._open: list[smtplib.SMTP] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=self.connections, thread_name_prefix="smtp")
        self._builder: MessageBuilder | None = None

    # --- connections ----------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        t = self.target
        context = ssl.create_default_context()
        try:
            if t.tls:
                conn: smtplib.SMTP = smtplib.SMTP_SSL(t.host, t.port, timeout=self.timeout,
                                                      context=context, local_hostname=self.local_hostname)
            else:
                conn = smtplib.SMTP(t.host, t.port, timeout=self.timeout, local_hostname=self.local_hostname)
            conn.ehlo()
            if t.starttls:
                conn.starttls(context=context)
                conn.ehlo()
            if t.username:
                conn.login(t.username, t.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise AuthError(f"SMTP server refused the login for {t.username!r}: {exc.smtp_code} {_text(exc.smtp_error)}") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SetupError(f"SMTP server {t.host}:{t.port} cannot do what NEWSLETTER_SMTP_URL asks: {exc}") from None
        with self._lock:
            self._open.append(conn)
        return conn

    def _connection(self) -> smtplib.SMTP:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._lock:
                if conn in self._open:
                    self._open.remove(conn)
            try:
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()

    # --- sending --------------------------------------------------------------------------

    def send(self, mailing: Mailing, recipients: Sequence[Recipient]) -> list[Result]:
        if self._builder is None or self._builder.mailing is not mailing:
            self._builder = MessageBuilder(mailing)
        builder = self._builder
        sender = parseaddr(mailing.from_address)[1]
        shares = [list(recipients[i :: self.connections]) for i in range(self.connections)]
        futures = [self._pool.submit(self._send_share, builder, sender, share) for share in shares if share]
        by_recipient: dict[int, Result] = {}
        for future in futures:
            for result in future.result():
                by_recipient[id(result.recipient)] = result
        return [by_recipient[id(r)] for r in recipients]

    def _send_share(self, builder: MessageBuilder, sender: str, share: list[Recipient]) -> list[Result]:
        results: list[Result] = []
        for index, recipient in enumerate(share):
            try:
                conn = self._connection()
                eight_bit = conn.has_extn("8bitmime")
                message_id, raw = builder.build(recipient, eight_bit=eight_bit)
                if self.dkim is not None:
                    raw = self.dkim.sign(raw)
                result = self._deliver(conn, sender, recipient, message_id, raw, eight_bit)
            except _MaybeSent as exc:
                # The message went out; the server's answer did not come back. It may be delivered.
                self._drop()
                results.append(Result(recipient, ok=False, in_doubt=True, error=str(exc)))
                reason = f"SMTP connection to {self.target.host}:{self.target.port} lost"
                results.extend(Result(r, ok=False, error=reason, transient=True, not_attempted=True)
                               for r in share[index + 1:])
                return results
            except (smtplib.SMTPException, OSError) as exc:
                # Nothing of this message went out: this recipient and the rest of the share can retry.
                self._drop()
                reason = f"SMTP connection to {self.target.host}:{self.target.port} failed: {exc or type(exc).__name__}"
                results.extend(Result(r, ok=False, error=reason, transient=True, not_attempted=True)
                               for r in share[index:])
                return results
            results.append(result)
        return results

    def _deliver(self, conn: smtplib.SMTP, sender: str, recipient: Recipient, message_id: str, raw: bytes,
                 eight_bit: bool) -> Result:
        """MAIL, RCPT and DATA by hand, so that a lost answer after the message went out is told
        apart from a failure before it did (``sendmail`` would hide which)."""
        code, reply = conn.mail(sender, ["BODY=8BITMIME"] if eight_bit else [])
        if code != 250:
            self._reset(conn)
            return Result(recipient, ok=False, error=f"sender refused: {code} {_text(reply)}", transient=400 <= code < 500)
        code, reply = conn.rcpt(recipient.email)
        if code not in (250, 251):
            self._reset(conn)
            return Result(recipient, ok=False, error=f"{code} {_text(reply)}", transient=400 <= code < 500)
        code, reply = conn.docmd("data")
        if code != 354:
            self._reset(conn)
            return Result(recipient, ok=False, error=f"{code} {_text(reply)}", transient=400 <= code < 500)
        body = _DOT.sub(b"..", raw)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        conn.send(body + b".\r\n")
        try:
            code, reply = conn.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _MaybeSent(f"no answer from the SMTP server after the message was sent: {exc or type(exc).__name__}") from None
        if code != 250:
            return Result(recipient, ok=False, error=f"{code} {_text(reply)}", transient=400 <= code < 500)
        return Result(recipient, ok=True, message_id=message_id)

    @staticmethod
    def _reset(conn: smtplib.SMTP) -> None:
        try:
            conn.rset()
        except (smtplib.SMTPException, OSError):
            pass


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
