"""A fake ``Downloader``: URLs answer from a dict; anything else fails as a real one would."""

from __future__ import annotations

from tarsify.domain.errors import OutputDownloadFailed
from tarsify.ports.files import Download


class FakeDownloader:
    """Serves ``files[url]``; an unknown URL fails like an HTTP 404. ``fetched`` records
    every URL asked for."""

    def __init__(self, files: dict[str, Download] | None = None) -> None:
        self.files: dict[str, Download] = dict(files or {})
        self.fetched: list[str] = []

    async def fetch(self, url: str) -> Download:
        """The registered download of ``url``, or ``OutputDownloadFailed``."""
        self.fetched.append(url)
        if not url.startswith(("http://", "https://")):
            raise OutputDownloadFailed("Output file URL is not an http(s) URL")
        found = self.files.get(url)
        if found is None:
            raise OutputDownloadFailed("Downloading the output file answered HTTP 404")
        return found
