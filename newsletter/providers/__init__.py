"""Providers: outbox (default), SMTP and SendGrid behind one small interface (see ``base``)."""

from .base import (
    AuthError,
    BatchRejected,
    InDoubt,
    Mailing,
    Provider,
    ProviderError,
    Recipient,
    Result,
    SetupError,
    TransientError,
)

__all__ = [
    "AuthError", "BatchRejected", "InDoubt", "Mailing", "Provider", "ProviderError", "Recipient", "Result",
    "SetupError", "TransientError",
]


def make_provider(settings, name: str | None = None) -> Provider:
    """The provider named (or the configured one), checked before anything is queued."""
    from pathlib import Path

    from ..config import PROVIDERS
    from ..errors import InputError

    name = name or settings.provider
    if name not in PROVIDERS:
        raise InputError.at("newsletter.toml" if settings.config_path else "settings", None,
                            f"provider: {name!r} is not one of {', '.join(PROVIDERS)}")
    if name == "outbox":
        from .outbox import OutboxProvider

        folder = Path(settings.outbox)
        folder = folder if folder.is_absolute() else settings.root / folder
        try:
            return OutboxProvider(folder)
        except OSError as exc:
            raise InputError.at(folder, None, f"the outbox cannot be a Maildir here: {exc.strerror or exc}") from None
    if name == "smtp":
        from .smtp import DkimKey, SmtpProvider

        if not settings.smtp_url:
            raise InputError.at("settings", None, "provider smtp needs NEWSLETTER_SMTP_URL (smtp://user:pass@host:port)")
        dkim = None
        if settings.dkim_key_file:
            from ..configcheck import dkim_key_path, dkim_key_problem

            key_path = dkim_key_path(settings)
            problem = dkim_key_problem(key_path)  # checked again here: a bad key must stop the send now
            if problem:
                raise InputError.at("settings", None, f"dkim_key_file: {problem}")
            dkim = DkimKey(settings.dkim_selector, settings.dkim_domain, key_path.read_bytes())
        try:
            return SmtpProvider(settings.smtp_url, dkim=dkim, timeout=settings.provider_timeout)
        except ValueError as exc:
            raise InputError.at("settings", None, f"NEWSLETTER_SMTP_URL: {exc}") from None
    from .sendgrid import SendGridProvider

    if not settings.sendgrid_api_key:
        raise InputError.at("settings", None, "provider sendgrid needs SENDGRID_API_KEY")
    if not settings.sendgrid_host.startswith(("https://", "http://")):
        raise InputError.at("settings", None,
                            f"NEWSLETTER_SENDGRID_HOST: {settings.sendgrid_host!r} is not an http(s) URL")
    return SendGridProvider(settings.sendgrid_api_key, host=settings.sendgrid_host, timeout=settings.provider_timeout,
                            max_in_flight=settings.max_in_flight)
