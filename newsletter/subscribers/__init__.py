"""Subscribers in and out of the store: CSV import and export, one address at a time."""

from .address import BadAddress, normalize
from .export import export_csv
from .importer import ImportReport, import_csv
from .listfile import addresses_in

__all__ = ["BadAddress", "ImportReport", "addresses_in", "export_csv", "import_csv", "normalize"]
