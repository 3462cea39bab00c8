"""Peak resident memory of fit on 100,000 uint8 4-digit images (target: under 1.5 GB).

A float32 copy of the set alone would take 1.25 GB; the estimators keep the
uint8 set and convert one batch at a time. Runs in a fresh process per case
so that each peak is its own:

    python benchmarks/memory.py
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, markdown_table, write_record  # noqa: E402

CASE = """
import json, resource, sys, time
import numpy as np
from sk_digitsum import DigitHeadsClassifier
from sk_digitsum.datasets import load_digit_bank, make_digit_sums
X, y, _ = make_digit_sums(*load_digit_bank(), n_samples={n}, random_state=0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start = time.perf_counter()
DigitHeadsClassifier(max_epochs={epochs}, random_state=0, verbose=0).fit(X, y)
print(json.dumps({{"data_mb": X.nbytes / 2**20, "before_fit_mb": before, "fit_seconds": time.perf_counter() - start,
                   "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-samples", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--record", default=RESULTS / "memory.md", help="where to write the record")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    code = CASE.format(n=args.n_samples, epochs=args.epochs)
    result = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                       text=True).stdout.strip().splitlines()[-1])
    table = markdown_table(
        ["images", "uint8 set (MB)", "RSS before fit (MB)", "peak RSS (MB)", "float32 copy would add (MB)",
         "epochs", "fit (s)"],
        [[f"{args.n_samples:,}", f"{result['data_mb']:.0f}", f"{result['before_fit_mb']:.0f}",
          f"{result['peak_mb']:.0f}", f"{4 * result['data_mb']:.0f}", args.epochs, f"{result['fit_seconds']:.0f}"]])
    write_record(args.record, "Peak memory of fit on 100,000 images", "python benchmarks/memory.py",
                 time.perf_counter() - started, table)


if __name__ == "__main__":
    main()
