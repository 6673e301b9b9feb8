"""newsletter: issues as YAML, rendered once, sent exactly once per subscriber."""

__version__ = "0.1.0"
