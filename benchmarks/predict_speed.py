"""Seconds to predict the sums of 10,000 4-digit images with each backbone (median of 3 runs).

Prediction cost does not depend on the weights, so each model is fitted for
one epoch on a few images only.
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, markdown_table, timed, training_set  # noqa: E402

from sk_digitsum import DigitHeadsClassifier  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-samples", type=int, default=10_000)
    parser.add_argument("--backbones", nargs="+", default=["digitnet", "convnet"])
    args = parser.parse_args(argv)
    X, y = training_set(args.n_samples)
    rows = []
    for backbone in args.backbones:
        clf = DigitHeadsClassifier(backbone=backbone, max_epochs=1, verbose=0, random_state=0).fit(X[:500], y[:500])
        clf.predict(X[:500])  # warm-up
        seconds = statistics.median(timed(clf.predict, X)[1] for _ in range(3))
        rows.append([backbone, f"{args.n_samples:,}", f"{seconds:.2f}", f"{args.n_samples / seconds:,.0f}", machine()])
    print(markdown_table(["backbone", "images", "predict (s)", "images/s", "machine"], rows))


if __name__ == "__main__":
    main()
