"""The moving average of the weights with and without its warm-up, on a short fit and on the default one.

    python benchmarks/ema_warmup.py                  # both tables, about 15 minutes on 2 CPU cores with bf16
    python benchmarks/ema_warmup.py --only short     # the 2-epoch table, about a minute

Short: ``DigitHeadsClassifier(max_epochs=2)`` on 5,000 synthetic digit-labelled images of the embedded
bank (the README's recipe, shortened), seeds 0-2. Default: the default row, ``DigitHeadsClassifier()``
on 10,000 sum-labelled images of the embedded bank, 30 epochs, seed 0. Each fit runs without EMA, with
EMA at beta 0.99 and no warm-up (``callbacks__ema=EMA(0.99, warmup=False)``, the average of 0.5), and
with the default EMA (warm-up ``min(0.99, (1 + t) / (10 + t))``); the sums are scored on 10,000 tight and
10,000 scanned images of the MNIST test digits. The record goes to ``benchmarks/results/ema_warmup.md``.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, markdown_table, record_header, test_sets, training_set  # noqa: E402

from sk_digitsum import DigitHeadsClassifier, SyntheticDigitsGenerator  # noqa: E402
from sk_digitsum.callbacks import EMA  # noqa: E402
from sk_digitsum.datasets import load_digit_bank  # noqa: E402

VARIANTS = {
    "no EMA": dict(ema_beta=None),
    "EMA 0.99, no warm-up": dict(callbacks__ema=EMA(beta=0.99, warmup=False)),
    "EMA 0.99, warm-up (default)": dict(),
}


def short_data():
    generator = SyntheticDigitsGenerator(random_state=0, verbose=0).fit(*load_digit_bank())
    X, _, digits = generator.sample(5_000)
    return X, digits


def score(clf, sets):
    return {name: float(np.mean(clf.predict(X) == sums)) for name, (X, sums, _) in sets.items()}


def run(name, data, seeds, params, sets):
    rows = []
    for variant, extra in VARIANTS.items():
        scores, seconds = [], []
        for seed in seeds:
            clf = DigitHeadsClassifier(random_state=seed, verbose=0, **params, **extra)
            start = time.perf_counter()
            clf.fit(*data)
            seconds.append(time.perf_counter() - start)
            scores.append(score(clf, sets))
            print(name, variant, seed, scores[-1], f"{seconds[-1]:.0f} s", flush=True)
        tight = [s["tight"] for s in scores]
        scanned = [s["scanned"] for s in scores]
        rows.append([variant, " / ".join(f"{100 * t:.2f}" for t in tight), f"{100 * statistics.mean(tight):.2f}%",
                     " / ".join(f"{100 * s:.2f}" for s in scanned), f"{100 * statistics.mean(scanned):.2f}%",
                     f"{statistics.mean(seconds):.0f}"])
    return markdown_table(["variant", "tight, per seed (%)", "tight, mean", "scanned, per seed (%)", "scanned, mean",
                           "fit (s)"], rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["short", "default"])
    parser.add_argument("--out", default=RESULTS / "ema_warmup.md")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    sets = test_sets()
    sections = []
    if args.only in (None, "short"):
        sections += ["## 2 epochs on 5,000 synthetic digit-labelled images, seeds 0-2", "",
                     run("short", short_data(), [0, 1, 2], dict(max_epochs=2), sets), ""]
    if args.only in (None, "default"):
        sections += ["## The default row: 30 epochs on 10,000 sum-labelled images, seed 0", "",
                     run("default", training_set(), [0], {}, sets), ""]
    command = "python benchmarks/ema_warmup.py" + (f" --only {args.only}" if args.only else "")
    text = record_header("EMA warm-up: short and default fits", command, time.perf_counter() - start)
    text += "\n" + "\n".join(sections)
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
