"""Checking every setting when it is loaded, before any command touches the store or a provider.

Each problem is one line naming where the value came from: the settings file and line with the key
(``newsletter.toml:7: reply_to: …``), or the environment variable (``NEWSLETTER_SMTP_URL: …``).
Values that hold secrets (the SMTP password, API keys, the secret key) are never repeated in a
message. Header-bound values (``from``, ``reply_to``, ``unsubscribe_mailto``, the name, URLs) may not
hold a line break: one there would add headers, such as a ``Bcc:``, to every message.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import Problem, display_path

#: Bytes of the secret key, at the least: shorter keys can be found from one token by brute force.
MIN_SECRET_KEY = 32
#: Bytes a DKIM key file may have (a 4096-bit RSA key in PEM is about 3.3 KB).
MAX_KEY_FILE = 64 * 1024
#: The most batches a send may keep in flight (``max_in_flight``): one thread and connection each.
MAX_IN_FLIGHT = 64
#: Hosts where plain http:// is allowed (local development and test stand-ins).
LOOPBACK = ("localhost", "127.0.0.1", "::1")

_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\x85\u2028\u2029]")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(_ATEXT + r"(?:\." + _ATEXT + ")*")
#: ``Name <address>`` or a bare address.
_MAILBOX = re.compile(r"\s*(?:(.*?)\s*<([^<>]*)>|([^<>\s]+))\s*")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_TEMPLATE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_SELECTOR = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")
_API_KEY = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces: it goes into a header


def check_settings(s, problem: Callable[[str, str], Problem]) -> list[Problem]:
    """Every problem with the settings ``s``; ``problem(attribute, message)`` says where it came from."""
    found: list[Problem] = []
    failed: set[str] = set()

    def check(attr: str, message: str | None) -> None:
        if message and attr not in failed:  # one problem per key: the first is the one to fix
            failed.add(attr)
            found.append(problem(attr, message))

    for attr in ("name", "language", "template", "outbox", "dkim_selector", "dkim_domain", "dkim_key_file"):
        check(attr, _one_line(getattr(s, attr)))
    check("postal_address", "contains a control character" if _CONTROL_BUT_NEWLINE.search(s.postal_address) else None)
    check("utm.source", _one_line(s.utm.source))
    check("utm.medium", _one_line(s.utm.medium))
    if not s.name.strip():
        check("name", "must not be empty")
    check("from_address", mailbox(s.from_address))
    if s.reply_to:
        check("reply_to", mailbox(s.reply_to))
    if s.unsubscribe_mailto:
        check("unsubscribe_mailto", mailbox(s.unsubscribe_mailto, bare=True))
    check("base_url", web_url(s.base_url, path_ok=True))
    check("sendgrid_host", web_url(s.sendgrid_host, path_ok=False))
    if not _LANGUAGE.fullmatch(s.language):
        check("language", f"{s.language!r} is not a language tag like en or pt-BR")
    check("timezone", _zone(s.timezone))
    if not _TEMPLATE.fullmatch(s.template):
        check("template", f"{s.template!r} is not a template name (letters, digits, . _ -), e.g. weekly")
    for attr in ("provider_timeout", "schedule_grace", "scheduler_lease"):
        check(attr, _seconds(getattr(s, attr)))
    check("in_doubt_grace", _seconds(s.in_doubt_grace, zero_ok=True))
    if not 1 <= s.max_in_flight <= MAX_IN_FLIGHT:
        check("max_in_flight", f"{s.max_in_flight} is not a number of requests from 1 to {MAX_IN_FLIGHT}")
    check("worker_lease", _seconds(s.worker_lease))
    if not math.isfinite(s.rate_limit) or s.rate_limit < 0:
        check("rate_limit", f"{s.rate_limit!r} is not a number of messages per second of 0 (no limit) or more")
    if s.list_id:
        label = s.list_id.strip("<>")
        check("list_id", _one_line(s.list_id) or (None if "." in label and _hostname(label) else
                         f"{s.list_id!r} is not a label like weekly.thelongtake.example (the List-Id header)"))
    check("secret_key", _secret_key(s.secret_key))
    check("smtp_url", smtp_url_problem(s.smtp_url) if s.smtp_url else None)
    if s.sendgrid_api_key and not _API_KEY.fullmatch(s.sendgrid_api_key):
        check("sendgrid_api_key", "contains spaces, a line break or other characters an API key never has")
    check("sendgrid_webhook_key", _base64(s.sendgrid_webhook_key) if s.sendgrid_webhook_key else None)
    check("database_url", _database_url(s.database_url) if s.database_url else None)
    for attr, message in _dkim(s):
        check(attr, message)
    return found


def _one_line(value: str) -> str | None:
    if _CONTROL.search(value):
        return "contains a line break or another control character"
    return None


def mailbox(value: str, *, bare: bool = False) -> str | None:
    """Why ``value`` is not one address (``Name <local@domain>``, or only the address when
    ``bare``), or None."""
    if _CONTROL.search(value):
        return "contains a line break or another control character: it would add headers to every message"
    match = _MAILBOX.fullmatch(value)
    if not match:
        return f"{value!r} is not one email address"
    name, address = match.group(1) or "", match.group(2) or match.group(3)
    if bare and (name or match.group(2) or ":" in address):
        return f"{value!r}: give only the address, e.g. unsubscribe@example.com"
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return f"{value!r} is not an email address (no @)"
    if not domain:
        return f"{value!r} has no domain after the @"
    if not _LOCAL.fullmatch(local):
        return f"{value!r}: the part before the @ is not a plain address"
    if not _hostname(domain):
        return f"{value!r}: {domain!r} is not a domain name"
    return None


def _hostname(name: str) -> bool:
    try:
        ascii_name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        return False
    return len(ascii_name) <= 253 and bool(_HOSTNAME.fullmatch(ascii_name))


def _host(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return _hostname(name)


def _url_parts(value: str) -> tuple[SplitResult | None, str]:
    """The parts of a URL, or None and why not (in words that never repeat the URL)."""
    if _CONTROL.search(value) or " " in value:
        return None, "it contains spaces or line breaks"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None, "the host or port is malformed"
    if port == 0:
        return None, "port 0 is not a port"
    return parts, ""


def web_url(value: str, *, path_ok: bool) -> str | None:
    """Why ``value`` is not an absolute https:// URL (http:// allowed for loopback hosts), or None."""
    parts, why = _url_parts(value)
    if parts is None:
        return f"{value!r} is not an http(s) URL: {why}"
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        return f"{value!r} is not an http(s) URL: give an absolute one like https://example.com"
    if parts.scheme == "http" and host not in LOOPBACK:
        return f"{value!r} must use https:// (http:// is only for localhost and 127.0.0.1)"
    if parts.username is not None or parts.password is not None:
        return "must not contain a user name or password"
    if not _host(host):
        return f"{value!r}: {host!r} is not a host name"
    if parts.query or parts.fragment or (not path_ok and parts.path not in ("", "/")):
        return f"{value!r}: give only the scheme and host{' and path' if path_ok else ''}, without ? or #"
    return None


def smtp_url_problem(value: str) -> str | None:
    """Why ``value`` is not a usable ``smtp://`` URL, or None. Never repeats the URL: it holds a password."""
    hint = "expected smtp://user:pass@host:port (percent-encode @ : / # ? in the user name and password)"
    parts, why = _url_parts(value)
    if parts is None:
        return f"{why}; {hint}"
    if parts.scheme not in ("smtp", "smtps"):
        return f"not an smtp:// or smtps:// URL; {hint}"
    if not parts.hostname or not _host(parts.hostname):
        return f"no usable host name; {hint}"
    if parts.path not in ("", "/") or parts.fragment:
        return f"unexpected path or # after the host; {hint}"
    return None


def _zone(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"{name!r} is not a time zone name like UTC or America/New_York"
    return None


def _seconds(value: float, zero_ok: bool = False) -> str | None:
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        return f"{value!r} is not a number of seconds {'of 0 or more' if zero_ok else 'above 0'}"
    return None


def _secret_key(value: str) -> str | None:
    size = len(value.encode("utf-8"))
    if value and size < MIN_SECRET_KEY:
        return (f"{size} byte{'s' if size != 1 else ''} is too short: use at least {MIN_SECRET_KEY} random bytes, "
                "e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))'")
    return None


def _base64(value: str) -> str | None:
    try:
        base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return "is not base64 (paste the public key SendGrid shows for the signed event webhook)"
    return None


def _database_url(value: str) -> str | None:
    if _CONTROL.search(value) or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value):
        return "is not a database URL, e.g. postgresql+psycopg://user@host/db or sqlite:///newsletter.db"
    return None


def _dkim(s) -> list[tuple[str, str]]:
    """(attribute, problem) pairs of the DKIM settings, which go together."""
    given = {attr: getattr(s, attr) for attr in ("dkim_selector", "dkim_domain", "dkim_key_file")}
    if not any(given.values()):
        return []
    missing = [attr for attr, value in given.items() if not value]
    if missing:
        present = next(attr for attr, value in given.items() if value)  # the line to point at
        return [(present, f"DKIM needs dkim_selector, dkim_domain and dkim_key_file together "
                          f"(missing: {', '.join(missing)})")]
    found = []
    if not _SELECTOR.fullmatch(s.dkim_selector):
        found.append(("dkim_selector", f"{s.dkim_selector!r} is not a DKIM selector (letters, digits, . _ -)"))
    if not _hostname(s.dkim_domain):
        found.append(("dkim_domain", f"{s.dkim_domain!r} is not a domain name"))
    reason = dkim_key_problem(dkim_key_path(s))
    if reason:
        found.append(("dkim_key_file", reason))
    return found


def dkim_key_path(settings) -> Path:
    path = Path(settings.dkim_key_file)
    return path if path.is_absolute() else settings.root / path


def dkim_key_problem(path: Path) -> str | None:
    """Why the file is not an RSA private key (PEM) that DKIM can sign with, or None. The key's
    content is never part of the message."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_FILE + 1)  # /dev/zero must not fill memory
    except OSError as exc:
        return f"cannot read {display_path(path)}: {exc.strerror or type(exc).__name__}"
    if len(data) > MAX_KEY_FILE:
        return f"{display_path(path)} is larger than any key ({MAX_KEY_FILE // 1024} KB)"
    import dkim

    try:
        dkim.sign(b"From: a@example.com\r\nSubject: t\r\n\r\nt\r\n", b"s", b"example.com", data,
                  include_headers=[b"from"])
    except Exception:  # dkimpy raises several kinds (KeyFormatError, ASN.1, base64): all mean "not a key"
        return f"{display_path(path)} is not an RSA private key in PEM form (-----BEGIN PRIVATE KEY-----)"
    return None
