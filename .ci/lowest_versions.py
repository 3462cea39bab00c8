"""Print the lowest versions setup.py admits, one pin a line, for a requirements file.

Each ``name>=version`` of install_requires becomes ``name==version``: CI installs exactly those and
runs the fast tests on them, so the bounds setup.py declares are bounds that were tested.
"""

import ast
import re
from pathlib import Path

SETUP = Path(__file__).resolve().parents[1] / "setup.py"

call = next(node for node in ast.walk(ast.parse(SETUP.read_text())) if isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "setup")
requirements = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "install_requires"))
for requirement in requirements:
    name, lowest = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)", requirement).groups()
    print(f"{name}=={lowest}")
