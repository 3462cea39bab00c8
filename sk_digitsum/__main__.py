"""Command line: ``sk-digitsum`` or ``python -m sk_digitsum`` {train,evaluate,predict,export}.

Nothing heavy is imported at module level, so ``--help`` and ``--version``
answer without loading torch, and ``predict`` and ``evaluate`` of an ONNX
model (``.onnx``) run without torch at all. A mistake of the user (a missing
or foreign file, an unknown device, a bad option value) ends with one line
on stderr and exit status 2; a traceback means a bug.
"""

import argparse
import os
import re
import sys
import time

from . import __version__

# The extension of a model file picks its format: the safe one (JSON parameters and tensors,
# read with torch.load(weights_only=True)) or a joblib pickle, which runs code when loaded.
_SAFE_SUFFIXES = (".pt",)
_PICKLE_SUFFIXES = (".joblib", ".pkl")
_ONNX_SUFFIXES = (".onnx",)
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


class UsageError(Exception):
    """A mistake of the user: reported as one line, with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # argparse prints the whole usage first; one line that names the fix reads better in a log.
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _prog():
    started_as_module = os.path.abspath(sys.argv[0]) == os.path.abspath(__file__)
    return "python -m sk_digitsum" if started_as_module else "sk-digitsum"


def _number(kind, *, zero=False):
    """An argparse type: a number of ``kind`` above 0 (or at least 0 with ``zero``)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if value < 0 or (value == 0 and not zero):
            raise argparse.ArgumentTypeError(f"{text!r} must be {'0 or more' if zero else 'greater than 0'}")
        return value

    return parse


def _fraction(text):
    """An argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must lie strictly between 0 and 1")
    return value


def _device(text):
    if not _DEVICE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}: use cpu, cuda, cuda:N or auto")
    if text.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError(f"{text}: no CUDA GPU is available here; use --device cpu, or "
                                             "--device auto to take a GPU only where there is one")
    return text


def _existing(path, what):
    if not os.path.exists(path):
        raise UsageError(f"{what} {path} does not exist: check the path")
    return path


# ---------------------------------------------------------------------------------------- models
def _save(clf, path):
    # The file keeps what prediction needs; the validation images and the synthetic source are
    # training-only settings, which the safe format cannot store anyway.
    clf.set_params(train_split=type(clf)().train_split, synthetic=None)
    if path.endswith(_SAFE_SUFFIXES):
        clf.save(path)
    else:
        import joblib

        from .persistence import replacing

        with replacing(path) as file:
            joblib.dump(clf, file)


def _load(path):
    _existing(path, "model file")
    fix = f"give a file written by '{_prog()} train'"
    if path.endswith(_ONNX_SUFFIXES):
        return _load_onnx(path)
    from ._base import _DigitClassifierBase
    from .persistence import load_model

    with open(path, "rb") as file:
        # torch.save writes a zip archive, which opens with a local file header; a pickle opens with
        # its protocol. (A whole-file zip test misleads: pickled networks hold zip archives inside.)
        is_safe_format = file.read(4) == b"PK\x03\x04"
    if is_safe_format:
        try:
            return load_model(path)
        except ValueError as error:
            raise UsageError(f"{error} ({fix})") from None
    import joblib

    try:
        model = joblib.load(path)
    except Exception as error:  # a corrupt pickle can fail in any of a dozen ways
        reason = ": ".join(filter(None, [type(error).__name__, str(error)]))
        raise UsageError(f"{path} is not an sk_digitsum model file, or it is damaged ({reason}); {fix}") from None
    if not isinstance(model, _DigitClassifierBase):
        raise UsageError(f"{path} holds a {type(model).__name__}, not an sk_digitsum model; {fix}")
    return model


def _load_onnx(path):
    try:
        from .runtime import OnnxPredictor
    except ImportError:  # onnxruntime
        raise UsageError("reading .onnx models needs ONNX Runtime: pip install onnxruntime") from None
    try:
        return OnnxPredictor(path)
    except ValueError as error:
        raise UsageError(str(error)) from None
    except Exception as error:  # ONNX Runtime's own errors for a file it cannot read
        raise UsageError(f"{path} is not an ONNX model ONNX Runtime can read, or it is damaged "
                         f"({type(error).__name__}); give a file written by '{_prog()} export'") from None


def _images(path):
    from .io import load_images

    _existing(path, "data")
    try:
        return load_images(path)
    except ValueError as error:
        raise UsageError(str(error)) from None


# -------------------------------------------------------------------------------------- commands
def _default_sets(args):
    """The main job's images: training from the embedded digits, validation and test from MNIST's test set.

    The test set's writers wrote none of the training digits; its even-indexed digits make the
    validation images and its odd-indexed ones the test images, so that no digit is in two sets.
    """
    from .datasets import load_digit_bank, make_digit_sums

    train_bank = load_digit_bank()
    test_images, test_labels = load_digit_bank(subset="test")
    valid_bank, test_bank = (test_images[::2], test_labels[::2]), (test_images[1::2], test_labels[1::2])
    seed = args.random_state
    layout = (1, args.max_digits) if args.max_digits else args.n_digits or 4
    sets = [make_digit_sums(*bank, n, n_digits=layout, random_state=seed + i)[:2]
            for i, (bank, n) in enumerate([(train_bank, args.n_samples), (valid_bank, args.n_valid),
                                           (test_bank, args.n_test)])]
    print(f"Training on {args.n_samples:,} sum-labelled images of the {len(train_bank[0]):,} embedded MNIST digits; "
          f"validating each epoch on {args.n_valid:,} images of {len(valid_bank[0]):,} MNIST test digits, and "
          f"testing on {args.n_test:,} images of the other {len(test_bank[0]):,}: writers none of the training "
          "digits came from.")
    return train_bank, sets


def _estimator(args, image_width):
    from .estimators import DigitHeadsClassifier, DigitSumClassifier
    from .nn import BACKBONES, check_backbone

    if args.backbone not in BACKBONES:
        raise UsageError(f"--backbone {args.backbone}: unknown backbone; use {', '.join(BACKBONES)}")
    try:
        check_backbone(args.backbone, args.depth, False)
    except ValueError as error:
        raise UsageError(f"--depth {args.depth}: {error}") from None
    if args.max_digits and args.n_digits:
        raise UsageError("--n-digits and --max-digits: give one (a fixed number of digits in slots, or up to "
                         "--max-digits anywhere)")
    params = dict(random_state=args.random_state, verbose=args.verbose, device=args.device,
                  backbone=args.backbone, depth=args.depth, max_digits=args.max_digits,
                  n_digits=args.n_digits or max(1, image_width // 28))
    for name in ("lr", "max_epochs"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    clf = (DigitSumClassifier if args.estimator == "sum" else DigitHeadsClassifier)(**params)
    try:
        clf._check_params()  # a bad value or an absent GPU fails here, before any data is made
    except ValueError as error:
        raise UsageError(str(error)) from None
    return clf


def _train(args):
    if not args.out.endswith(_SAFE_SUFFIXES + _PICKLE_SUFFIXES):
        raise UsageError(f"--out {args.out}: end the name in .pt (safe format) or .joblib (pickle)")
    if os.path.dirname(args.out):
        _existing(os.path.dirname(args.out), "output folder")
    test = bank = None
    if args.data:
        X, y, _ = _images(args.data)
        if y is None:
            raise UsageError(f"{args.data} has no labels: training needs an .npz file with X and y")
        clf = _estimator(args, X.shape[-1])
        print(f"Training on {len(X)} images from {args.data}.")
    else:
        clf = _estimator(args, 28 * (args.max_digits or args.n_digits or 4))
        bank, ((X, y), valid, test) = _default_sets(args)
        from skorch.dataset import Dataset
        from skorch.helper import predefined_split

        clf.set_params(train_split=predefined_split(Dataset(*valid)))
    if args.synthetic:
        from .synthetic import SyntheticDigitsGenerator

        layout = clf.n_digits if clf.max_digits is None else (1, clf.max_digits)
        generator = SyntheticDigitsGenerator(n_digits=layout, width=X.shape[-1], random_state=args.random_state,
                                             verbose=args.verbose)
        clf.set_params(synthetic=generator if bank is None else generator.fit(*bank), n_synthetic=args.synthetic)
    start = time.perf_counter()
    try:
        clf.fit(X, y)
    except ValueError as error:  # the images or labels do not suit the options
        raise UsageError(str(error)) from None
    print(f"Fitted in {time.perf_counter() - start:.1f} s.")
    if test is not None:
        start = time.perf_counter()
        accuracy = clf.score(*test)
        print(f"Sum accuracy on {len(test[0]):,} images of new writers' digits: {accuracy:.2%} "
              f"(predicted in {time.perf_counter() - start:.2f} s).")
    _save(clf, args.out)
    print(f"Saved the model to {args.out}.")


def _read_by(model, args, method, *data, source=None):
    """``model.method(*data)``, with images of another size than the model reads answered as a user error.

    ``source`` names where the images came from: ``--data`` unless said otherwise.
    """
    from ._validation import ImageSizeError

    try:
        return getattr(model, method)(*data)
    except ImageSizeError as error:
        (height, width), (model_height, model_width) = error.shape, error.expected
        found = f"{source or args.data} holds {height}x{width} images and {args.model} reads {model_height}x{model_width}"
        if error.digits:
            raise UsageError(f"{found}: they hold {error.digits[0]} digits where the model reads "
                             f"{error.digits[1]}; train a model for them ('{_prog()} train --data FILE.npz', "
                             f"which takes --n-digits {error.digits[0]} from their width)") from None
        raise UsageError(f"{found}: resize them to {model_height}x{model_width} pixels (height x width) "
                         "first") from None


def _export(args):
    if not args.out.endswith(_ONNX_SUFFIXES):
        raise UsageError(f"--out {args.out}: end the name in .onnx")
    if os.path.dirname(args.out):
        _existing(os.path.dirname(args.out), "output folder")
    if args.model.endswith(_ONNX_SUFFIXES):
        raise UsageError(f"{args.model} is an ONNX model already; export reads a model written by "
                         f"'{_prog()} train' (.pt or .joblib)")
    clf = _load(args.model)
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise UsageError("export needs the onnx extra: pip install 'sk_digitsum[onnx]'") from None
    clf.to_onnx(args.out)
    print(f"Wrote {args.out}: {type(clf).__name__} for {clf.image_shape_[0]}x{clf.image_shape_[1]} uint8 images, "
          f"predicting {len(clf._sum_columns())} sums; '{_prog()} predict --model {args.out}' reads it without torch.")


def _evaluate(args):
    clf = _load(args.model)
    X, y, _ = _images(args.data)
    if y is None:
        raise UsageError(f"{args.data} has no labels to evaluate against: give an .npz file with X and y")
    print(f"Sum accuracy on {len(X)} images: {_read_by(clf, args, 'score', X, y):.4f}")


def _prediction_sets(model, args, X):
    """Each image's set of possible sums at ``--confidence``, by MAPIE's split conformal prediction."""
    try:
        from mapie.classification import SplitConformalClassifier
    except ImportError:
        raise UsageError("--calibration needs MAPIE: pip install 'sk_digitsum[conformal]'") from None
    from ._validation import target_sums

    X_calibration, y_calibration, _ = _images(args.calibration)
    if y_calibration is None:
        raise UsageError(f"{args.calibration} has no labels: calibration needs an .npz file with X and y")
    try:
        # MAPIE takes one label per image: the sum
        most = model.max_digits or model.n_digits
        sums = target_sums(y_calibration, most, free_layout=model.max_digits is not None)
    except (TypeError, ValueError) as error:
        raise UsageError(f"{args.calibration}: {error}") from None
    labelled = sums >= 0
    unknown = sorted(set(sums[labelled]) - set(model.classes_.tolist()))
    if unknown:
        raise UsageError(f"{args.calibration} holds sums the model never predicts ({unknown}): calibrate on images "
                         "of the sums it was trained on")
    conformal = SplitConformalClassifier(estimator=model, prefit=True, confidence_level=args.confidence,
                                         conformity_score="lac")
    _read_by(conformal, args, "conformalize", X_calibration[labelled], sums[labelled], source=args.calibration)
    _, sets = _read_by(conformal, args, "predict_set", X)
    return [model.classes_[row] for row in sets[:, :, 0]]


def _predict(args):
    clf = _load(args.model)
    X, _, names = _images(args.data)
    sums = _read_by(clf, args, "predict", X)
    names = names or [str(i) for i in range(len(X))]
    if args.calibration:
        sets = _prediction_sets(clf, args, X)
        lines = ["image,sum,possible_sums,review"] + [
            f"{name},{value},{' '.join(map(str, possible))},{'yes' if len(possible) != 1 else 'no'}"
            for name, value, possible in zip(names, sums, sets)]
    else:
        lines = ["image,sum"] + [f"{name},{value}" for name, value in zip(names, sums)]
    if args.out:
        from .persistence import replacing

        with replacing(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
        print(f"Wrote {len(sums)} predictions to {args.out}.")
    else:
        print("\n".join(lines))


# ---------------------------------------------------------------------------------------- parser
def build_parser():
    """The command line's parser (the CLI reference in the docs is generated from it)."""
    parser = _Parser(
        prog=_prog(),
        description="Read the sum of the handwritten digits in images.",
        epilog="Model files ending in .pt hold parameters and tensors only and are safe to share; files "
               "ending in .joblib are pickles, which run code when loaded: load only pickles you trust.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser(
        "train", help="train a model and save it",
        description="Train a model and save it. Without --data, the main job: the default DigitHeadsClassifier "
                    "on 10,000 sum-labelled images composed from the 5,000 embedded MNIST digits, validated "
                    "each epoch on 1,000 images of the even-indexed digits of MNIST's test set (writers none "
                    "of the training digits came from) and scored at the end on 10,000 images of its "
                    "odd-indexed digits.")
    train.add_argument("--data", help=".npz file with X (n, H, W) images and y sums or digits")
    train.add_argument("--estimator", choices=["heads", "sum"], default="heads",
                       help="heads: DigitHeadsClassifier (default); sum: DigitSumClassifier")
    train.add_argument("--backbone", default="digitnet",
                       help="digitnet (default, small and fast), convnet (4-layer baseline) or resnet")
    train.add_argument("--depth", type=_number(int),
                       help="layers of the backbone: 1-16 for digitnet (default 6), 18, 34, 50 or 101 for resnet")
    train.add_argument("--lr", type=_number(float), help="learning rate (default: the estimator's, 0.003)")
    train.add_argument("--max-epochs", type=_number(int), help="epochs (default: the estimator's, 30)")
    train.add_argument("--n-digits", type=_number(int),
                       help="digits per image (default: 4 for the embedded data, image width / 28 for --data)")
    train.add_argument("--max-digits", type=_number(int),
                       help="images hold up to N digits anywhere, read by the column reader; the embedded data "
                            "then holds 1 to N digits on 28 x 28N images")
    train.add_argument("--synthetic", type=_number(int, zero=True), default=0, metavar="N",
                       help="also train on N fresh synthetic images with their digits each epoch (default 0)")
    train.add_argument("--n-samples", type=_number(int), default=10_000,
                       help="training images to compose (default 10000)")
    train.add_argument("--n-valid", type=_number(int), default=1_000,
                       help="validation images to compose (default 1000)")
    train.add_argument("--n-test", type=_number(int), default=10_000,
                       help="test images to compose (default 10000)")
    train.add_argument("--device", type=_device, default="auto", help="cpu, cuda, cuda:N or auto (default)")
    train.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    train.add_argument("--verbose", type=int, default=1, help="1: a line per epoch (default); 0: quiet")
    train.add_argument("--out", default="model.pt",
                       help="where to save the model: .pt for the safe format (default model.pt), .joblib for "
                            "a pickle")
    train.set_defaults(run=_train)

    evaluate = commands.add_parser("evaluate", help="score a saved model on labelled images",
                                   description="Print the sum accuracy of a saved model on an .npz file.")
    evaluate.add_argument("--model", required=True, help="a model saved by 'train' (.pt, .joblib) or 'export' (.onnx)")
    evaluate.add_argument("--data", required=True, help=".npz file with X and y")
    evaluate.set_defaults(run=_evaluate)

    predict = commands.add_parser("predict", help="predict sums with a saved model",
                                  description="Predict the sum of each image of a folder or an .npz file.")
    predict.add_argument("--model", required=True,
                         help="a model saved by 'train' (.pt or .joblib) or by 'export' (.onnx, read without torch)")
    predict.add_argument("--data", required=True, help="folder of images or .npz file with X")
    predict.add_argument("--out", help="CSV file to write (default: print)")
    predict.add_argument("--calibration", metavar="CAL.npz",
                         help="labelled images (an .npz file with X and y) of the kind to predict: each image gets "
                              "its set of possible sums at --confidence, and a review flag where that set is not "
                              "one sum (split conformal prediction with MAPIE: the 'conformal' extra)")
    predict.add_argument("--confidence", type=_fraction, default=0.99,
                         help="how often the set of possible sums holds the true one (default 0.99)")
    predict.set_defaults(run=_predict)

    export = commands.add_parser(
        "export", help="export a saved model to ONNX, to predict without torch",
        description="Write a model saved by 'train' to an ONNX file: the network, its exact sum distribution and "
                    "the sums it predicts, read by 'predict' and by sk_digitsum.runtime.OnnxPredictor with ONNX "
                    "Runtime alone (the 'onnx' extra).")
    export.add_argument("--model", required=True, help="a model saved by 'train' (.pt or .joblib)")
    export.add_argument("--out", required=True, help="the ONNX file to write (.onnx)")
    export.set_defaults(run=_export)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except UsageError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")


if __name__ == "__main__":
    sys.exit(main())
