"""Issues: ``issues/<id>.yaml`` read, validated and resolved against the articles."""

from .loader import find_issue, load_issue
from .model import Audience, Issue, Item, Occurrence, Section

__all__ = ["Audience", "Issue", "Item", "Occurrence", "Section", "find_issue", "load_issue"]
