"""Package names that load on first use (PEP 562), so that importing one light module of a
package does not load its heavy neighbours: ``check`` and a ``send`` with nothing to do run in a
fraction of a second, and SQLAlchemy alone takes a fifth of one to import."""

from __future__ import annotations

from importlib import import_module


def lazy_names(package: str, homes: dict[str, str]):
    """A module ``__getattr__`` for ``package`` that imports each name from its module in
    ``homes`` (name → submodule) the first time it is asked for, and keeps it."""
    namespace = import_module(package).__dict__

    def __getattr__(name: str):
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f".{home}", package), name)
        namespace[name] = value
        return value

    return __getattr__
