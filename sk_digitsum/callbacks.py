"""skorch callbacks: the moving average of the weights, the learning-rate schedule, the epoch table.

Also the scorer of the estimators' ``valid_acc``.
"""

import copy
import os
import sys
import time

import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.callbacks import LRScheduler as _SkorchLRScheduler
from skorch.callbacks import PrintLog as _SkorchPrintLog

from .nn import unwrap


class EMA(Callback):
    """Exponential moving average of the weights (and buffers), warmed up over the first steps.

    After each training step the average moves towards the current weights:
    ``v_t = b_t * v_{t-1} + (1 - b_t) * theta_t``, starting from the weights
    the fit starts with. With ``warmup`` the factor grows with the number
    ``t`` of updates of this fit, ``b_t = min(beta, (1 + t) / (10 + t))``, as
    in TensorFlow's ``ExponentialMovingAverage(num_updates=...)`` and timm's
    model EMA; without it, ``b_t = beta``, and the average of a short fit is
    still mostly the initial weights (after 80 steps at beta 0.99, 45% of
    it).

    Validation scores the average: it goes into the network at the first
    validation batch (at the end of the epoch when there is none) and stays
    there until the next training step. So what runs at the end of an epoch
    (scoring, ``Checkpoint``, ``EarlyStopping(load_best=True)``) sees and
    saves the weights that were scored, and the network ends training, or an
    interrupted training, with the average.

    Parameters
    ----------
    beta : float, default=0.99
        Smoothing factor in [0, 1): the weight of the past average once
        warmed up.
    warmup : bool, default=True
        Start from a small factor that grows to ``beta``.

    Attributes
    ----------
    average_ : torch.nn.Module or None
        During training steps, a copy of the network holding the averaged
        weights (the teacher of unlabelled images reads it); None outside
        ``fit``.
    n_updates_ : int
        Updates of the average in this fit.

    Examples
    --------
    >>> from sk_digitsum import DigitSumClassifier
    >>> from sk_digitsum.callbacks import EMA
    >>> clf = DigitSumClassifier(ema_beta=None, callbacks=[EMA(beta=0.9)])
    >>> [round(EMA(beta=0.99).beta_at(t), 3) for t in (0, 10, 100, 1000)]
    [0.1, 0.55, 0.918, 0.99]
    """

    def __init__(self, beta=0.99, warmup=True):
        self.beta = beta
        self.warmup = warmup

    def initialize(self):
        if not 0 <= self.beta < 1:
            raise ValueError(f"EMA beta must be in [0, 1), got {self.beta!r}.")
        self._reset()
        return self

    def beta_at(self, t):
        """The factor of update ``t`` (0 for the first of a fit)."""
        return min(self.beta, (1 + t) / (10 + t)) if self.warmup else self.beta

    def on_train_begin(self, net, **kwargs):
        self._reset()

    def on_batch_begin(self, net, training=False, **kwargs):
        if training:
            if self.in_network_:
                self._swap(net)  # training goes on from the live weights
            if self.average_ is None:
                # Made at the first step rather than at on_train_begin, so that the average starts
                # from the weights that callbacks running after this one (LoadInitState) loaded.
                self._start(net)
        elif not self.in_network_ and self.n_updates_:
            self._swap(net)

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            live_floats, average_floats, live_others, average_others = self.tensors_
            torch._foreach_lerp_(average_floats, live_floats, 1 - self.beta_at(self.n_updates_))
            if live_others:  # integer buffers, such as BatchNorm's batch counter, take the current value
                torch._foreach_copy_(average_others, live_others)
            self.n_updates_ += 1

    def on_epoch_end(self, net, **kwargs):
        if not self.in_network_ and self.n_updates_:  # an epoch without validation
            self._swap(net)

    def on_train_end(self, net, **kwargs):
        if self.n_updates_ and not self.in_network_:
            with torch.no_grad():
                torch._foreach_copy_(_tensors(net.module_), _tensors(self.average_))
        self._reset()

    def _reset(self):
        self.average_ = None
        self.tensors_ = None
        self.n_updates_ = 0
        self.in_network_ = False

    def _start(self, net):
        self.average_ = copy.deepcopy(unwrap(net.module_))
        pairs = list(zip(_tensors(net.module_), _tensors(self.average_)))
        floats = [pair for pair in pairs if pair[0].is_floating_point()]
        others = [pair for pair in pairs if not pair[0].is_floating_point()]
        # Listed once per fit: the per-step update is then two fused calls and no Python loop.
        self.tensors_ = ([live for live, _ in floats], [average for _, average in floats],
                         [live for live, _ in others], [average for _, average in others])

    def _swap(self, net):
        """Exchange the live and averaged values, so that the network holds the other set."""
        live, average = _tensors(net.module_), _tensors(self.average_)
        with torch.no_grad():
            held = torch._foreach_mul(live, 1)
            torch._foreach_copy_(live, average)
            torch._foreach_copy_(average, held)
        self.in_network_ = not self.in_network_

    def __getstate__(self):
        # The average is training state on the training device: never pickled.
        state = self.__dict__.copy()
        state.update(average_=None, tensors_=None, n_updates_=0, in_network_=False)
        return state


def labelled_sum_accuracy(net, X, y):
    """``valid_acc``: the sum accuracy on the labelled validation images (NaN where none is).

    Images labelled -1 (unlabelled) have no sum to compare with and are left out.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_digitsum.callbacks import labelled_sum_accuracy
    >>> class Net:
    ...     def predict(self, X):
    ...         return np.array([3, 5, 7, 9])
    >>> labelled_sum_accuracy(Net(), None, np.array([3, 0, -1, -1]))    # one of two labelled images right
    0.5
    """
    y = np.asarray(y)
    labelled = y >= 0
    return float(np.mean(net.predict(X)[labelled] == y[labelled])) if labelled.any() else float("nan")


def _tensors(module):
    module = unwrap(module)
    return [tensor.detach() for tensor in (*module.parameters(), *module.buffers())]


class LRScheduler(_SkorchLRScheduler):
    """skorch's :class:`~skorch.callbacks.LRScheduler`, safe to pickle across devices.

    The scheduler object holds the optimizer and, through it, the weights on
    the training device; pickled inside the callback it escapes skorch's
    device mapping, so a model trained on a GPU would not load on a CPU-only
    machine. It is rebuilt at the start of every fit, so it is not pickled.

    Examples
    --------
    >>> from torch.optim.lr_scheduler import StepLR
    >>> from sk_digitsum import DigitHeadsClassifier
    >>> from sk_digitsum.callbacks import LRScheduler
    >>> clf = DigitHeadsClassifier(callbacks__lr_scheduler=LRScheduler(StepLR, step_size=10))
    """

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("lr_scheduler_", None)
        return state


def colours_wanted(sink=print):
    """Whether output to ``sink`` may carry ANSI colours.

    Only :func:`print` to standard output on a terminal, and never with the
    ``NO_COLOR`` environment variable set to anything (https://no-color.org):
    colour codes in a piped log or a file are noise.
    """
    return sink is print and not os.environ.get("NO_COLOR") and sys.stdout.isatty()


class PrintLog(_SkorchPrintLog):
    """skorch's :class:`~skorch.callbacks.PrintLog`, with the fit's progress, colouring best values only on a terminal.

    The epoch column reads ``k/N``, where the fit ends at epoch ``N``, and a
    ``left`` column estimates the time to that end from the fit's pace so
    far (``EarlyStopping`` may end it sooner). skorch colours the best value
    of each column with ANSI codes wherever the table goes; this one colours
    only when :func:`colours_wanted` says the sink is a terminal and
    ``NO_COLOR`` is not set, so piped logs hold no control codes. The table
    is otherwise skorch's.

    Examples
    --------
    >>> from sk_digitsum import DigitHeadsClassifier
    >>> from sk_digitsum.callbacks import PrintLog
    >>> clf = DigitHeadsClassifier(callbacks__print_log=PrintLog(floatfmt=".3f"))
    """

    def on_train_begin(self, net, **kwargs):
        self.first_epoch_ = len(net.history)  # epochs of earlier fits (partial_fit, warm_start)
        self.last_epoch_ = self.first_epoch_ + net.max_epochs
        self.started_ = time.monotonic()

    def table(self, row):
        epoch = row["epoch"]
        seconds_left = (time.monotonic() - self.started_) / (epoch - self.first_epoch_) * (self.last_epoch_ - epoch)
        # skorch puts event_* columns just before dur and shows them without the prefix.
        return super().table({**row, "epoch": f"{epoch}/{self.last_epoch_}", "event_left": _duration(seconds_left)})

    def format_row(self, row, key, color):
        if not colours_wanted(self.sink):
            row = {**row, key + "_best": False}
        return super().format_row(row, key, color)


def _duration(seconds):
    """A duration as a person reads it: 45s, 3m05s, 1h02m."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
