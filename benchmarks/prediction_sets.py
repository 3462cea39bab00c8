"""Which images to check by hand: sets of possible sums by MAPIE's split conformal prediction, on new writers.

    python benchmarks/prediction_sets.py                      # trains the main job's model first (2-5 minutes)
    python benchmarks/prediction_sets.py --model model.pt

The main job's model (``DigitHeadsClassifier(random_state=0)`` on 10,000 sum-labelled images of the
embedded digits) is calibrated with ``SplitConformalClassifier(prefit=True)`` on 5,000 labelled images of
the even-indexed MNIST test digits and tested on 10,000 images of the odd-indexed ones, each of the
same kind (tight, or scanned), at several confidence levels, with the LAC and APS conformity scores. An
image whose set is not one sum is flagged for a person to check. The table gives, for each level, how
often the set holds the true sum (coverage), the share of images flagged, the mean set size and the
accuracy of the images not flagged; the figure, coverage against the share flagged. Coverage is
promised on average over draws of the calibration images: a second table repeats the 99% level with
LAC over ``--splits`` random halvings of the 10,000 test digits into calibration and test digits.
Record: ``benchmarks/results/prediction_sets.md``; figure: ``docs/_static/prediction_sets.png``.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, ROOT, markdown_table, test_sets, tight_and_scanned, training_set, write_record  # noqa: E402

from sk_digitsum import DigitHeadsClassifier  # noqa: E402
from sk_digitsum.datasets import load_digit_bank  # noqa: E402
from sk_digitsum.persistence import load_model  # noqa: E402

CONFIDENCE = (0.95, 0.98, 0.99, 0.995, 0.999)
FIGURE = ROOT / "docs" / "_static" / "prediction_sets.png"


def image_sets(digits, n, seed):
    """Tight and scanned images of some MNIST test digits, ``n`` of each, with their sums."""
    images, labels = load_digit_bank(subset="test")
    tight, scanned = tight_and_scanned(images[digits], labels[digits], n, seed=seed, n_scanned=n)
    return {"tight": tight, "scanned": scanned}


def evaluate(model, calibration, test, conformity_score):
    from mapie.classification import SplitConformalClassifier

    (X_cal, y_cal, _), (X_test, y_test, _) = calibration, test
    known = np.isin(y_cal, model.classes_)  # a sum the model never saw cannot be in a set
    conformal = SplitConformalClassifier(estimator=model, prefit=True, confidence_level=list(CONFIDENCE),
                                         conformity_score=conformity_score)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rare sums absent from the calibration images
        conformal.conformalize(X_cal[known], y_cal[known])
        predicted, sets = conformal.predict_set(X_test)
    columns = np.searchsorted(model.classes_, y_test).clip(max=len(model.classes_) - 1)
    covered = sets[np.arange(len(y_test)), columns, :] & np.isin(y_test, model.classes_)[:, None]
    sizes = sets.sum(axis=1)
    single = sizes == 1
    right = predicted == y_test
    return [{"confidence": level, "coverage": covered[:, k].mean(), "flagged": 1 - single[:, k].mean(),
             "mean_size": sizes[:, k].mean(), "empty": (sizes[:, k] == 0).mean(),
             "unflagged_accuracy": right[single[:, k]].mean() if single[:, k].any() else float("nan"),
             "accuracy": right.mean()} for k, level in enumerate(CONFIDENCE)]


def confidence_figures(model, X, sums, bins=15):
    """Expected calibration error of the top sum, and accuracy of the 90% most confident images."""
    proba = model.predict_proba(X)
    confidence, right = proba.max(axis=1), model.classes_[proba.argmax(axis=1)] == sums
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges) - 1, 0, bins - 1)
    ece = sum(abs(right[which == b].mean() - confidence[which == b].mean()) * np.mean(which == b)
              for b in range(bins) if (which == b).any())
    most_confident = np.argsort(-confidence)[:int(0.9 * len(X))]
    return ece, right[most_confident].mean()


def figure(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for (kind, score), rows in results.items():
        ax.plot([100 * r["flagged"] for r in rows], [100 * r["coverage"] for r in rows], marker="o",
                linestyle="-" if score == "lac" else "--", label=f"{kind}, {score.upper()}")
        for r in rows:
            if score == "lac" and r["confidence"] in (0.95, 0.99, 0.999):
                ax.annotate(f"{r['confidence']:.1%}", (100 * r["flagged"], 100 * r["coverage"]),
                            textcoords="offset points", xytext=(5, -11), fontsize=8)
    ax.axhline(99, color="grey", linewidth=0.8)
    ax.set_xlabel("images flagged for a person to check (%)")
    ax.set_ylabel("sets holding the true sum (%)")
    ax.set_title("New writers' sums: coverage against images flagged")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a model saved by 'sk-digitsum train' (default: train the main job's model)")
    parser.add_argument("--n-calibration", type=int, default=5_000)
    parser.add_argument("--splits", type=int, default=8, help="random halvings of the test digits, for the spread")
    parser.add_argument("--record", default=RESULTS / "prediction_sets.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    model = load_model(args.model) if args.model else DigitHeadsClassifier(random_state=0, verbose=0).fit(
        *training_set())
    calibration, tests = image_sets(np.arange(0, 10_000, 2), args.n_calibration, seed=30), test_sets(digits="odd")
    results = {(kind, score): evaluate(model, calibration[kind], tests[kind], score)
               for kind in ("tight", "scanned") for score in ("lac", "aps")}
    at_99 = {kind: [] for kind in ("tight", "scanned")}
    for split in range(args.splits):
        digits = np.random.RandomState(split).permutation(10_000)
        halves = image_sets(digits[:5_000], args.n_calibration, 100 + split), image_sets(digits[5_000:], 5_000,
                                                                                           200 + split)
        for kind in at_99:
            at_99[kind].append(next(r for r in evaluate(model, halves[0][kind], halves[1][kind], "lac")
                                    if r["confidence"] == 0.99))
    spread = [[kind, *(f"{100 * np.mean([r[key] for r in rows]):.2f}% ({100 * min(r[key] for r in rows):.2f}-"
                       f"{100 * max(r[key] for r in rows):.2f})" for key in ("coverage", "flagged"))]
              for kind, rows in at_99.items()]
    rows = [[kind, score.upper(), f"{r['confidence']:.1%}", f"{100 * r['coverage']:.2f}%",
             f"{100 * r['flagged']:.2f}%", f"{r['mean_size']:.2f}", f"{100 * r['empty']:.2f}%",
             f"{100 * r['unflagged_accuracy']:.2f}%"]
            for (kind, score), result in results.items() for r in result]
    figure(results, FIGURE)
    accuracy = {kind: results[kind, "lac"][0]["accuracy"] for kind in ("tight", "scanned")}
    confidence = {kind: confidence_figures(model, tests[kind][0], tests[kind][1]) for kind in ("tight", "scanned")}
    body = (f"Sum accuracy of the model on the test images: {100 * accuracy['tight']:.2f}% tight, "
            f"{100 * accuracy['scanned']:.2f}% scanned; expected calibration error of its most probable sum "
            f"(15 bins) {100 * confidence['tight'][0]:.2f}% and {100 * confidence['scanned'][0]:.2f}%; accuracy "
            f"of the 90% most confident images {100 * confidence['tight'][1]:.2f}% and "
            f"{100 * confidence['scanned'][1]:.2f}%. Calibration: {args.n_calibration:,} images of each kind; "
            "test: 10,000 of each kind.\n\n"
            + markdown_table(["test images", "score", "confidence", "coverage", "flagged", "mean set size",
                              "empty sets", "accuracy of the images not flagged"], rows)
            + f"\n\nLAC at 99% over {args.splits} random halvings of the 10,000 test digits (calibration: "
              f"{args.n_calibration:,} images of one half, test: 5,000 of the other), mean (lowest-highest):\n\n"
            + markdown_table(["test images", "coverage", "flagged"], spread)
            + f"\n\nFigure: `docs/_static/{FIGURE.name}`.\n")
    command = "python benchmarks/prediction_sets.py" + (f" --model {args.model}" if args.model else "")
    write_record(args.record, "Sets of possible sums on new writers, by split conformal prediction", command,
                 time.perf_counter() - started, body)


if __name__ == "__main__":
    main()
