"""Where the time of a training step goes: our fit against the bare loop of training_step.py, per batch.

    python benchmarks/step_profile.py                       # widths 8, 16 and 48, about 4 minutes
    python benchmarks/step_profile.py --widths 16 --epochs 3 --rounds 1

Each part of one step is timed where it happens: on our side by wrapping the functions skorch calls
(the loader's ``__next__``, ``infer``, ``get_loss``, ``Tensor.backward``, the clipping and EMA
callbacks, the optimizer's update), on the bare side by timers around the same lines. What is left
of an epoch's wall time is skorch's bookkeeping (callbacks, history, the step closure) on our side
and the loop itself on the bare one; it also takes the freeing of the step's tensors, which the bare
loop does inside its next step's parts. Milliseconds per batch, median over the epochs after the
first of each fit, the sides alternating which goes first over ``--rounds`` fits each, as in
training_step.py: the machine's speed drifts by more than the differences measured.
"""

import argparse
import copy
import functools
import statistics
import sys
import time
import types
from collections import defaultdict
from pathlib import Path

import torch
from skorch.callbacks import Callback, GradientNormClipping

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, markdown_table, training_set  # noqa: E402

from sk_digitsum import DigitHeadsClassifier  # noqa: E402
from sk_digitsum.callbacks import EMA  # noqa: E402
from sk_digitsum.nn import unwrap  # noqa: E402

PARTS = ["data", "forward", "loss", "backward", "clipping", "optimizer", "EMA", "other"]


class Timers:
    def __init__(self):
        self.seconds = defaultdict(float)

    def wrap(self, part, function):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[part] += time.perf_counter() - start
        return timed


def profile_ours(clf, X, sums, epochs):
    """Per-epoch part seconds of our fit."""
    timers = Timers()
    epochs_parts = []

    class PerEpoch(Callback):
        def on_epoch_begin(self, net, **kwargs):
            timers.seconds.clear()
            self.start_ = time.perf_counter()

        def on_epoch_end(self, net, **kwargs):
            epochs_parts.append(_with_other(dict(timers.seconds), time.perf_counter() - self.start_))

    patched = {(torch.utils.data.dataloader._BaseDataLoaderIter, "__next__"): "data",
               (torch.Tensor, "backward"): "backward", (GradientNormClipping, "on_grad_computed"): "clipping",
               (EMA, "on_batch_end"): "EMA", (EMA, "on_batch_begin"): "EMA"}
    saved = {target: getattr(*target) for target in patched}
    try:
        for (owner, name), part in patched.items():
            setattr(owner, name, timers.wrap(part, saved[owner, name]))
        clf.set_params(max_epochs=epochs, callbacks=[("per_epoch", PerEpoch())]).initialize()
        clf.infer = timers.wrap("forward", clf.infer)
        clf.get_loss = timers.wrap("loss", clf.get_loss)
        update = clf.optimizer_.step

        def step(optimizer, closure):
            # skorch hands the step closure (forward, loss, backward, clipping) to the optimizer: the
            # update is what is left of step() after it.
            in_closure = []

            def timed_closure():
                start = time.perf_counter()
                try:
                    return closure()
                finally:
                    in_closure.append(time.perf_counter() - start)

            start = time.perf_counter()
            result = update(timed_closure)
            timers.seconds["optimizer"] += time.perf_counter() - start - sum(in_closure)
            return result

        clf.optimizer_.step = types.MethodType(step, clf.optimizer_)  # a method, as the scheduler wants
        clf.partial_fit(X, sums)
    finally:
        for (owner, name), function in saved.items():
            setattr(owner, name, function)
        for name in ("infer", "get_loss"):
            clf.__dict__.pop(name, None)
    return epochs_parts


def profile_bare(clf, X, sums, epochs):
    """Per-epoch part seconds of the bare loop of training_step.py, with timers around each part."""
    clf.initialize()
    module = copy.deepcopy(unwrap(clf.module_)).train()
    average = copy.deepcopy(module)
    live = [t.detach() for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()]
    averaged = [t.detach() for t in (*average.parameters(), *average.buffers()) if t.is_floating_point()]
    warmup = EMA(beta=clf.ema_beta)
    optimizer = type(clf.optimizer_)(module.parameters(), lr=clf.lr)
    images, labels = torch.from_numpy(X), torch.from_numpy(sums)
    epochs_parts, step = [], 0
    for _ in range(epochs):
        seconds = defaultdict(float)
        epoch_start = time.perf_counter()
        for index in torch.randperm(len(images)).split(clf.batch_size):
            marks = [time.perf_counter()]
            x, y = images[index], labels[index]
            marks.append(time.perf_counter())
            output = module(x)
            marks.append(time.perf_counter())
            loss = clf.criterion_(output, y)
            marks.append(time.perf_counter())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            marks.append(time.perf_counter())
            torch.nn.utils.clip_grad_norm_(module.parameters(), 5.0)
            marks.append(time.perf_counter())
            optimizer.step()
            marks.append(time.perf_counter())
            torch._foreach_lerp_(averaged, live, 1 - warmup.beta_at(step))
            step += 1
            loss.item()
            marks.append(time.perf_counter())
            for part, begin, end in zip(PARTS, marks, marks[1:]):
                seconds[part] += end - begin
        epochs_parts.append(_with_other(dict(seconds), time.perf_counter() - epoch_start))
    return epochs_parts


def _with_other(parts, total):
    parts["other"] = total - sum(parts.values())
    parts["total"] = total
    return parts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 16, 48])
    parser.add_argument("--n-samples", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=4, help="epochs per fit; the first warms up")
    parser.add_argument("--rounds", type=int, default=2, help="fits per side, alternating which goes first")
    args = parser.parse_args(argv)
    X, sums = training_set(args.n_samples)
    for width in args.widths:
        clf = DigitHeadsClassifier(module__width=width, augment=False, train_split=None, max_epochs=1, verbose=0,
                                   random_state=0, device="cpu")
        n_batches = -(-args.n_samples // clf.batch_size)
        sides = {"ours": [], "bare": []}
        for round_ in range(args.rounds):
            for side in ["ours", "bare"][::(-1) ** round_]:
                profile = profile_ours if side == "ours" else profile_bare
                sides[side] += profile(clf, X, sums, args.epochs)[1:]
        rows = []
        for part in PARTS + ["total"]:
            per_batch = {side: 1000 * statistics.median(epoch[part] for epoch in epochs) / n_batches
                         for side, epochs in sides.items()}
            rows.append([part, f"{per_batch['ours']:.2f}", f"{per_batch['bare']:.2f}",
                         f"{per_batch['ours'] - per_batch['bare']:+.2f}"])
        print(f"\nDigitNet width {width}, batch {clf.batch_size}, {args.n_samples:,} images; {machine()}\n")
        print(markdown_table(["part (ms per batch)", "ours", "bare", "ours - bare"], rows), flush=True)


if __name__ == "__main__":
    main()
