"""Publication settings: ``newsletter.toml`` overridden by ``NEWSLETTER_*`` environment variables.

The file is searched upwards from the working directory (or given with ``--config``); the folder
that holds it is the publication's root, where ``articles/``, ``issues/``, ``templates/`` and
``subscribers/`` live. Without a file, the working directory is the root and every default applies.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from .errors import InputError, Problem, display_path

CONFIG_NAME = "newsletter.toml"
#: The SQLite store in the publication folder when no ``database_url`` is set.
DEFAULT_STORE = "newsletter.db"
PROVIDERS = ("outbox", "smtp", "sendgrid")


@dataclass
class UtmSettings:
    """UTM tags added to links that point at the publication's own articles."""

    enabled: bool = True
    #: ``utm_source``
    source: str = "newsletter"
    #: ``utm_medium``
    medium: str = "email"


@dataclass
class WebSettings:
    """What ``newsletter serve`` offers readers."""

    #: Lists a reader can choose on the subscribe and preferences pages (all ticked at first).
    lists: list[str] = field(default_factory=list)


@dataclass
class Settings:
    """Everything a publication configures. Paths are absolute once loaded."""

    #: The publication's name, shown in the header and the From name.
    name: str = "Newsletter"
    #: The From address, e.g. ``"The Long Take <letters@thelongtake.example>"``.
    from_address: str = "newsletter@localhost"
    #: Reply-To address; empty for none.
    reply_to: str = ""
    #: Postal address printed in every footer (CAN-SPAM).
    postal_address: str = ""
    #: The public site: web versions, unsubscribe and preference pages live below it.
    base_url: str = "http://localhost:8000"
    #: ``lang`` of the rendered email.
    language: str = "en"
    #: Zone for ``send_at`` values written without an offset.
    timezone: str = "UTC"
    #: Template used when an issue names none.
    template: str = "weekly"
    #: SQLAlchemy URL of the store; default: a SQLite file in the publication folder.
    database_url: str = ""
    #: ``outbox`` | ``smtp`` | ``sendgrid``
    provider: str = "outbox"
    #: Folder of the local outbox (a Maildir).
    outbox: str = "outbox"
    #: Signs unsubscribe and preference tokens.
    secret_key: str = ""
    smtp_url: str = ""
    #: Seconds to wait for a provider's answer (SMTP, SendGrid) before the batch is in doubt.
    provider_timeout: float = 30.0
    #: Batches handed to the provider at once, at most: the send adapts below it (more while it
    #: raises throughput, half after a 429). A provider answering in 300 ms needs about 10.
    max_in_flight: int = 16
    #: Tries per recipient for temporary refusals before the delivery fails.
    max_attempts: int = 5
    #: Failing batches in a row before a send pauses (the rest stays queued).
    pause_after: int = 5
    #: Seconds after its time within which a send missed while no scheduler ran still goes out;
    #: later, it is marked ``missed`` and reported, never sent by surprise.
    schedule_grace: float = 3600.0
    #: Seconds a scheduler holds a running send without renewing its claim; after that (it died),
    #: another scheduler takes the send over and resumes it through the ledger.
    scheduler_lease: float = 60.0
    #: Seconds after its batch that ``send --retry-in-doubt`` leaves an in-doubt SendGrid delivery
    #: alone, waiting for the event webhook to show whether it was sent.
    in_doubt_grace: float = 900.0
    #: Messages per second for the whole fleet of send workers (a budget shared in PostgreSQL);
    #: 0 for no limit.
    rate_limit: float = 0.0
    #: Seconds a send worker's claims hold without a heartbeat; after that (it died) its rows in
    #: flight become ``in_doubt``.
    worker_lease: float = 30.0
    #: Batches a send worker keeps in flight (``newsletter worker --in-flight``).
    worker_in_flight: int = 2
    sendgrid_api_key: str = ""
    sendgrid_host: str = "https://api.sendgrid.com"
    sendgrid_webhook_key: str = ""
    #: DKIM signing for the SMTP provider: selector, domain and the private key (PEM file).
    dkim_selector: str = ""
    dkim_domain: str = ""
    dkim_key_file: str = ""
    #: Added to List-Unsubscribe beside the https link, e.g. ``unsubscribe@thelongtake.example``.
    unsubscribe_mailto: str = ""
    #: The label of the ``List-Id`` header, e.g. ``weekly.thelongtake.example``; default: the
    #: name made a label under the From domain (``the-long-take.thelongtake.example``).
    list_id: str = ""
    utm: UtmSettings = field(default_factory=UtmSettings)
    web: WebSettings = field(default_factory=WebSettings)
    #: RSS/Atom feeds (URLs, or files in the publication) whose new entries become articles before
    #: each ``newsletter new`` and each occurrence of a recurring issue.
    sources: list[str] = field(default_factory=list)
    #: The publication folder (where ``newsletter.toml`` is).
    root: Path = field(default_factory=Path.cwd)
    #: The settings file that was read, if any.
    config_path: Path | None = None

    @property
    def articles_dir(self) -> Path:
        return self.root / "articles"

    @property
    def issues_dir(self) -> Path:
        return self.root / "issues"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def subscribers_dir(self) -> Path:
        return self.root / "subscribers"

    def web_url(self, issue_id: str) -> str:
        """Where the web version of an issue is published."""
        return f"{self.base_url.rstrip('/')}/archive/{issue_id}/"


# Keys of the TOML file → Settings attribute (only where they differ).
_FILE_KEYS = {"from": "from_address"}
_KEY_OF = {attr: key for key, attr in _FILE_KEYS.items()}
_ENV = {
    "NEWSLETTER_DATABASE_URL": "database_url",
    "NEWSLETTER_PROVIDER": "provider",
    "NEWSLETTER_BASE_URL": "base_url",
    "NEWSLETTER_SECRET_KEY": "secret_key",
    "NEWSLETTER_SMTP_URL": "smtp_url",
    "SENDGRID_API_KEY": "sendgrid_api_key",
    "NEWSLETTER_SENDGRID_HOST": "sendgrid_host",
    "NEWSLETTER_OUTBOX": "outbox",
    "NEWSLETTER_SENDGRID_WEBHOOK_KEY": "sendgrid_webhook_key",
}


def find_config(start: Path | None = None) -> Path | None:
    """The nearest ``newsletter.toml`` in ``start`` or a parent folder."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def load_settings(config: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read the settings file (given, or found upwards), apply environment overrides and check
    every value; all problems are raised together, one line each naming the key."""
    env = os.environ if env is None else env
    path = Path(config) if config else find_config()
    settings = Settings()
    lines: dict[str, int] = {}
    if path is not None:
        if not path.is_file():
            raise InputError.at(path, None, "settings file not found")
        settings, lines = _read_file(path)
    from_env = {}
    for var, attr in _ENV.items():
        if env.get(var):
            setattr(settings, attr, env[var])
            from_env[attr] = var
    shown = display_path(settings.config_path) if settings.config_path else "settings"

    def problem(attr: str, message: str) -> Problem:
        if attr in from_env:
            return Problem(from_env[attr], None, message)
        key = _KEY_OF.get(attr, attr)
        return Problem(shown, lines.get(key), f"{key}: {message}")

    problems = _validate(settings, problem)
    if problems:  # in the file's order, then the environment's
        raise InputError(sorted(problems, key=lambda p: (p.path != shown, p.line or 0)))
    return settings


def _read_file(path: Path) -> tuple[Settings, dict[str, int]]:
    """The settings the file gives, and the line of each key (``utm.source`` for tables)."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM (Windows editors write one) is not content
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise InputError.at(path, None, "not UTF-8 text") from None
    except OSError as exc:
        raise InputError.at(path, None, f"cannot read the settings: {exc.strerror or type(exc).__name__}") from None
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(match.group(1)) if match else None
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise InputError.at(path, line, f"TOML syntax error: {message}") from None

    settings = Settings(root=path.parent.resolve(), config_path=path.resolve())
    lines = _key_lines(text)
    problems: list[Problem] = []
    tables = ("utm", "web")
    known = {f.name: f for f in fields(Settings) if f.name not in ("root", "config_path", *tables)}
    defaults = Settings()
    for key, value in data.items():
        attr = _FILE_KEYS.get(key, key)
        if key in tables:
            _read_table(shown, key, value, getattr(settings, key), problems, lines)
        elif key == "from" or (attr in known and key != "from_address"):
            default = getattr(defaults, attr)
            if isinstance(default, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
                setattr(settings, attr, float(value))
            elif isinstance(default, int) and isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                setattr(settings, attr, value)
            elif isinstance(default, str) and isinstance(value, str):
                setattr(settings, attr, value)
            elif isinstance(default, list) and isinstance(value, list) and all(isinstance(v, str) for v in value):
                setattr(settings, attr, list(value))
            else:
                kind = ("a number" if isinstance(default, float) else "a whole number ≥ 1" if isinstance(default, int)
                        else "a list of strings" if isinstance(default, list) else "a string")
                problems.append(Problem(shown, lines.get(key), f"{key}: expected {kind}"))
        else:
            problems.append(Problem(shown, lines.get(key), f"{key}: unknown key"))
    if problems:
        raise InputError(problems)
    return settings, lines


def _read_table(shown: str, name: str, value: object, target: object, problems: list[Problem],
                lines: dict[str, int]) -> None:
    """A ``[table]`` of the settings file into its dataclass; every value typed like its default."""
    if not isinstance(value, dict):
        problems.append(Problem(shown, lines.get(name), f"{name}: expected a table"))
        return
    for key, item in value.items():
        default = getattr(type(target)(), key, None)
        if default is None:
            problems.append(Problem(shown, lines.get(f"{name}.{key}"), f"{name}.{key}: unknown key"))
        elif type(item) is not type(default) or (isinstance(item, list) and not all(isinstance(v, str) for v in item)):
            kind = "list of strings" if isinstance(default, list) else type(default).__name__
            problems.append(Problem(shown, lines.get(f"{name}.{key}"), f"{name}.{key}: expected a {kind}"))
        else:
            setattr(target, key, item)


_KEY_LINE = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*=""")
_TABLE_LINE = re.compile(r"^\s*\[\s*([A-Za-z0-9_-]+)\s*\]")


def _key_lines(text: str) -> dict[str, int]:
    """Key → the line it is set on, so a message can point at it (tables as ``table.key``)."""
    lines: dict[str, int] = {}
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if header := _TABLE_LINE.match(line):
            table = header.group(1) + "."
            lines.setdefault(header.group(1), number)
        elif match := _KEY_LINE.match(line):
            key = table + next(g for g in match.groups() if g is not None)
            lines.setdefault(key, number)
    return lines


def _validate(settings: Settings, problem) -> list[Problem]:
    from .configcheck import check_settings

    problems = []
    if settings.provider not in PROVIDERS:
        problems.append(problem("provider", f"{settings.provider!r} is not one of {', '.join(PROVIDERS)}"))
    return problems + check_settings(settings, problem)
