"""Providers: outbox (default), SMTP and SendGrid behind one small interface (see ``base``)."""

from .base import (
    AuthError, BatchRejected, Mailing, Provider, ProviderError, Recipient, Result, TransientError,
)

__all__ = [
    "AuthError", "BatchRejected", "Mailing", "Provider", "ProviderError", "Recipient", "Result",
    "TransientError",
]
