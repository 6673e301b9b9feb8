"""Subscribers in and out of the store: CSV import and export, one address at a time.

The names load on first use (:mod:`newsletter.lazy`): checking an address needs no store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names

if TYPE_CHECKING:
    from .address import BadAddress, normalize
    from .export import export_csv
    from .importer import ImportReport, import_csv
    from .listfile import addresses_in

__getattr__ = lazy_names(__name__, {
    "BadAddress": "address", "normalize": "address", "export_csv": "export", "ImportReport": "importer",
    "import_csv": "importer", "addresses_in": "listfile",
})

__all__ = ["BadAddress", "ImportReport", "addresses_in", "export_csv", "import_csv", "normalize"]
