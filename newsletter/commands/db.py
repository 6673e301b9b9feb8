"""``newsletter db upgrade``: bring the store's schema to the newest revision."""

from __future__ import annotations

from ..config import Settings
from ..store import connect, shown


def upgrade(settings: Settings) -> str:
    """Migrate the store; the URL (password hidden) that was upgraded."""
    engine = connect(settings, migrate=True)
    try:
        return shown(engine.url)
    finally:
        engine.dispose()
