"""How the store names lists; apart from the models so that reading them costs no SQLAlchemy."""

from __future__ import annotations

#: The longest list name the store keeps (``lists.name``).
MAX_LIST_NAME = 200


def fold_list_name(name: str) -> str:
    """A list's name as the store keeps it: trimmed and lowercase, since lists compare
    case-insensitively (``Weekly`` in one file and ``weekly`` in another are one list)."""
    return name.strip().lower()
