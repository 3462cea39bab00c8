"""Training and prediction speed: our fit and predict against a bare PyTorch loop, in one run.

Both sides train the same network (a copy of the one our estimator
initialises, whose forward pass scales the uint8 images, sets channels-last
memory and autocasts as ``mixed_precision="auto"`` decides), with the same
optimizer class and options, batch size and device, and see uint8 images
copied to the device batch by batch. The bare loop does the work of our
default callbacks by hand: an exponential moving average of the weights
(``torch._foreach_lerp_`` with the same warm-up), gradient-norm clipping at
5.0 and the cosine schedule. Ours runs with ``augment=False`` (the bare loop
has no augmentation) and no validation split. Each side trains ``--rounds``
times ``--epochs`` epochs, the sides alternating which goes first; the first
epoch of each fit warms up and the table gives the median of the others.
Prediction: ``predict`` of ``--n-predict`` images against a bare forward
pass of the same folded network.

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
from _common import machine, markdown_table, training_set, write_record  # noqa: E402

from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier  # noqa: E402
from sk_digitsum._validation import check_device  # noqa: E402
from sk_digitsum.callbacks import EMA  # noqa: E402
from sk_digitsum.nn import folded, unwrap  # noqa: E402
from sk_digitsum.nn.precision import autocast_dtype  # noqa: E402

MODELS = {
    "digitnet_w8": (DigitHeadsClassifier, dict(module__width=8)),
    "digitnet_w16": (DigitHeadsClassifier, dict(module__width=16)),
    "digitnet_w32": (DigitHeadsClassifier, dict()),
    "digitnet_w48": (DigitHeadsClassifier, dict(module__width=48)),
    "digitnet_w32_compile": (DigitHeadsClassifier, dict(compile=True)),
    "digitnet_depth4": (DigitHeadsClassifier, dict(depth=4, module__stages=2)),
    "convnet": (DigitHeadsClassifier, dict(backbone="convnet")),
    "resnet50_sum": (DigitSumClassifier, dict(backbone="resnet", depth=50)),
    "resnet50_heads": (DigitHeadsClassifier, dict(backbone="resnet", depth=50)),
}
CPU_MODELS = ["digitnet_w8", "digitnet_w16", "digitnet_w32", "digitnet_w48", "digitnet_w32_compile"]


def _synchronize(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bare_fit(initialised, X, sums, epochs):
    """Seconds per epoch of a bare loop over a copy of ``initialised``'s network, criterion and optimizer."""
    device = initialised.device_
    module = copy.deepcopy(unwrap(initialised.module_)).train()
    average = copy.deepcopy(module)
    live_floats = [t.detach() for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()]
    average_floats = [t.detach() for t in (*average.parameters(), *average.buffers()) if t.is_floating_point()]
    warmup = EMA(beta=initialised.ema_beta)
    if initialised.compile:
        module = torch.compile(module)
    criterion = initialised.criterion_
    optimizer_class = type(initialised.optimizer_)
    accepted = inspect.signature(optimizer_class).parameters
    optimizer = optimizer_class(module.parameters(), **{key: value for key, value in
                                                        initialised.optimizer_.defaults.items() if key in accepted})
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    images, labels = torch.from_numpy(X), torch.from_numpy(sums)
    if device.startswith("cuda"):
        images, labels = images.pin_memory(), labels.pin_memory()
    durations, step = [], 0
    for _ in range(epochs):
        _synchronize(device)
        start = time.perf_counter()
        for index in torch.randperm(len(images)).split(initialised.batch_size):
            loss = criterion(module(images[index].to(device, non_blocking=True)),
                             labels[index].to(device, non_blocking=True))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), 5.0)
            optimizer.step()
            torch._foreach_lerp_(average_floats, live_floats, 1 - warmup.beta_at(step))
            step += 1
            loss.item()  # skorch records every batch's loss: the host waits for the step here too
        schedule.step()
        _synchronize(device)
        durations.append(time.perf_counter() - start)
    return durations


def bare_predict(clf, X):
    """Seconds of a forward pass over ``X`` through a folded copy of ``clf``'s network."""
    module = folded(clf.module_)
    images = torch.from_numpy(X)
    _synchronize(clf.device_)
    start = time.perf_counter()
    with torch.inference_mode():
        for index in torch.arange(len(images)).split(clf.batch_size):
            module(images[index].to(clf.device_, non_blocking=True)).float().cpu()
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
    parser.add_argument("--record", help="also write the table as a record, e.g. benchmarks/results/predict_cpu.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    device = check_device(args.device)
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
    summary = (f"{args.n_samples:,} training images, {args.n_predict:,} predicted, median of "
               f"{args.rounds} x {args.epochs - 1} epochs and {args.repeats} predictions; {machine()}; "
               f"mixed_precision='auto' -> {autocast_dtype('auto', torch.device(device).type) or 'float32'}")
    table = markdown_table(headers, rows)
    print(f"\n{summary}\n\n{table}")
    if args.record:
        command = "python benchmarks/training_step.py " + " ".join(argv if argv is not None else sys.argv[1:])
        write_record(args.record, "Training and prediction against a bare PyTorch loop", command.strip(),
                     time.perf_counter() - started, f"{summary}.\n\n{table}\n")


if __name__ == "__main__":
    main()
