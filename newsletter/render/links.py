"""Links in an issue: UTM tags on the publication's article links, and the numbered list of the text part."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..config import UtmSettings


def with_utm(url: str, utm: UtmSettings, campaign: str, content: str) -> str:
    """``url`` with utm_source/medium/campaign/content added; tags already present are kept."""
    if not utm.enabled:
        return url
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    for key, value in (
        ("utm_source", utm.source),
        ("utm_medium", utm.medium),
        ("utm_campaign", campaign),
        ("utm_content", content),
    ):
        if key not in present and value:
            query.append((key, value))
    return urlunsplit(parts._replace(query=urlencode(query)))


class LinkList:
    """Numbers links in the order the text part first mentions them."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}

    def ref(self, url: str) -> str:
        """``[n]`` for the url, numbering it on first sight."""
        number = self._numbers.setdefault(url, len(self._numbers) + 1)
        return f"[{number}]"

    def numbered(self) -> list[tuple[int, str]]:
        return [(number, url) for url, number in self._numbers.items()]

    def __len__(self) -> int:
        return len(self._numbers)
