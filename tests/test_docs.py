"""The documentation builds with warnings as errors (``sphinx-build -W``), and its links hold."""

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from sk_digitsum.__main__ import build_parser

# Builds the Sphinx site.
pytestmark = pytest.mark.slow

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = ["index", "install", "quick_start", "user_guide", "auto_examples/index", "troubleshooting", "api", "cli",
         "changes", "results", "defaults", "performance"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    pytest.importorskip("sphinx_gallery")
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(out)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


class _References(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.images, self.ids = [], [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])


def _parse(page):
    references = _References()
    references.feed(page.read_text(encoding="utf-8"))
    return references


def test_every_page_is_built(site):
    for page in PAGES:
        assert (site / f"{page}.html").is_file(), page
    assert (site / "generated" / "sk_digitsum.DigitHeadsClassifier.html").is_file()
    gallery = (site / "auto_examples" / "index.html").read_text(encoding="utf-8")
    for example in sorted((DOCS.parent / "examples").glob("*.py")):
        assert f"{example.stem}.html" in gallery


def test_internal_links_and_images_resolve(site):
    parsed = {page: _parse(page) for page in site.rglob("*.html") if "_static" not in page.parts}
    broken = []
    for page, references in parsed.items():
        for image in references.images:
            if not urlsplit(image).scheme and not (page.parent / unquote(urlsplit(image).path)).is_file():
                broken.append(f"{page.relative_to(site)}: image {image}")
        for link in references.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith("mailto:"):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.exists():
                broken.append(f"{page.relative_to(site)}: link {link}")
            elif parts.fragment and target.suffix == ".html" and parts.fragment not in parsed[target].ids:
                broken.append(f"{page.relative_to(site)}: anchor {link}")
    assert not broken, "\n".join(broken)


def _pixels(path):
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB")).tobytes()


def test_every_example_has_a_thumbnail_of_its_own(site, tmp_path):
    """No example shows sphinx-gallery's placeholder, and no two share a thumbnail."""
    import sphinx_gallery
    from sphinx_gallery.utils import scale_image

    placeholder = tmp_path / "placeholder.png"  # what sphinx-gallery shows for an example without a figure
    scale_image(str(Path(sphinx_gallery.__file__).parent / "_static" / "no_image.png"), str(placeholder), 400, 280)
    thumbnails = {}
    for example in sorted((DOCS.parent / "examples").glob("*.py")):
        thumbnail = site / "_images" / f"sphx_glr_{example.stem}_thumb.png"
        assert thumbnail.is_file(), example.name
        thumbnails[example.stem] = _pixels(thumbnail)
        assert thumbnails[example.stem] != _pixels(placeholder), f"{example.name} shows the placeholder"
    assert len(set(thumbnails.values())) == len(thumbnails)


def test_every_example_page_shows_output(site):
    for example in sorted((DOCS.parent / "examples").glob("*.py")):
        page = (site / "auto_examples" / f"{example.stem}.html").read_text(encoding="utf-8")
        if "literalinclude:: /_static/examples/" in example.read_text(encoding="utf-8"):  # a slow one: stored
            stored = (DOCS / "_static" / "examples" / f"{example.stem}.txt").read_text(encoding="utf-8")
            assert stored.splitlines()[-1].strip() in page, example.name
        else:  # a quick one: run as the site was built
            assert "sphx-glr-script-out" in page and "sphx-glr-single-img" in page, example.name
        assert "sphinx_gallery_thumbnail_path" not in page, f"{example.name} shows a gallery setting"


def test_example_lines_fit_the_gallery_s_code_box():
    """An example page's code and stored output boxes show 88 columns without a scroll bar."""
    shown = [*(DOCS.parent / "examples").glob("*.py"), *(DOCS / "_static" / "examples").glob("*.txt")]
    long = [f"{path.name}:{number}" for path in sorted(shown)
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if len(line) > 88]
    assert not long, long


def test_cli_reference_is_each_command_help(site):
    page = (site / "cli.html").read_text(encoding="utf-8")
    parser = build_parser()
    for name, command in parser._subparsers._group_actions[0].choices.items():
        for action in command._actions:
            for option in action.option_strings:
                assert option in page, (name, option)
    assert "--version" in page
