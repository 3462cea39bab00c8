"""Command line: ``python -m sk_digitsum {train,evaluate,predict}``."""

import argparse
import sys
import time

import joblib


def _default_sets(n_samples, n_test, random_state):
    """Sum-labelled training images and test images of held-out digits, from the embedded bank."""
    from .datasets import load_digit_bank, make_digit_sums, split_digit_bank

    train_bank, test_bank = split_digit_bank(*load_digit_bank())
    X, y, _ = make_digit_sums(*train_bank, n_samples, random_state=random_state)
    X_test, y_test, _ = make_digit_sums(*test_bank, n_test, random_state=random_state + 1)
    return X, y, X_test, y_test


def _train(args):
    from . import DigitHeadsClassifier, DigitSumClassifier
    from .io import load_images

    if args.data:
        X, y, _ = load_images(args.data)
        if y is None:
            raise SystemExit(f"{args.data} has no labels: training needs an .npz file with X and y.")
        X_test = y_test = None
        print(f"Training on {len(X)} images from {args.data}.")
    else:
        X, y, X_test, y_test = _default_sets(args.n_samples, args.n_test, args.random_state)
        print(f"Training on {len(X)} sum-labelled images composed from 4,000 embedded MNIST digits; "
              f"testing on {len(X_test)} images of the 1,000 held-out digits.")
    estimator = DigitSumClassifier if args.estimator == "sum" else DigitHeadsClassifier
    params = dict(random_state=args.random_state, verbose=args.verbose, device=args.device)
    if args.max_epochs is not None:
        params["max_epochs"] = args.max_epochs
    clf = estimator(**params)
    start = time.perf_counter()
    clf.fit(X, y)
    print(f"Fitted in {time.perf_counter() - start:.1f} s.")
    if X_test is not None:
        start = time.perf_counter()
        accuracy = clf.score(X_test, y_test)
        print(f"Sum accuracy on {len(X_test)} images of held-out digits: {accuracy:.4f} "
              f"(predicted in {time.perf_counter() - start:.2f} s).")
    joblib.dump(clf, args.out)
    print(f"Saved the model to {args.out}.")


def _evaluate(args):
    from .io import load_images

    clf = joblib.load(args.model)
    X, y, _ = load_images(args.data)
    if y is None:
        raise SystemExit(f"{args.data} has no labels to evaluate against.")
    print(f"Sum accuracy on {len(X)} images: {clf.score(X, y):.4f}")


def _predict(args):
    from .io import load_images

    clf = joblib.load(args.model)
    X, _, names = load_images(args.data)
    sums = clf.predict(X)
    names = names or [str(i) for i in range(len(X))]
    lines = ["image,sum"] + [f"{name},{value}" for name, value in zip(names, sums)]
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        print(f"Wrote {len(sums)} predictions to {args.out}.")
    else:
        print("\n".join(lines))


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m sk_digitsum",
        description="Read the sum of the handwritten digits in images.",
        epilog="Models are saved with joblib, which runs code when loading: load only files you trust.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train", help="train a model and save it",
        description="Train a model. Without --data: the default DigitHeadsClassifier on 10,000 sum-labelled "
                    "images composed from the embedded MNIST digits, scored on images of held-out digits.")
    train.add_argument("--data", help=".npz file with X (n, H, W) images and y sums or digits")
    train.add_argument("--estimator", choices=["heads", "sum"], default="heads",
                       help="heads: DigitHeadsClassifier (default); sum: DigitSumClassifier")
    train.add_argument("--n-samples", type=int, default=10_000, help="training images to compose (default 10000)")
    train.add_argument("--n-test", type=int, default=2_000, help="test images to compose (default 2000)")
    train.add_argument("--max-epochs", type=int, default=None, help="epochs (default: the estimator's)")
    train.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    train.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    train.add_argument("--verbose", type=int, default=1, help="1: a line per epoch (default); 0: quiet")
    train.add_argument("--out", default="model.joblib", help="where to save the model (default model.joblib)")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser("evaluate", help="score a saved model on labelled images",
                                   description="Print the sum accuracy of a saved model on an .npz file.")
    evaluate.add_argument("--model", required=True, help="a model saved by 'train'")
    evaluate.add_argument("--data", required=True, help=".npz file with X and y")
    evaluate.set_defaults(run=_evaluate)

    predict = commands.add_parser("predict", help="predict sums with a saved model",
                                  description="Predict the sum of each image of a folder or an .npz file.")
    predict.add_argument("--model", required=True, help="a model saved by 'train'")
    predict.add_argument("--data", required=True, help="folder of images or .npz file with X")
    predict.add_argument("--out", help="CSV file to write (default: print)")
    predict.set_defaults(run=_predict)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    sys.exit(main())
