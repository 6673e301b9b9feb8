"""Themes are contained: they reach only the values they are given, read no file outside the theme
folder, and nothing is fetched while rendering, checking or building (issue 9 §5)."""

from __future__ import annotations

import http.server
import os
import threading

import pytest

from newsletter.errors import RenderError
from newsletter.issue import load_issue
from newsletter.render import render_issue

from .conftest import EXAMPLE_ISSUE, run_cli

FOOTER = "templates/partials/footer.mjml"


def edit(publication, relative: str, old: str, new: str) -> None:
    path = publication / relative
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def render(publication, settings):
    return render_issue(load_issue(publication / "issues" / f"{EXAMPLE_ISSUE}.yaml", settings), settings)


@pytest.mark.parametrize("expression", [
    "''.__class__.__mro__[1].__subclasses__()",
    "wrap.__globals__['os'].popen('id').read()",
    "publication.__class__.__init__.__globals__",
    "link.__self__.__class__",
])
def test_a_theme_cannot_reach_python_internals(publication, settings, expression):
    edit(publication, FOOTER, "{{ publication.name }}", "{{ " + expression + " }}")
    with pytest.raises(RenderError) as err:
        render(publication, settings)
    (line,) = err.value.lines()
    assert line.startswith(f"{FOOTER}:") and "unsafe" in line, line


def test_a_theme_cannot_include_files_outside_its_folder(publication, settings, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("PRIVATE KEY MATERIAL")
    os.symlink(secret, publication / "templates" / "partials" / "leak.mjml")
    edit(publication, FOOTER, "{{ publication.name }}", '{% include "partials/leak.mjml" %}')
    with pytest.raises(RenderError) as err:
        render(publication, settings)
    assert "leads outside the theme folder" in err.value.lines()[0]
    for name in ("../../secret.txt", "/etc/hostname"):
        edit(publication, FOOTER, '{% include "partials/leak.mjml" %}', '{% include "' + name + '" %}')
        with pytest.raises(RenderError) as err:
            render(publication, settings)
        assert "PRIVATE" not in " ".join(err.value.lines())
        edit(publication, FOOTER, '{% include "' + name + '" %}', '{% include "partials/leak.mjml" %}')


def test_a_self_including_template_is_one_line_exit_2(publication):
    edit(publication, FOOTER, "{{ publication.name }}", '{% include "partials/footer.mjml" %}')
    result = run_cli("check", EXAMPLE_ISSUE, cwd=publication)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines() == [
        "templates/weekly.mjml: template error: includes or macros call each other without end "
        "(does a template include itself?)"]


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"p { color: red }")

    def log_message(self, *args):
        pass


def test_import_in_mj_style_is_never_fetched_and_check_refuses_it(publication):
    """cssutils (under premailer) fetched every @import, over HTTP or from a local file, despite
    allow_network=False. Now nothing is read: a FIFO would block a reader forever."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.hits = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/theme.css"
    os.mkfifo(publication / "trap.css")
    edit(publication, "templates/partials/head.mjml", "<mj-style>",
         f'<mj-style>\n  @import url({url});\n  @import "trap.css";\n  @import url(\'/etc/hostname\');\n')
    try:
        result = run_cli("check", EXAMPLE_ISSUE, cwd=publication)
        built = run_cli("build", EXAMPLE_ISSUE, cwd=publication)
    finally:
        server.shutdown()
        server.server_close()
    assert _Recorder.hits == []
    assert result.returncode == 1, result.stdout + result.stderr
    for sheet in (url, "trap.css", "/etc/hostname"):
        assert (f"@import {sheet} in a style block: never fetched (rendering stays offline) and ignored by most "
                "email clients; put the rules in <mj-style>") in result.stdout, result.stdout
    assert built.returncode == 0, built.stderr
