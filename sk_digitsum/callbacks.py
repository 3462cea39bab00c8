"""skorch callbacks."""

import functools
import os
import sys

import torch
from skorch.callbacks import Callback
from skorch.callbacks import LRScheduler as _SkorchLRScheduler
from skorch.callbacks import PrintLog as _SkorchPrintLog
from torch.optim.swa_utils import AveragedModel

from .nn import unwrap


def ema_multi_avg(averaged, current, num_averaged, *, beta):
    """Update EMA tensors in place: ``v = beta * v + (1 - beta) * theta``.

    A module-level function (bound to ``beta`` with :func:`functools.partial`)
    rather than :func:`torch.optim.swa_utils.get_ema_multi_avg_fn`, whose
    closure cannot be pickled. Integer buffers, such as BatchNorm's batch
    counter, take the current value.
    """
    if averaged[0].is_floating_point():
        torch._foreach_lerp_(averaged, current, 1 - beta)
    else:
        torch._foreach_copy_(averaged, current)


class EMA(Callback):
    """Exponential moving average of the weights (and buffers).

    After each training batch the averaged copy moves towards the current
    weights: ``v_t = beta * v_{t-1} + (1 - beta) * theta_t``. Validation runs
    on the averaged weights, and when training ends (or is interrupted) the
    network keeps them, so predictions use them too.

    Parameters
    ----------
    beta : float, default=0.99
        Smoothing factor in [0, 1): the weight of the past average.

    Attributes
    ----------
    averaged_ : torch.optim.swa_utils.AveragedModel or None
        The running average while training; None before and after.

    Examples
    --------
    >>> from sk_digitsum import DigitSumClassifier
    >>> from sk_digitsum.callbacks import EMA
    >>> clf = DigitSumClassifier(ema_beta=None, callbacks=[EMA(beta=0.9)])
    """

    def __init__(self, beta=0.99):
        self.beta = beta

    def initialize(self):
        if not 0 <= self.beta < 1:
            raise ValueError(f"EMA beta must be in [0, 1), got {self.beta!r}.")
        self.averaged_ = None
        self.swapped_ = False
        return self

    def on_train_begin(self, net, **kwargs):
        self.averaged_ = None

    def on_batch_begin(self, net, training=False, **kwargs):
        if training and self.averaged_ is None:
            # Made at the first step rather than at on_train_begin, so that the average starts
            # from the weights that callbacks running after this one (LoadInitState) loaded.
            self.averaged_ = AveragedModel(unwrap(net.module_), use_buffers=True,
                                           multi_avg_fn=functools.partial(ema_multi_avg, beta=self.beta))
        if not training and not self.swapped_ and self._has_average():
            self._swap(net)

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.averaged_.update_parameters(unwrap(net.module_))

    def on_epoch_end(self, net, **kwargs):
        if self.swapped_:
            self._swap(net)

    def on_train_end(self, net, **kwargs):
        if self.swapped_:
            self._swap(net)
        if self._has_average():
            with torch.no_grad():
                for live, averaged in zip(_tensors(net.module_), _tensors(self.averaged_.module)):
                    live.copy_(averaged)
        self.averaged_ = None

    def _has_average(self):
        return self.averaged_ is not None and int(self.averaged_.n_averaged) > 0

    def _swap(self, net):
        """Exchange live and averaged values, so validation sees the average."""
        with torch.no_grad():
            for live, averaged in zip(_tensors(net.module_), _tensors(self.averaged_.module)):
                held = live.clone()
                live.copy_(averaged)
                averaged.copy_(held)
        self.swapped_ = not self.swapped_

    def __getstate__(self):
        # The average is training state on the training device: never pickled.
        state = self.__dict__.copy()
        state.update(averaged_=None, swapped_=False)
        return state


def _tensors(module):
    module = unwrap(module)
    return [*module.parameters(), *module.buffers()]


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
    """skorch's :class:`~skorch.callbacks.PrintLog`, colouring best values only on a terminal.

    skorch colours the best value of each column with ANSI codes wherever the
    table goes. This one colours only when :func:`colours_wanted` says the sink
    is a terminal and ``NO_COLOR`` is not set; the table is otherwise the same.

    Examples
    --------
    >>> from sk_digitsum import DigitHeadsClassifier
    >>> from sk_digitsum.callbacks import PrintLog
    >>> clf = DigitHeadsClassifier(callbacks__print_log=PrintLog(floatfmt=".3f"))
    """

    def format_row(self, row, key, color):
        if not colours_wanted(self.sink):
            row = {**row, key + "_best": False}
        return super().format_row(row, key, color)
