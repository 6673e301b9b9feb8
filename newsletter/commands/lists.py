"""``newsletter lists``: every list with its subscribers counted by status; rename, delete, and
take a member off a list."""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from ..config import Settings
from ..errors import InputError, Problem, display_path
from ..store import Store, open_store
from ..subscribers import BadAddress, normalize


@dataclass
class Change:
    """What a list command did, and what the editor should know about it."""

    done: str
    notes: list[str] = field(default_factory=list)


def lists(settings: Settings) -> dict[str, dict[str, int]]:
    """List name → status → number of subscribers."""
    with open_store(settings) as store:
        return store.list_counts()


def rename(old: str, new: str, settings: Settings) -> Change:
    """Rename a list; issues whose audience names it are pointed out (they are not rewritten)."""
    new = new.strip()
    if not new:
        raise InputError([Problem("lists", None, "the new name is empty")])
    with open_store(settings) as store:
        require_list(store, old)
        if new in store.list_names():
            raise InputError([Problem("lists", None, f'a list named "{new}" exists already: nothing was renamed')])
        store.rename_list(old, new)
    return Change(f'renamed list "{old}" to "{new}"', _naming(old, settings, f'still names "{old}"'))


def delete(name: str, settings: Settings) -> Change:
    """Delete a list and its memberships; its subscribers stay in the store."""
    with open_store(settings) as store:
        require_list(store, name)
        removed = store.delete_list(name) or 0
    return Change(f'deleted list "{name}": {removed} member{"s" if removed != 1 else ""} taken off it '
                  "(the subscribers stay)", _naming(name, settings, "names it in its audience"))


def remove(name: str, emails: list[str], settings: Settings) -> Change:
    """Take subscribers off one list (they stay subscribed, and on their other lists)."""
    keys = {}
    for email in emails:
        try:
            keys[normalize(email)[1]] = email.strip()
        except BadAddress:
            keys[email.strip().lower()] = email.strip()
    with open_store(settings) as store:
        require_list(store, name)
        removed = store.remove_from_list(name, list(keys))
    notes = [f'{shown}: not on "{name}"' for key, shown in keys.items() if key not in removed]
    return Change(f'removed {len(removed)} from "{name}"', notes)


def require_list(store: Store, name: str, where: str = "lists") -> None:
    """A list that does not exist is a mistake to report, not an empty list."""
    names = store.list_names()
    if name not in names:
        known = f" (lists: {', '.join(names)})" if names else " (there are no lists yet)"
        raise InputError([Problem(where, None, f'no list named "{name}"{known}')])


def _naming(name: str, settings: Settings, what: str) -> list[str]:
    """``issues/x.yaml: <what>`` for each issue whose audience names the list."""
    notes = []
    for path in sorted(settings.issues_dir.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
            named = (data.get("audience") or {}).get("lists") or []
        except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError):
            continue
        if name in ([named] if isinstance(named, str) else named):
            notes.append(f"{display_path(path)}: {what}")
    return notes
