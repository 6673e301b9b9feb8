"""How the email looks in real Chromium: golden screenshots and an axe-core scan, both themes.

Screenshots at 375 and 600 px, light and dark, are compared with golden images in
``tests/golden/screens/`` (stored at half size). The comparison forgives what differs between
machines with the same fonts (anti-aliasing, hinting): both images are shrunk, blurred, and may
differ strongly in at most :data:`MAX_CHANGED` of their pixels. A change of layout, colour or
content fails, and the actual image and a difference image are written to
``tests/golden/screens/failed/`` for review. Goldens record the font Chromium used; on a machine
that renders with another font, the comparison is skipped with that reason, not failed.

After an intended change of a theme or of the example issues, rewrite the goldens (and the
screenshots in ``docs/screenshots/``) and review them like code::

    NEWSLETTER_UPDATE_GOLDEN=1 pytest tests/test_looks.py

axe-core (npm, installed in ``tests/node/`` by ``.ci/run``) scans the page in both schemes; it must
find no violation besides the two landmark rules that do not apply to an email (its body is one
``role="article"``, as MJML writes it, inside the mail client's own page).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from newsletter.commands.build import build
from newsletter.config import load_settings

from .conftest import EXAMPLE_ISSUE, REPO
from .test_browser import CHROMIUM, browser  # noqa: F401  (the shared Chromium fixture)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")

THEMES = {"weekly": EXAMPLE_ISSUE, "letter": "2026-12-03-wings"}
GOLDEN = Path(__file__).parent / "golden" / "screens"
FONTS = GOLDEN / "fonts.json"
DOCS = REPO / "docs" / "screenshots"
AXE = Path(__file__).parent / "node" / "node_modules" / "axe-core" / "axe.min.js"
UPDATE = bool(os.environ.get("NEWSLETTER_UPDATE_GOLDEN"))
SCALE = 2  # goldens are stored at half size
MAX_CHANGED = 0.02  # share of pixels allowed to differ strongly after shrinking and blurring
STRONG = 48  # a difference above this (of 255) in any channel counts as strong
#: Landmark rules made for web pages: an email has no <main>, its body is one role="article".
AXE_NOT_FOR_EMAIL = {"landmark-one-main", "region"}


@pytest.fixture(scope="module")
def previews(tmp_path_factory) -> dict[str, Path]:
    """Each theme's example issue built once, as its preview copy (sample reader, local images)."""
    settings = load_settings(REPO / "newsletter.toml", env={})
    out = tmp_path_factory.mktemp("looks")
    return {theme: build(issue, settings, out / theme).files["preview.html"] for theme, issue in THEMES.items()}


def open_page(browser, path: Path, width: int, scheme: str):  # noqa: F811
    page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme, device_scale_factor=1)
    page.set_default_timeout(60_000)  # a busy machine is slow, never wrong
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    page.wait_for_function("() => document.fonts.status === 'loaded' && [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    return page


def text_font(page) -> str:
    """The font Chromium really drew the body text with (from the DevTools protocol)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": ".title a"})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    return max(fonts, key=lambda f: f["glyphCount"])["familyName"]


def shrink(png: bytes):
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    return image.resize((image.width // SCALE, image.height // SCALE), Image.LANCZOS)


def difference(actual, golden) -> tuple[float, object]:
    """(share of pixels that differ strongly, a difference image) after a light blur."""
    from PIL import ImageChops, ImageFilter

    blur = ImageFilter.GaussianBlur(1.2)
    red, green, blue = ImageChops.difference(actual.filter(blur), golden.filter(blur)).split()
    strongest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    strong = strongest.point(lambda v: 255 if v > STRONG else 0)
    return strong.histogram()[255] / (strong.width * strong.height), strong


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [375, 600])
@pytest.mark.parametrize("theme", list(THEMES))
def test_screenshot_matches_golden(browser, previews, theme, width, scheme):  # noqa: F811
    from PIL import Image

    page = open_page(browser, previews[theme], width, scheme)
    png = page.screenshot(full_page=True, animations="disabled", caret="hide")
    font = text_font(page)
    page.close()
    name = f"{theme}-{width}-{scheme}.png"
    fonts = json.loads(FONTS.read_text()) if FONTS.exists() else {}
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        # 256 colours (the comparison blurs anyway) keep the goldens small.
        shrink(png).quantize(256, dither=Image.Dither.NONE).save(GOLDEN / name, optimize=True)
        fonts[name] = font
        FONTS.write_text(json.dumps(dict(sorted(fonts.items())), indent=2) + "\n")
        if width == 600:
            DOCS.mkdir(parents=True, exist_ok=True)
            Image.open(io.BytesIO(png)).save(DOCS / f"{theme}-{scheme}.png", optimize=True)
    if not (GOLDEN / name).exists():
        pytest.fail(f"no golden {name}: make it with NEWSLETTER_UPDATE_GOLDEN=1 pytest tests/test_looks.py")
    if fonts.get(name) != font:
        pytest.skip(f"golden {name} was drawn with {fonts.get(name)!r}, this machine draws {font!r}")
    actual, golden = shrink(png), Image.open(GOLDEN / name).convert("RGB")
    if abs(actual.height - golden.height) > golden.height * 0.01:
        save_failure(name, actual, None)
        pytest.fail(f"{name}: the page is {actual.height * SCALE} px tall, the golden {golden.height * SCALE} px "
                    f"(layout changed; actual image in {GOLDEN / 'failed'})")
    actual = actual.resize(golden.size)
    changed, diff = difference(actual, golden)
    if changed > MAX_CHANGED:
        save_failure(name, actual, diff)
        pytest.fail(f"{name}: {changed:.1%} of the image differs from the golden (at most {MAX_CHANGED:.0%}); "
                    f"actual and difference images in {GOLDEN / 'failed'}")


def save_failure(name: str, actual, diff) -> None:
    folder = GOLDEN / "failed"
    folder.mkdir(exist_ok=True)
    actual.save(folder / name)
    if diff is not None:
        diff.save(folder / name.replace(".png", "-diff.png"))


def test_the_comparison_sees_a_change_of_colour_and_forgives_anti_aliasing(browser, previews):  # noqa: F811
    from PIL import Image, ImageDraw

    page = open_page(browser, previews["weekly"], 600, "light")
    base = shrink(page.screenshot(full_page=True))
    page.close()
    assert difference(base, base)[0] == 0
    # One pixel's shift of everything (what a different hinting does to glyphs) is forgiven ...
    shifted = Image.new("RGB", base.size, "white")
    shifted.paste(base, (1, 0))
    assert difference(shifted, base)[0] <= MAX_CHANGED
    # ... a band of another colour across the page is not, nor is the page in dark mode.
    changed = base.copy()
    ImageDraw.Draw(changed).rectangle((0, 200, base.width, 200 + base.height // 30), fill=(255, 0, 255))
    assert difference(changed, base)[0] > MAX_CHANGED
    page = open_page(browser, previews["weekly"], 600, "dark")
    dark = shrink(page.screenshot(full_page=True))
    page.close()
    assert difference(dark.resize(base.size), base)[0] > 0.5


@pytest.mark.skipif(not AXE.exists(), reason="needs npm axe-core in tests/node (cd tests/node && npm ci)")
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("theme", list(THEMES))
def test_axe_finds_no_violation(browser, previews, theme, scheme):  # noqa: F811
    page = open_page(browser, previews[theme], 600, scheme)
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']}))
        .violations.map(v => ({id: v.id, nodes: v.nodes.map(n => n.failureSummary + ' ' + n.html.slice(0, 80))}))""")
    page.close()
    assert [v for v in violations if v["id"] == "color-contrast"] == []
    assert [v for v in violations if v["id"] not in AXE_NOT_FOR_EMAIL] == []
