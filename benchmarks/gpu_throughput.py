"""Training and prediction throughput: our fit/predict against a plain PyTorch loop.

Both sides train the same network (our module classes), at the same batch
size, on the same device, with the same autocast (bfloat16 where the hardware
computes it natively, as ``mixed_precision="auto"`` decides) and channels-last
memory, and see uint8 28x112 images copied to the device batch by batch. Ours
runs with augment=False (the plain loop has no augmentation) and its default
EMA and callbacks. Throughput is taken over the second epoch, after warm-up.

    python benchmarks/gpu_throughput.py                      # on a GPU
    python benchmarks/gpu_throughput.py --n-samples 512 --models digitnet_heads   # a CPU smoke run
"""

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, markdown_table, training_set  # noqa: E402

from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier  # noqa: E402
from sk_digitsum._device import autocast_dtype, resolve_device  # noqa: E402

MODELS = {
    "resnet50_sum": (DigitSumClassifier, dict(backbone="resnet", depth=50)),
    "resnet50_heads": (DigitHeadsClassifier, dict(backbone="resnet", depth=50)),
    "digitnet_heads": (DigitHeadsClassifier, dict()),
}


def _synchronize(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def plain_loop(clf, X, sums, batch_size, device, epochs=2):
    """Train the estimator's own network class with a bare loop; images/s of the last epoch."""
    torch.manual_seed(0)
    module = clf.module(backbone=clf.backbone, depth=clf.depth, image_shape=X.shape[2:],
                        n_digits=clf.n_digits).to(device).to(memory_format=torch.channels_last)
    criterion = clf.criterion()
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
    images = torch.from_numpy(X)
    labels = torch.from_numpy(sums)
    if device.startswith("cuda"):
        images, labels = images.pin_memory(), labels.pin_memory()
    dtype = autocast_dtype(clf.mixed_precision, device)
    autocast = dict(device_type=torch.device(device).type, dtype=dtype, enabled=dtype is not None)
    seconds = 0.0
    for _ in range(epochs):
        order = torch.randperm(len(images))
        _synchronize(device)
        start = time.perf_counter()
        for batch in order.split(batch_size):
            x = images[batch].to(device, non_blocking=True).float().div_(255)
            y = labels[batch].to(device, non_blocking=True)
            with torch.autocast(**autocast):
                loss = criterion(module(x.contiguous(memory_format=torch.channels_last)), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        _synchronize(device)
        seconds = time.perf_counter() - start
    module.eval()
    with torch.inference_mode():
        _synchronize(device)
        start = time.perf_counter()
        for batch in torch.arange(len(images)).split(batch_size):
            x = images[batch].to(device, non_blocking=True).float().div_(255)
            with torch.autocast(**autocast):
                module(x.contiguous(memory_format=torch.channels_last)).float().cpu()
        _synchronize(device)
        predict_seconds = time.perf_counter() - start
    return len(images) / seconds, len(images) / predict_seconds


def ours(estimator, params, X, y, batch_size, device):
    clf = estimator(**params, batch_size=batch_size, max_epochs=2, augment=False, train_split=None,
                    device=device, verbose=0, random_state=0, iterator_valid__batch_size=batch_size)
    clf.fit(X, y)
    train_rate = len(X) / clf.history_[-1, "dur"]
    clf.predict(X[:batch_size])
    _synchronize(device)
    start = time.perf_counter()
    clf.predict(X)
    _synchronize(device)
    return clf, train_rate, len(X) / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--n-samples", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    X, y = training_set(args.n_samples)
    rows = []
    for name in args.models:
        estimator, params = MODELS[name]
        clf, train_ours, predict_ours = ours(estimator, params, X, y, args.batch_size, device)
        train_plain, predict_plain = plain_loop(clf, X[:, None], y, args.batch_size, device)
        rows.append([name, args.batch_size, f"{train_ours:,.0f}", f"{train_plain:,.0f}",
                     f"{100 * train_ours / train_plain:.0f}%", f"{predict_ours:,.0f}", f"{predict_plain:,.0f}",
                     machine()])
        print(rows[-1], flush=True)
    print(markdown_table(["model", "batch", "fit img/s (ours)", "fit img/s (plain loop)", "ours / plain",
                          "predict img/s (ours)", "predict img/s (plain)", "device"], rows))


if __name__ == "__main__":
    main()
