"""Subscribers in and out of the store: CSV import and export, one address at a time."""

from .address import BadAddress, normalize
from .export import export_csv
from .importer import ImportReport, import_csv

__all__ = ["BadAddress", "ImportReport", "export_csv", "import_csv", "normalize"]
