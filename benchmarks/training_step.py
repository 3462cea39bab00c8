"""Training and prediction speed: our fit and predict against a bare PyTorch loop, in one run.

Both sides train the same network (a copy of the one our estimator
initialises), with the same optimizer class and options, batch size, device,
autocast (as ``mixed_precision="auto"`` decides) and channels-last memory,
and see uint8 images copied to the device batch by batch. Ours runs with
``augment=False`` (the bare loop has no augmentation), no validation split
and its default callbacks: EMA, gradient clipping, cosine schedule, loss
bookkeeping. Each side trains ``--rounds`` times ``--epochs`` epochs, the
sides alternating which goes first; the first epoch of each fit warms up and
the table gives the median of the others. Prediction: ``predict`` of ``--n-predict`` images against a bare
forward pass of the same folded network, under the same autocast.

    python benchmarks/training_step.py                                 # the CPU table
    python benchmarks/training_step.py --device cuda --batch-size 256 \\
        --models digitnet_w32 resnet50_sum resnet50_heads              # the GPU table
"""

import argparse
import copy
import inspect
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, markdown_table, training_set  # noqa: E402

from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier  # noqa: E402
from sk_digitsum._device import autocast, autocast_dtype, resolve_device  # noqa: E402
from sk_digitsum.nn import unwrap  # noqa: E402

MODELS = {
    "digitnet_w8": (DigitHeadsClassifier, dict(module__width=8)),
    "digitnet_w16": (DigitHeadsClassifier, dict(module__width=16)),
    "digitnet_w32": (DigitHeadsClassifier, dict()),
    "digitnet_w48": (DigitHeadsClassifier, dict(module__width=48)),
    "digitnet_w32_compile": (DigitHeadsClassifier, dict(compile=True)),
    "resnet50_sum": (DigitSumClassifier, dict(backbone="resnet", depth=50)),
    "resnet50_heads": (DigitHeadsClassifier, dict(backbone="resnet", depth=50)),
}
CPU_MODELS = ["digitnet_w8", "digitnet_w16", "digitnet_w32", "digitnet_w48", "digitnet_w32_compile"]


def _synchronize(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _batches(images, batch_size, device, order=None):
    order = torch.arange(len(images)) if order is None else order
    for index in order.split(batch_size):
        x = images[index].to(device, non_blocking=True).float().div_(255)
        yield index, x.contiguous(memory_format=torch.channels_last)


def bare_fit(initialised, X, sums, epochs):
    """Seconds per epoch of a bare loop over a copy of ``initialised``'s network, criterion and optimizer."""
    device = initialised.device_
    module = copy.deepcopy(unwrap(initialised.module_)).train()
    if initialised.compile:
        module = torch.compile(module)
    criterion = initialised.criterion_
    optimizer_class = type(initialised.optimizer_)
    accepted = inspect.signature(optimizer_class).parameters
    optimizer = optimizer_class(module.parameters(), **{key: value for key, value in
                                                        initialised.optimizer_.defaults.items() if key in accepted})
    images, labels = torch.from_numpy(X[:, None]), torch.from_numpy(sums)
    if device.startswith("cuda"):
        images, labels = images.pin_memory(), labels.pin_memory()
    durations = []
    for _ in range(epochs):
        _synchronize(device)
        start = time.perf_counter()
        for index, x in _batches(images, initialised.batch_size, device, torch.randperm(len(images))):
            with autocast(initialised.mixed_precision, device):
                loss = criterion(module(x), labels[index].to(device, non_blocking=True))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        _synchronize(device)
        durations.append(time.perf_counter() - start)
    return durations


def bare_predict(clf, X):
    """Seconds of a forward pass over ``X`` through ``clf``'s folded prediction network."""
    module = clf._prediction_module()
    images = torch.from_numpy(X[:, None])
    _synchronize(clf.device_)
    start = time.perf_counter()
    with torch.inference_mode(), autocast(clf.mixed_precision, clf.device_):
        for _, x in _batches(images, clf.batch_size, clf.device_):
            module(x).float().cpu()
    _synchronize(clf.device_)
    return time.perf_counter() - start


def timed_predict(clf, X):
    _synchronize(clf.device_)
    start = time.perf_counter()
    clf.predict(X)
    _synchronize(clf.device_)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=CPU_MODELS, choices=list(MODELS))
    parser.add_argument("--n-samples", type=int, default=4096, help="training images")
    parser.add_argument("--n-predict", type=int, default=10_000, help="images to predict")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=4, help="epochs per side; the first warms up")
    parser.add_argument("--rounds", type=int, default=2, help="fits per side, alternating which goes first")
    parser.add_argument("--repeats", type=int, default=3, help="timed predictions per side (median)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    X, sums = training_set(max(args.n_samples, args.n_predict))
    X_fit, sums_fit = X[:args.n_samples], sums[:args.n_samples]
    headers = ["model", "batch", "fit img/s (ours)", "fit img/s (bare)", "ours / bare",
               "predict s (ours)", "predict s (bare, folded)", "ours / bare"]
    rows = []
    for name in args.models:
        estimator, params = MODELS[name]
        clf = estimator(**params, batch_size=args.batch_size, max_epochs=args.epochs, augment=False,
                        train_split=None, device=device, verbose=0, random_state=0)
        ours, bare = [], []
        for round_ in range(args.rounds):  # alternating which side goes first evens out drifts in speed
            for side in ["bare", "ours"][::(-1) ** round_]:
                if side == "bare":
                    bare += bare_fit(clf.initialize(), X_fit, sums_fit, args.epochs)[1:]
                else:
                    ours += list(clf.fit(X_fit, sums_fit).history_[1:, "dur"])
        fit_ours, fit_bare = args.n_samples / statistics.median(ours), args.n_samples / statistics.median(bare)
        clf.predict(X[:args.batch_size])  # builds and caches the folded network
        predict_ours, predict_bare = [], []
        for _ in range(args.repeats):
            predict_bare.append(bare_predict(clf, X[:args.n_predict]))
            predict_ours.append(timed_predict(clf, X[:args.n_predict]))
        predict_ours, predict_bare = statistics.median(predict_ours), statistics.median(predict_bare)
        rows.append([name, args.batch_size, f"{fit_ours:,.0f}", f"{fit_bare:,.0f}", f"{fit_ours / fit_bare:.2f}",
                     f"{predict_ours:.2f}", f"{predict_bare:.2f}", f"{predict_ours / predict_bare:.2f}"])
        print(name, "epoch seconds, ours:", [round(t, 2) for t in ours], "bare:", [round(t, 2) for t in bare],
              flush=True)
    print(f"\n{args.n_samples:,} training images, {args.n_predict:,} predicted, median of "
          f"{args.rounds} x {args.epochs - 1} epochs and {args.repeats} predictions; {machine()}; mixed_precision='auto' -> "
          f"{autocast_dtype('auto', device) or 'float32'}\n")
    print(markdown_table(headers, rows))


if __name__ == "__main__":
    main()
