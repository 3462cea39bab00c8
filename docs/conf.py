"""Sphinx configuration: ``sphinx-build -W -b html docs docs/_build/html``."""

import os
import re
from pathlib import Path

import sk_digitsum
from sk_digitsum.__main__ import build_parser

DOCS = Path(__file__).resolve().parent

project = "sk_digitsum"
author = "sk_digitsum developers"
copyright = "sk_digitsum developers; the embedded MNIST digits: Yann LeCun, Corinna Cortes, Christopher J. C. Burges (CC BY-SA 3.0)"
release = sk_digitsum.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "auto_examples/*.zip"]
autosummary_generate = True
# scikit-learn adds set_*_request methods to every estimator class; their
# docstrings point into scikit-learn's own docs, so they are left out here.
_REQUEST_METHODS = [f"set_{method}_request" for method in
                    ("fit", "partial_fit", "predict", "predict_proba", "score", "transform", "sample")]
autodoc_default_options = {
    "members": True,
    "inherited-members": False,
    "show-inheritance": False,
    "exclude-members": ",".join(_REQUEST_METHODS),
}
autodoc_typehints = "none"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
myst_heading_anchors = 2
html_theme = "alabaster"
html_static_path = ["_static"]
# Code of 100 columns fits without a scroll bar.
html_theme_options = {"page_width": "1240px", "body_max_width": "none"}

# The quick examples run when the site is built, and their pages show what they print and draw. The
# slow ones (minutes of training) show the output and figures of a full run, stored under
# _static/examples/ by tools/gallery_outputs.py and included by their docstrings; the tests run
# every example in a fast mode (tests/test_examples.py).
STORED_OUTPUT = "literalinclude:: /_static/examples/"
QUICK_EXAMPLES = sorted(path.name for path in (DOCS.parent / "examples").glob("*.py")
                        if STORED_OUTPUT not in path.read_text(encoding="utf-8"))
sphinx_gallery_conf = {
    "examples_dirs": str(DOCS.parent / "examples"),
    "gallery_dirs": str(DOCS / "auto_examples"),
    "filename_pattern": "/(" + "|".join(re.escape(name) for name in QUICK_EXAMPLES) + ")$",
    "plot_gallery": "True",
    "remove_config_comments": True,
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "write_computation_times": False,
}


def _write_cli_reference():
    """docs/generated/cli.inc: each command's --help, straight from the parser."""
    os.environ["COLUMNS"] = "88"  # argparse wraps help to the terminal width
    parser = build_parser()
    parser.prog = "sk-digitsum"
    commands = parser._subparsers._group_actions[0].choices
    sections = [("sk-digitsum", parser)] + [(f"sk-digitsum {name}", sub) for name, sub in commands.items()]
    lines = []
    for title, command in sections:
        command.prog = title
        lines += [f"``{title}``", "-" * (len(title) + 4), "", ".. code-block:: text", ""]
        lines += [f"   {line}".rstrip() for line in command.format_help().splitlines()] + [""]
    target = DOCS / "generated" / "cli.inc"
    target.parent.mkdir(exist_ok=True)
    target.write_text("\n".join(lines), encoding="utf-8")


_write_cli_reference()
