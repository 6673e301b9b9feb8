"""Test copies (``send --to``): the issue, rendered and checked once, to a few addresses; nothing
is recorded in the ledger, so the real send still reaches everyone."""

from __future__ import annotations

from ..config import Settings
from ..errors import InputError, Problem
from ..providers import AuthError, BatchRejected, Recipient, Result, TransientError, make_provider
from .loop import SendStopped, mailing_for, render_checked


def send_test(issue_name: str, settings: Settings, addresses: list[str],
              provider_name: str | None = None) -> list[Result]:
    """Send one copy to each address, rendered once; nothing is recorded in the ledger. Returns
    the provider's result for each (``ok``, ``message_id``, ``error``)."""
    from ..subscribers.address import BadAddress, normalize  # email-validator: only for test copies

    normalized, problems = [], []
    for address in addresses:
        try:
            normalized.append(normalize(address)[0])
        except BadAddress as exc:
            problems.append(Problem("--to", None, str(exc)))
    if problems:
        raise InputError(problems)
    rendered = render_checked(issue_name, settings)
    base = settings.base_url.rstrip("/")
    recipients = [Recipient(email=address, name="", unsubscribe_url=f"{base}/unsubscribe/test",
                            preferences_url=f"{base}/preferences/test") for address in dict.fromkeys(normalized)]
    with make_provider(settings, provider_name) as provider:
        try:
            return provider.send(mailing_for(rendered, settings), recipients)
        except (TransientError, AuthError, BatchRejected) as exc:
            raise SendStopped(str(exc)) from None
