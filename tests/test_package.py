"""The package's layout: modules import one way; the docstrings list what the registries hold."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sk_digitsum"
MODULES = {path: ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
           for path in PACKAGE.rglob("*.py")}


def _imports_at_import_time(path):
    """The sk_digitsum modules a module imports when it is imported (not inside functions)."""
    tree = ast.parse(path.read_text())
    package = MODULES[path] if path.name == "__init__.py" else MODULES[path].rpartition(".")[0]
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            module = f"{base}.{node.module}" if node.level and node.module else (node.module or base)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in MODULES.values()} - {MODULES[path]}


def test_modules_import_without_cycles():
    graph = {MODULES[path]: _imports_at_import_time(path) for path in MODULES}
    done, active = set(), []

    def visit(module):
        if module in active:
            pytest.fail("import cycle: " + " -> ".join(active[active.index(module):] + [module]))
        if module in done:
            return
        active.append(module)
        for imported in graph[module]:
            if not (imported.startswith(module + ".") or module == "sk_digitsum"):  # a package's own modules
                visit(imported)
        active.pop()
        done.add(module)

    for module in graph:
        visit(module)


def test_estimator_docstrings_list_every_registered_backbone():
    from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier
    from sk_digitsum.nn import BACKBONES

    for estimator in (DigitHeadsClassifier, DigitSumClassifier):
        for name, entry in BACKBONES.items():
            assert f'``"{name}"``: {entry.summary}' in estimator.__doc__


@pytest.mark.parametrize("script", sorted((PACKAGE.parent / "benchmarks").glob("*.py")) + [
    PACKAGE.parent / "tools" / "sabotage.py", PACKAGE.parent / "tools" / "gallery_outputs.py"],
    ids=lambda path: f"{path.parent.name}/{path.name}")
def test_benchmark_and_tool_scripts_import(script, monkeypatch):
    """Each script's imports resolve against the package as it is: no script silently rots."""
    import importlib.util

    monkeypatch.syspath_prepend(str(script.parent))
    spec = importlib.util.spec_from_file_location(f"script_{script.stem}", script)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


def test_importing_the_estimators_leaves_torch_compile_machinery_unloaded():
    # torch._dynamo takes about 1.4 s to import; only torch.compile (compile=True) needs it.
    import subprocess
    import sys

    code = "import sys; from sk_digitsum import DigitHeadsClassifier; print('torch._dynamo' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
