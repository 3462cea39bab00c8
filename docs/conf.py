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
