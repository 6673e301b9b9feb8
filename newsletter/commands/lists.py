"""``newsletter lists``: every list with its subscribers counted by status."""

from __future__ import annotations

from ..config import Settings
from ..store import open_store


def lists(settings: Settings) -> dict[str, dict[str, int]]:
    """List name → status → number of subscribers."""
    with open_store(settings) as store:
        return store.list_counts()
