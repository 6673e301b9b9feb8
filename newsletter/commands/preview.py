"""``newsletter preview``: the issue at 600 px and 375 px side by side, with its text part.

Preview renders with :func:`~newsletter.render.render_named`, as ``build`` does, so the two never drift. The
page polls ``/state``; when a file of the publication changed since the last render, the issue is
rendered again. A render error is shown on the page, and the server keeps running.
"""

from __future__ import annotations

import html
import json
import mimetypes
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..config import Settings
from ..errors import InputError, NewsletterError, Problem
from ..issue import find_issue
from ..render import RenderedIssue, render_named
from ..render.sample import sample_copy, site_file


class PreviewState:
    """The latest render (or error), re-rendered when a watched file changes."""

    def __init__(self, issue_name: str, settings: Settings):
        self.issue_name = issue_name
        self.settings = settings
        self.version = 0
        self.rendered: RenderedIssue | None = None
        self.error: list[str] = []
        self._stamp: tuple = ()
        self._lock = threading.Lock()

    def _watched(self) -> tuple:
        root = self.settings.root
        files = [Path(self.issue_name), self.settings.issues_dir / f"{self.issue_name}.yaml"]
        if self.settings.config_path:
            files.append(self.settings.config_path)
        for folder in (self.settings.articles_dir, self.settings.templates_dir, self.settings.issues_dir):
            if folder.is_dir():
                files.extend(p for p in folder.rglob("*") if p.is_file())
        stamps = []
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                continue
            stamps.append((str(path.relative_to(root) if path.is_relative_to(root) else path), stat.st_mtime_ns, stat.st_size))
        return tuple(sorted(stamps))

    def refresh(self) -> None:
        """Render again if anything changed since the last render."""
        with self._lock:
            stamp = self._watched()
            if stamp == self._stamp:
                return
            self._stamp = stamp
            try:
                self.rendered = render_named(self.issue_name, self.settings)
                self.error = []
            except NewsletterError as exc:
                self.error = exc.lines()
            except Exception as exc:  # a preview must survive anything a half-saved file does
                self.error = [f"{type(exc).__name__}: {exc}"]
            self.version += 1

    def email(self) -> tuple[str, str]:
        assert self.rendered is not None
        # Images the article folder holds are served by the preview itself.
        return sample_copy(self.rendered, image_prefix="/site/")


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Preview: {title}</title>
<style>
 body {{ font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #e9e6df; color: #222; }}
 header {{ padding: 10px 16px; background: #222; color: #eee; }}
 #error {{ display: none; margin: 16px; padding: 12px 16px; background: #fde8e6; border: 1px solid #c0392b;
          color: #8e1b10; white-space: pre-wrap; font-family: ui-monospace, monospace; }}
 main {{ display: flex; gap: 24px; padding: 16px; align-items: flex-start; overflow-x: auto; }}
 figure {{ margin: 0; }} figcaption {{ font-weight: 600; margin-bottom: 6px; }}
 iframe {{ border: 1px solid #bbb; background: #fff; height: 85vh; }}
 pre {{ background: #fff; border: 1px solid #bbb; padding: 12px; width: 80ch; height: 85vh; overflow: auto;
       margin: 0; white-space: pre-wrap; }}
</style></head>
<body>
<header>Preview of <strong>{title}</strong> · re-renders when a file changes · version <span id="version">0</span></header>
<div id="error" role="alert"></div>
<main>
 <figure><figcaption>Desktop · 600 px</figcaption><iframe id="desktop" title="Email at 600 px" width="600" src="about:blank"></iframe></figure>
 <figure><figcaption>Phone · 375 px</figcaption><iframe id="phone" title="Email at 375 px" width="375" src="about:blank"></iframe></figure>
 <figure><figcaption>Text part</figcaption><pre id="text"></pre></figure>
</main>
<script>
let shown = -1;
async function poll() {{
  try {{
    const state = await (await fetch('/state')).json();
    if (state.version !== shown) {{
      shown = state.version;
      document.getElementById('version').textContent = state.version;
      const box = document.getElementById('error');
      box.style.display = state.error.length ? 'block' : 'none';
      box.textContent = state.error.join('\\n');
      if (!state.error.length || state.has_render) {{
        for (const id of ['desktop', 'phone']) document.getElementById(id).src = '/email.html?v=' + state.version;
        document.getElementById('text').textContent = await (await fetch('/email.txt?v=' + state.version)).text();
      }}
    }}
  }} catch (e) {{}}
  setTimeout(poll, 700);
}}
poll();
</script>
</body></html>
"""


def make_handler(state: PreviewState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args) -> None:  # quiet: the terminal shows the URL only
            pass

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            state.refresh()
            if path == "/":
                title = state.rendered.issue.subject if state.rendered else state.issue_name
                self._send(200, PAGE.format(title=html.escape(title)).encode(), "text/html; charset=utf-8")
            elif path == "/state":
                body = {"version": state.version, "error": state.error, "has_render": state.rendered is not None}
                self._send(200, json.dumps(body).encode(), "application/json")
            elif path in ("/email.html", "/email.txt"):
                if state.rendered is None:
                    self._send(503, "\n".join(state.error).encode(), "text/plain; charset=utf-8")
                    return
                email_html, email_text = state.email()
                if path == "/email.html":
                    self._send(200, email_html.encode(), "text/html; charset=utf-8")
                else:
                    self._send(200, email_text.encode(), "text/plain; charset=utf-8")
            elif path.startswith("/site/"):
                self._static(unquote(path[len("/site/"):]))
            else:
                self._send(404, b"not found", "text/plain")

        def _static(self, relative: str) -> None:
            target = site_file(state.settings.base_url.rstrip("/") + "/" + relative, state.settings)
            if target is None or not target.is_file():
                self._send(404, b"not found", "text/plain")
                return
            kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
            self._send(200, target.read_bytes(), kind)

    return Handler


def serve(issue_name: str, settings: Settings, host: str = "127.0.0.1", port: int = 8025) -> ThreadingHTTPServer:
    """A preview server, ready for ``serve_forever()``. The first render happens now, so a bad
    issue is reported on the page rather than refusing to start."""
    if not 0 <= port <= 65535:
        raise InputError([Problem("--port", None, f"{port} is not a port: give 1 to 65535 (0 picks a free one)")])
    find_issue(issue_name, settings)  # a mistyped name fails now, not on the page
    state = PreviewState(issue_name, settings)
    state.refresh()
    try:
        server = ThreadingHTTPServer((host, port), make_handler(state))
    except (OSError, OverflowError, UnicodeError) as exc:  # in use, not allowed, an unknown host
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError([Problem("--port", None, f"cannot listen on {host}:{port}: {reason}")]) from None
    server.daemon_threads = True
    server.state = state  # type: ignore[attr-defined]
    return server
