"""The confirmation email of double opt-in, sent through the publication's own provider.

It is rendered once per process like an issue (Jinja2 → MJML → inlined CSS, and a text part),
with a placeholder for the confirmation link; each mail fills in its link and goes out as a
one-recipient mailing with the usual per-recipient fields, so every provider sends it as it sends
an issue (List-Unsubscribe included: a reader who never asked can leave at once).
"""

from __future__ import annotations

import html
import logging
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace

import jinja2

from ..config import Settings
from ..errors import NewsletterError
from ..providers import Mailing, ProviderError, Recipient, make_provider
from ..render import Personalizer
from ..render.mjml import compile_mjml, inline_css
from ..render.placeholders import template_fields
from ..tokens import Tokens

#: Not a valid issue id (those start with a letter or digit): SendGrid events for it match no ledger row.
MAILING_ID = "_confirm"
CONFIRM_URL = "__NL_CONFIRM_URL__"
TEMPLATES = Path(__file__).resolve().parent / "templates"
log = logging.getLogger("newsletter.web")


@dataclass
class ConfirmationParts:
    """The rendered email with its confirmation link filled in; what a provider reads of a rendered issue."""

    html: str
    text: str

    @cached_property
    def _parts(self) -> tuple[Personalizer, Personalizer]:
        return Personalizer.compile(self.html, escape_html=True), Personalizer.compile(self.text, escape_html=False)

    def personalize(self, values: dict[str, str]) -> tuple[str, str]:
        html_part, text_part = self._parts
        return html_part.fill(values), text_part.fill(values)


class ConfirmationMail:
    """Renders the confirmation email once and sends it to one address at a time."""

    def __init__(self, settings: Settings, tokens: Tokens):
        self.settings = settings
        self.tokens = tokens
        self._lock = threading.Lock()

    @cached_property
    def subject(self) -> str:
        return f"Confirm your subscription to {self.settings.name}"

    @cached_property
    def _rendered(self) -> tuple[str, str]:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        context = {
            "publication": SimpleNamespace(name=self.settings.name, base_url=self.settings.base_url.rstrip("/"),
                                           postal_address=self.settings.postal_address,
                                           language=self.settings.language),
            "subject": self.subject, "confirm_url": CONFIRM_URL, **template_fields(),
        }
        page = inline_css(compile_mjml(env.get_template("confirm-email.mjml").render(context)))
        env.autoescape = False
        text = env.get_template("confirm-email.txt").render(context)
        return page, text

    def parts(self, confirm_url: str) -> ConfirmationParts:
        with self._lock:  # rendered once, by whichever request comes first
            page, text = self._rendered
        return ConfirmationParts(page.replace(CONFIRM_URL, html.escape(confirm_url)), text.replace(CONFIRM_URL, confirm_url))

    def send(self, subscriber_id: int, email: str, email_key: str, name: str) -> bool:
        """Send one confirmation email; False (and a log line) when the provider did not take it."""
        mailing = Mailing(
            issue_id=MAILING_ID, subject=self.subject, from_address=self.settings.from_address,
            rendered=self.parts(self.tokens.confirm_url(subscriber_id, email_key)),  # type: ignore[arg-type]
            reply_to=self.settings.reply_to, unsubscribe_mailto=self.settings.unsubscribe_mailto,
        )
        recipient = Recipient(
            email=email, name=name, subscriber_id=subscriber_id,
            unsubscribe_url=self.tokens.unsubscribe_url(subscriber_id, email_key),
            preferences_url=self.tokens.preferences_url(subscriber_id, email_key),
        )
        try:
            with make_provider(self.settings) as provider:
                result = provider.send(mailing, [recipient])[0]
        except (ProviderError, NewsletterError, OSError) as exc:
            log.error("confirmation email to subscriber %s not sent: %s", subscriber_id, exc)
            return False
        if not result.ok:
            log.error("confirmation email to subscriber %s not sent: %s", subscriber_id, result.error)
        return result.ok
