"""Cross-validated comparison of DigitHeadsClassifier variants on the embedded bank.

One held-out split of 1,000 digits measures per-digit accuracy on only 1,000
digit images, so its standard error near 99% is about 0.3%: as large as the
differences between variants. Here every variant is trained on each of five
folds (4,000 digits compose 10,000 sum-labelled training images, the other
1,000 compose 4,000 test images, tight and scanned), so 5,000 distinct digits
are scored. Digit probabilities are saved per run, so the effect of
test-time shifts and of averaging two seeds can be read off afterwards.

The ``unlabelled*`` variants tune learning from unlabelled images on the
embedded bank alone: fold k is scored as above, the digits of fold k + 1
compose 8,000 unlabelled images (half tight, half scanned) and the other
three folds 4,000 sum-labelled ones, for 15 epochs (as the 20-minute row of
``benchmarks/unlabelled.py``); ``unlabelled_true_sums`` gives the unlabelled
images their sums, the ceiling of the others. The levers in ``SINGLE_SPLIT``
were measured on fold 0 alone (``--folds 0``), the held-out split of earlier
versions' tuning.

Runs go to parallel worker processes (one GPU shared, or CPU threads split)::

    python benchmarks/fold_sweep.py --device cuda --workers 8 --deadline 420
    python benchmarks/fold_sweep.py unlabelled unlabelled_true_sums --results benchmarks/results/fold_sweep_unlabelled
    python benchmarks/fold_sweep.py --summary benchmarks/results/fold_sweep
"""

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, markdown_table, sums_from_digit_proba, tight_and_scanned  # noqa: E402

from sk_digitsum import SyntheticDigitsGenerator  # noqa: E402

# Variants of the 0.2 defaults (DigitNet depth 6 in 3 stages, head dropout 0.3, no elastic
# distortion), named after what they change.
_VARIANTS_OF_0_2 = {
    "defaults_0.2": {},
    "defaults_0.1": {"depth": 4, "module__stages": 2, "module__dropout": 0.0},
    "no_dropout": {"module__dropout": 0.0},
    "no_dropout_width24": {"module__dropout": 0.0, "module__width": 24},
    "no_dropout_depth5": {"depth": 5, "module__dropout": 0.0},
    "no_dropout_60_epochs": {"module__dropout": 0.0, "max_epochs": 60},
    # Training distortions as wide as the scanned test set's (benchmarks/_common.py, SCANNED).
    "scanned_augment": {"augment": {"rotation": 18.0, "shift": (5.0, 3.0), "noise": 0.15}},
    # Levers against overfitting 4,000 digits.
    "batch_64": {"batch_size": 64},
    "weight_decay_0.05": {"optimizer__weight_decay": 0.05},
    "45_epochs": {"max_epochs": 45},
}
# Levers measured on fold 0 alone (``--folds 0``): the held-out split of earlier versions' tuning
# (every fifth digit), with the defaults of the version that measured them.
MILD = dict(rotation=10.0, scale=(0.9, 1.1), shift=(2.0, 1.5), stroke=0.4, noise=0.03, elastic=0.0)
SINGLE_SPLIT = {
    "mild_augment": {"augment": MILD},
    "no_augment": {"augment": False},
    "no_ema": {"ema_beta": None},
    "width_48": {"module__width": 48},
    "50_epochs": {"max_epochs": 50},
    "lr_1e-3": {"lr": 1e-3},
    "synthetic_15_epochs": {"synthetic": SyntheticDigitsGenerator(random_state=0), "max_epochs": 15},
    "synthetic": {"synthetic": SyntheticDigitsGenerator(random_state=0)},
    "width_48_50_epochs": {"module__width": 48, "max_epochs": 50},
    "elastic_3": {"augment": {"elastic": 3.0}},
}


def _without_elastic(params):
    """A variant as measured before a 1-pixel elastic distortion joined the defaults (0.3)."""
    return {**params, "augment": {**params.get("augment", {}), "elastic": 0.0}}


VARIANTS = {
    "defaults": {},
    "elastic_1.5": {"augment": {"elastic": 1.5}},
    **{name: _without_elastic(params) for name, params in _VARIANTS_OF_0_2.items()},
    **SINGLE_SPLIT,
}
SEMI_SUPERVISED = {
    "unlabelled": {},
    "unlabelled_true_sums": {},
    "unlabelled_threshold_0.9": {"criterion__threshold": 0.9},
    "unlabelled_threshold_0.98": {"criterion__threshold": 0.98},
    "unlabelled_weight_0.5": {"criterion__unlabelled_weight": 0.5},
}
VARIANTS.update({name: {"max_epochs": 15, **params} for name, params in SEMI_SUPERVISED.items()})
N_SEMI_LABELLED, N_SEMI_UNLABELLED = 4_000, 8_000
N_FOLDS = 5
SHIFTS = [(0, 1), (0, -1), (1, 0), (-1, 0)]


def fold_data(fold, variant="defaults"):
    from sk_digitsum.datasets import load_digit_bank, make_digit_sums

    images, labels = load_digit_bank()
    folds = np.arange(len(labels)) % N_FOLDS
    held = folds == fold
    (X_test, _, digits), (X_scanned, _, _) = tight_and_scanned(images[held], labels[held], 4_000, seed=1)
    if variant not in SEMI_SUPERVISED:
        X, y, _ = make_digit_sums(images[~held], labels[~held], 10_000, random_state=0)
        return X, y, X_test, X_scanned, digits
    unlabelled_fold = folds == (fold + 1) % N_FOLDS
    labelled = ~held & ~unlabelled_fold
    X, y, _ = make_digit_sums(images[labelled], labels[labelled], N_SEMI_LABELLED, random_state=0)
    half = N_SEMI_UNLABELLED // 2
    tight, scanned = tight_and_scanned(images[unlabelled_fold], labels[unlabelled_fold], half, seed=10,
                                       n_scanned=half)
    X_u, sums_u = np.concatenate([tight[0], scanned[0]]), np.concatenate([tight[1], scanned[1]])
    y_u = sums_u if variant == "unlabelled_true_sums" else np.full(len(X_u), -1)
    return np.concatenate([X, X_u]), np.concatenate([y, y_u]), X_test, X_scanned, digits


def shifted(X, dy, dx):
    out = np.zeros_like(X)
    height, width = X.shape[-2:]
    out[..., max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
        X[..., max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    return out


def run(job):
    variant, fold, seed, device, out, deadline = job
    import torch

    from sk_digitsum import DigitHeadsClassifier

    path = Path(out) / f"{variant}_f{fold}_s{seed}.npz"
    if path.exists() or time.time() > deadline:
        return None
    torch.set_num_threads(int(os.environ.get("SWEEP_THREADS", "2")))
    X, y, X_test, X_scanned, digits = fold_data(fold, variant)
    start = time.perf_counter()
    clf = DigitHeadsClassifier(random_state=seed, device=device, verbose=0, **VARIANTS[variant]).fit(X, y)
    fit_seconds = time.perf_counter() - start
    arrays = {"digits": digits.astype(np.int8)}
    for name, images in (("tight", X_test), ("scanned", X_scanned)):
        plain = clf.predict_digit_proba(images)
        shifts = [clf.predict_digit_proba(shifted(images, dy, dx)) for dy, dx in SHIFTS]
        arrays[name] = plain.astype(np.float16)
        arrays[name + "_tta"] = np.mean([plain, *shifts], axis=0).astype(np.float16)
    np.savez_compressed(path, fit_seconds=fit_seconds, epochs=len(clf.history_), **arrays)
    return variant, fold, seed, fit_seconds


def digit_accuracy(proba, digits):
    return np.mean(proba.argmax(-1) == digits)


def sum_accuracy(proba, digits):
    return np.mean(sums_from_digit_proba(proba) == digits.sum(axis=1))


def summary(folder):
    """Means over folds, then each fold's per-digit accuracy on tight / scanned images."""
    runs = {}
    for path in sorted(Path(folder).glob("*.npz")):
        variant, fold, seed = path.stem.rsplit("_", 2)
        runs[variant, int(fold[1:]), int(seed[1:])] = dict(np.load(path))
    columns = {  # name: (score, predictions it reads)
        "digit": (digit_accuracy, "tight"), "scanned digit": (digit_accuracy, "scanned"),
        "tight sum": (sum_accuracy, "tight"), "scanned sum": (sum_accuracy, "scanned"),
        "digit TTA": (digit_accuracy, "tight_tta"), "tight TTA": (sum_accuracy, "tight_tta"),
        "scanned TTA": (sum_accuracy, "scanned_tta"),
    }
    rows, fold_rows = [], []
    for variant in VARIANTS:
        folds = sorted({f for v, f, s in runs if v == variant and s == 0})
        if not folds:
            continue
        singles = [runs[variant, fold, 0] for fold in folds]
        means = [np.mean([score(r[key], r["digits"]) for r in singles]) for score, key in columns.values()]
        paired = [f for f in folds if (variant, f, 1) in runs]
        ensemble_digit = ensemble_tight = ""
        if paired:
            truth = [runs[variant, f, 0]["digits"] for f in paired]
            single = [runs[variant, f, 0]["tight"].astype(np.float32) for f in paired]
            pair = [(p + runs[variant, f, 1]["tight"]) / 2 for p, f in zip(single, paired)]
            single_digit = np.mean([digit_accuracy(p, t) for p, t in zip(single, truth)])
            pair_digit = np.mean([digit_accuracy(p, t) for p, t in zip(pair, truth)])
            ensemble_digit = f"{100 * pair_digit:.2f}% (one seed {100 * single_digit:.2f}%, {len(paired)} folds)"
            ensemble_tight = f"{100 * np.mean([sum_accuracy(p, t) for p, t in zip(pair, truth)]):.2f}%"
        fit = np.mean([float(r["fit_seconds"]) for r in singles])
        rows.append([variant, len(folds)] + [f"{100 * mean:.2f}%" for mean in means]
                    + [ensemble_digit, ensemble_tight, f"{fit:.0f}"])
        per_fold = {fold: r for fold, r in zip(folds, singles)}
        fold_rows.append([variant] + [
            f"{100 * digit_accuracy(per_fold[f]['tight'], per_fold[f]['digits']):.2f} / "
            f"{100 * digit_accuracy(per_fold[f]['scanned'], per_fold[f]['digits']):.2f}" if f in per_fold else ""
            for f in range(N_FOLDS)])
    return (markdown_table(["variant", "folds", *columns, "2-seed digit", "2-seed tight", "fit (s)"], rows)
            + "\n\nPer-digit accuracy per fold, tight / scanned (%):\n\n"
            + markdown_table(["variant", *(f"fold {f}" for f in range(N_FOLDS))], fold_rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="*", help=f"some of: {', '.join(VARIANTS)}")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=float("inf"), help="seconds after which no run starts")
    parser.add_argument("--folds", type=int, nargs="+", default=list(range(N_FOLDS)))
    parser.add_argument("--ensemble-folds", type=int, nargs="*", default=[0, 1],
                        help="folds also trained with a second seed")
    parser.add_argument("--results", default=str(RESULTS / "fold_sweep"))
    parser.add_argument("--summary", metavar="FOLDER", help="only print the table of saved runs")
    args = parser.parse_args(argv)
    if args.summary:
        print(summary(args.summary))
        return
    Path(args.results).mkdir(parents=True, exist_ok=True)
    deadline = time.time() + args.deadline
    variants = args.variants or list(VARIANTS)
    # Interleaved so that a deadline cuts every variant at the same folds, seed-1 runs among them.
    order = [(f, 0) for f in args.folds]
    for index, fold in enumerate(args.ensemble_folds):
        order.insert(3 * index + 3, (fold, 1))
    jobs = [(v, f, seed) for f, seed in order for v in variants]
    jobs = [(*job, args.device, args.results, deadline) for job in jobs]
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        for done in pool.imap_unordered(run, jobs):
            if done:
                print(json.dumps(dict(zip(("variant", "fold", "seed", "fit_seconds"), done))), flush=True)
    print(summary(args.results))


if __name__ == "__main__":
    main()
