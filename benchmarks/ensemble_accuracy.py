"""What averaging several default models buys on the MNIST-test benchmark, and what it costs.

Fits ``DigitHeadsClassifier()`` with seeds 0..n-1 on the accuracy benchmark's
training set (10,000 sum-labelled images of the embedded digits), averages
their digit probabilities and reads the sum from the average with the exact
sum layer. Prints one row per single model and one for the average::

    python benchmarks/ensemble_accuracy.py --models 2
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    machine, markdown_table, sums_from_digit_proba, test_sets, timed, training_set,
)

from sk_digitsum import DigitHeadsClassifier  # noqa: E402


def scores(digit_proba, sums, digits):
    return np.mean(sums_from_digit_proba(digit_proba) == sums), np.mean(digit_proba.argmax(-1) == digits)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=2)
    parser.add_argument("--mnist", default=None, help="a folder of MNIST IDX files (default: the package's copy)")
    args = parser.parse_args(argv)
    X, y = training_set()
    sets = test_sets(mnist=args.mnist)
    probas = {name: [] for name in sets}
    rows, fit_total, predict_total = [], 0.0, 0.0
    for seed in range(args.models):
        clf, seconds = timed(DigitHeadsClassifier(random_state=seed, verbose=0).fit, X, y)
        fit_total += seconds
        row = [f"seed {seed}"]
        for name, (X_test, sums, digits) in sets.items():
            proba, predict_seconds = timed(clf.predict_digit_proba, X_test)
            probas[name].append(proba)
            row += [f"{100 * value:.2f}%" for value in scores(proba, sums, digits)]
        predict_total += predict_seconds  # of the last set, the scanned one
        rows.append(row + [f"{seconds:.0f}", f"{predict_seconds:.2f}"])
        print(rows[-1], flush=True)
    row = [f"average of {args.models}"]
    for name, (_, sums, digits) in sets.items():
        row += [f"{100 * value:.2f}%" for value in scores(np.mean(probas[name], axis=0), sums, digits)]
    rows.append(row + [f"{fit_total:.0f}", f"{predict_total:.2f}"])
    print(f"Machine: {machine()}")
    print(markdown_table(["model", "tight sum", "tight digit", "scanned sum", "scanned digit", "fit (s)",
                          "predict 10k scanned (s)"], rows))


if __name__ == "__main__":
    main()
