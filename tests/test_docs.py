"""The documentation builds with warnings as errors (``sphinx-build -W``)."""

import subprocess
import sys
from pathlib import Path

import pytest

# Builds the Sphinx site.
pytestmark = pytest.mark.slow

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(tmp_path)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for page in ("index", "user_guide", "api", "defaults", "results", "performance"):
        assert (tmp_path / f"{page}.html").is_file()
    assert (tmp_path / "generated" / "sk_digitsum.DigitHeadsClassifier.html").is_file()
