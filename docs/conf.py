"""Sphinx configuration: ``sphinx-build -W -b html docs docs/_build/html``."""

import sk_digitsum

project = "sk_digitsum"
author = "sk_digitsum developers"
release = sk_digitsum.__version__
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False, "show-inheritance": False}
autodoc_typehints = "none"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
myst_heading_anchors = 2
html_theme = "alabaster"
html_static_path = ["_static"]
# Inherited skorch docstrings are not ours to fix; our own must be clean.
suppress_warnings = ["autosummary.import_cycle"]
