"""Choose defaults on a validation split of the embedded bank, never on MNIST test digits.

Trains DigitHeadsClassifier variants on 10,000 sum-labelled images of 4,000
embedded digits and scores them on 4,000 images of the 1,000 held-out
digits (tight and scanned), printing one table row per variant:

    python benchmarks/tune_defaults.py                 # all variants
    python benchmarks/tune_defaults.py defaults wide   # some
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, SCANNED, machine, markdown_table, save_json, timed, validation_split  # noqa: E402

from sk_digitsum import DigitHeadsClassifier, SyntheticDigitsGenerator  # noqa: E402
from sk_digitsum.datasets import make_digit_sums  # noqa: E402

MILD = dict(rotation=10.0, scale=(0.9, 1.1), shift=(2.0, 1.5), stroke=0.4, noise=0.03)

# Measured here on 2 CPU cores with the mild augmentation as the default:
# mild 95.2% tight / 73.4% scanned, the current ranges 95.2% / 92.1%.
VARIANTS = {
    "defaults": {},
    "mild_augment": {"augment": MILD},
    "no_augment": {"augment": False},
    "no_ema": {"ema_beta": None},
    "wide48": {"module__width": 48},
    "depth4_two_stages": {"depth": 4, "module__stages": 2, "module__dropout": 0.0},  # the first default
    "epochs50": {"max_epochs": 50},
    "lr1e-3": {"lr": 1e-3},
    "batch64": {"batch_size": 64},
    "mixed": {"synthetic": SyntheticDigitsGenerator(random_state=0), "max_epochs": 15},
    "mixed30": {"synthetic": SyntheticDigitsGenerator(random_state=0)},
    "wide48_epochs50": {"module__width": 48, "max_epochs": 50},
    "elastic1.5": {"augment": {"elastic": 1.5}},
    "elastic3": {"augment": {"elastic": 3.0}},
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="*", help=f"some of: {', '.join(VARIANTS)}")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--verbose", type=int, default=0)
    args = parser.parse_args(argv)
    unknown = set(args.variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; choose from {', '.join(VARIANTS)}")
    (train_images, train_labels), (valid_images, valid_labels) = validation_split()
    X, y, _ = make_digit_sums(train_images, train_labels, 10_000, random_state=0)
    X_valid, y_valid, digits_valid, indices = make_digit_sums(valid_images, valid_labels, 4_000, random_state=1,
                                                              return_indices=True)
    X_scanned = SyntheticDigitsGenerator(**SCANNED).fit(valid_images, valid_labels).render(indices, random_state=2)
    table = []
    for name in args.variants or list(VARIANTS):
        params = {"random_state": 0, "device": args.device, "verbose": args.verbose, **VARIANTS[name]}
        if "synthetic" in params:  # held-out digits must not leak in through the generator
            params["synthetic"] = params["synthetic"].fit(train_images, train_labels)
        clf, seconds = timed(DigitHeadsClassifier(**params).fit, X, y)
        record = {
            "variant": name, "device": machine(), "fit_seconds": seconds, "epochs": len(clf.history_),
            "tight_acc": float(np.mean(clf.predict(X_valid) == y_valid)),
            "scanned_acc": float(np.mean(clf.predict(X_scanned) == y_valid)),
            "digit_acc": float(np.mean(clf.predict_digits(X_valid) == digits_valid)),
        }
        save_json(record, Path(args.results) / f"tune_{name}.json")
        print(json.dumps(record), flush=True)
        table.append([name, f"{100 * record['tight_acc']:.2f}%", f"{100 * record['scanned_acc']:.2f}%",
                      f"{100 * record['digit_acc']:.2f}%", f"{seconds:.0f}", record["epochs"], record["device"]])
    print(markdown_table(["variant", "valid sum acc", "valid scanned", "valid digit acc", "fit (s)", "epochs",
                          "device"], table))


if __name__ == "__main__":
    main()
