"""The default benchmark row, trained by two versions of the package in one run.

Each version is a git revision (exported to a temporary folder) or ``worktree``
(this checkout as it is); each trains in its own process, one after the
other, so both see the same machine:

    python benchmarks/compare_versions.py 8fea787 worktree

The row: ``DigitHeadsClassifier()`` defaults, ``random_state=0``, 10,000
sum-labelled images composed from the embedded bank; sum accuracy on 10,000
tight and scanned images of MNIST test digits, fit and predict seconds.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, machine, markdown_table  # noqa: E402

# A folder of IDX files, which every version reads (before 0.6, load_digit_bank had no packaged test set).
PACKAGED_MNIST = ROOT / "sk_digitsum" / "data"

# Runs in the child process, against the version on its PYTHONPATH.
CHILD = """
import json, sys, time
import numpy as np
sys.path.insert(0, {benchmarks!r})
from _common import test_sets, training_set
import sk_digitsum
from sk_digitsum import DigitHeadsClassifier
sets = test_sets(mnist={mnist!r})
X, y = training_set()
clf = DigitHeadsClassifier(random_state=0, verbose=0)
start = time.perf_counter()
clf.fit(X, y)
record = {{"version": sk_digitsum.__version__, "fit_seconds": time.perf_counter() - start,
           "valid_acc": float(clf.history_[-1, "valid_acc"])}}
for name, (X_test, sums, _) in sets.items():
    start = time.perf_counter()
    record[name] = float(np.mean(clf.predict(X_test) == sums))
    record[name + "_predict_seconds"] = time.perf_counter() - start
print("RESULT " + json.dumps(record), flush=True)
"""


def source_tree(revision, workdir):
    """A folder holding the package at ``revision`` ('worktree': this checkout)."""
    if revision == "worktree":
        return ROOT
    target = Path(workdir) / revision
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def run(revision, mnist, workdir):
    tree = source_tree(revision, workdir)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    code = CHILD.format(benchmarks=str(ROOT / "benchmarks"), mnist=str(mnist))
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tree, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"{revision} failed:\n{result.stderr[-3000:]}")
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    return {"revision": revision, **json.loads(line[len("RESULT "):])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("revisions", nargs="+", help="git revisions, or 'worktree'")
    parser.add_argument("--mnist", default=PACKAGED_MNIST, help="folder of the MNIST test set (IDX)")
    args = parser.parse_args(argv)
    rows, records = [], []
    with tempfile.TemporaryDirectory() as workdir:
        for revision in args.revisions:
            records.append(run(revision, args.mnist, workdir))
            print(json.dumps(records[-1]), flush=True)
    first = records[0]
    for record in records:
        rows.append([record["revision"], record["version"], f"{100 * record['tight']:.2f}%",
                     f"{100 * record['scanned']:.2f}%", f"{record['fit_seconds']:.0f}",
                     f"{record['fit_seconds'] / first['fit_seconds']:.2f}", f"{record['tight_predict_seconds']:.2f}",
                     f"{record['tight_predict_seconds'] / first['tight_predict_seconds']:.2f}"])
    print(f"\n{machine()}\n")
    print(markdown_table(["revision", "version", "tight", "scanned", "fit (s)", "fit / first", "predict 10k (s)",
                          "predict / first"], rows))


if __name__ == "__main__":
    main()
