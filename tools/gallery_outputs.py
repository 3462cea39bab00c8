"""Run the gallery's slow examples in full and store what they print and draw, for their pages.

    python tools/gallery_outputs.py                        # every slow example, about 15 minutes on 2 CPU cores
    python tools/gallery_outputs.py ema_curves own_images  # some of them

A slow example is one whose docstring includes stored output (``literalinclude::
/_static/examples/<name>.txt``); the others run when the documentation is built. Each runs in a
fresh interpreter in a temporary folder; what it prints goes to docs/_static/examples/<name>.txt,
under a line naming the commit and the machine, and each PNG it writes to docs/_static/examples/.
Piped output holds no progress bars or colours, so the stored text is what a log file would hold.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
STORED = ROOT / "docs" / "_static" / "examples"
MARKER = "literalinclude:: /_static/examples/"

sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import commit, machine  # noqa: E402


def slow_examples():
    return sorted(path.stem for path in EXAMPLES.glob("*.py") if MARKER in path.read_text(encoding="utf-8"))


def run(name):
    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py")], cwd=folder, capture_output=True,
                                text=True)
        if result.returncode:
            raise SystemExit(f"{name} failed:\n{result.stderr[-3000:]}")
        text = f"# python examples/{name}.py, commit {commit()}\n# {machine()}\n{result.stdout}"
        (STORED / f"{name}.txt").write_text(text, encoding="utf-8")
        for figure in Path(folder).glob("*.png"):
            shutil.copy(figure, STORED / figure.name)
            print(f"  stored {figure.name}")
    print(text, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"examples to run, of {slow_examples()} (default: all)")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(slow_examples())
    if unknown:
        parser.error(f"no slow example named {sorted(unknown)}; the slow ones are {slow_examples()}")
    STORED.mkdir(parents=True, exist_ok=True)
    for name in args.names or slow_examples():
        run(name)


if __name__ == "__main__":
    main()
