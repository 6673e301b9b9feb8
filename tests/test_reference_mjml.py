"""mjml-python beside the reference MJML compiler (npm ``mjml``), for every theme.

mjml-python (MRML, Rust) is fast but validates nothing and has width bugs of its own (a padding
with a unitless 0). The reference compiler, run by Node when it is installed (``.ci/run`` installs
it in ``tests/node/``), validates each theme strictly and must lay it out the same: the same image
widths (Outlook sizes images by them), the same widths in Outlook's conditional tables, the same
columns, the same text and links.
"""

from __future__ import annotations

import html as html_module
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from mjml import mjml2html

from newsletter.config import load_settings
from newsletter.render import render_named
from newsletter.render.mjml import single_line_attributes

from .conftest import REPO

NODE_DIR = Path(__file__).parent / "node"
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules" / "mjml").is_dir(),
    reason="needs Node and npm mjml in tests/node (cd tests/node && npm ci)",
)
THEME_ISSUES = {"weekly": "2026-11-26-beanpole", "letter": "2026-12-03-wings"}
COMPILE = """
const mjml2html = require('mjml');
let input = '';
process.stdin.on('data', d => input += d).on('end', async () => {
  try {
    const out = await Promise.resolve(mjml2html(input, {validationLevel: 'strict'}));
    process.stdout.write(JSON.stringify({html: out.html, errors: out.errors.map(e => e.formattedMessage)}));
  } catch (e) {
    process.stdout.write(JSON.stringify({html: '', errors: (e.errors || [e]).map(x => x.formattedMessage || String(x))}));
  }
});
"""


def reference(mjml: str) -> tuple[str, list[str]]:
    """(HTML, validation errors) from the reference compiler."""
    done = subprocess.run(["node", "-e", COMPILE], input=mjml, capture_output=True, text=True,
                          cwd=NODE_DIR, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    return out["html"], out["errors"]


def layout(html: str) -> dict[str, list]:
    """What must agree: widths for Outlook and everyone, columns, links and text."""
    outlook = re.findall(r"<!--\[if mso \| IE\]>(.*?)<!\[endif\]-->", html, re.S)
    body = re.sub(r"<!--.*?-->|<style.*?</style>|<head.*?</head>", "", html, flags=re.S)
    return {
        "image widths": re.findall(r"<img\b[^>]*\bwidth=\"(\d+)\"", html),
        "Outlook widths": [widths for chunk in outlook for tag in re.findall(r"<t(?:able|d)\b[^>]*>", chunk)
                           if (widths := sorted(re.findall(r"width(?::|=\")(\d+)", tag)))],
        "columns": re.findall(r"mj-column-(?:per|px)-[\d-]+", body),
        "links": re.findall(r"<a\b[^>]*\bhref=\"([^\"]*)\"", body),
        "text": " ".join(html_module.unescape(re.sub(r"<[^>]+>", " ", body)).split()).split(" "),
    }


@pytest.mark.parametrize("theme", list(THEME_ISSUES))
def test_each_theme_is_valid_mjml_laid_out_as_the_reference_compiler_does(theme):
    rendered = render_named(THEME_ISSUES[theme], load_settings(REPO / "newsletter.toml", env={}))
    assert rendered.issue.template == theme
    source = single_line_attributes(rendered.mjml)
    ours, (theirs, errors) = mjml2html(source, fonts={}), reference(source)
    assert errors == []
    ours_layout, theirs_layout = layout(ours), layout(theirs)
    for aspect in ours_layout:
        assert ours_layout[aspect] == theirs_layout[aspect], aspect
    assert "552" in ours_layout["image widths"] or "536" in ours_layout["image widths"]


def test_the_comparison_catches_mjml_python_ignoring_a_bare_zero():
    source = ('<mjml><mj-body><mj-section padding="0px"><mj-column>'
              '<mj-image src="https://x.example/a.jpg" alt="a" padding="0 24px" />'
              "</mj-column></mj-section></mj-body></mjml>")
    ours, (theirs, _) = mjml2html(source, fonts={}), reference(source)
    assert layout(ours)["image widths"] == ["600"] and layout(theirs)["image widths"] == ["552"]


def test_the_reference_compiler_refuses_what_mjml_python_accepts():
    _, errors = reference("<mjml><mj-body><mj-section><mj-text>loose</mj-text></mj-section></mj-body></mjml>")
    assert any("mj-text" in error for error in errors), errors
