"""A local HTTP server for the feed files in ``tests/feeds`` (tests never reach the network)."""

from __future__ import annotations

import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

FEEDS = Path(__file__).resolve().parent / "feeds"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass


class FeedServer:
    """Serves a copy of ``tests/feeds``; a test may change the files it serves."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{name}"

    def serve(self, name: str, as_name: str) -> None:
        """Serve the feed file ``name`` at ``as_name`` (a feed that changed since the last fetch)."""
        shutil.copyfile(FEEDS / name, self.folder / as_name)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def feed_server(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    folder = tmp_path / "served"
    shutil.copytree(FEEDS, folder)
    server = FeedServer(folder)
    yield server
    server.close()
