"""The estimators' training path through skorch's fit loop.

skorch splits off validation images with ``train_split``
(:meth:`~TrainingStepMixin.get_split_datasets`, which adds the synthetic
stream), reads batches through :meth:`~TrainingStepMixin.get_iterator`, and
each step augments the batch and runs the network under the precision policy
(:meth:`~TrainingStepMixin.infer`), then computes the loss
(:meth:`~TrainingStepMixin.get_loss`); the default callbacks average the
weights, schedule the learning rate, score and print.
"""

from collections.abc import Mapping

import numpy as np
import torch
from skorch.callbacks import EpochScoring, GradientNormClipping, ProgressBar
from torch.optim.lr_scheduler import CosineAnnealingLR
from torch.utils.data import IterableDataset

from ._device import autocast
from .augment import augment_batch
from .callbacks import EMA, LRScheduler, PrintLog
from .streams import RealAndSyntheticStream, SeededValidSplit, SyntheticDigitStream

# Optimizers whose fused implementation runs on both the CPU and CUDA (Adagrad's is CPU-only).
_FUSED_ON_CPU_AND_CUDA = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)


class TrainingStepMixin:
    """skorch's data and training-step hooks for the digit-sum networks.

    For a skorch classifier with the estimators' parameters (``augment``,
    ``n_digits``, ``mixed_precision``, ``ema_beta``, ``synthetic``...) and the
    fitted ``device_`` and ``synthetic_``.
    """

    @property
    def _default_callbacks(self):
        # skorch's classifier defaults (timer, losses), its valid_acc on labelled images only, then
        # ours, then the printing.
        callbacks = [item for item in super()._default_callbacks if item[0] not in ("print_log", "valid_acc")]
        callbacks += [
            ("valid_acc", EpochScoring(labelled_sum_accuracy, name="valid_acc", lower_is_better=False)),
            ("lr_scheduler", LRScheduler(CosineAnnealingLR, T_max=max(self.max_epochs, 1))),
            ("gradient_clipping", GradientNormClipping(gradient_clip_value=5.0)),
        ]
        if self.ema_beta is not None:
            callbacks.append(("ema", EMA(beta=self.ema_beta)))
        if self.verbose >= 2:
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks + [("print_log", PrintLog())]

    def get_params_for_optimizer(self, prefix, named_parameters):
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        # On a GPU, one fused kernel for the whole update instead of a few per tensor: the optimizer
        # step is a large share of a short step there. On the CPU the step is a few percent of a
        # batch, so torch's default stays (and with it the CPU results of earlier versions). A choice
        # the user made wins.
        if (prefix == "optimizer" and self.optimizer in _FUSED_ON_CPU_AND_CUDA and self.device_.startswith("cuda")
                and not {"fused", "foreach", "differentiable"} & kwargs.keys()):
            kwargs["fused"] = True
        return args, kwargs

    def get_split_datasets(self, X, y=None, **fit_params):
        dataset = self.get_dataset(X, y)
        split = self.train_split
        if self.validation_fraction != "deprecated":
            split = SeededValidSplit(self.validation_fraction) if self.validation_fraction else None
        dataset_train, dataset_valid = split(dataset, y, **fit_params) if split else (dataset, None)
        if self.synthetic_ is not None:
            images = X["images"] if isinstance(X, Mapping) else X
            stream = SyntheticDigitStream(self.synthetic_, self.n_synthetic or len(dataset_train),
                                          random_state=int(torch.randint(2**31 - 1, ())))
            dataset_train = RealAndSyntheticStream(dataset_train, stream, as_float=images.dtype != np.uint8)
        return dataset_train, dataset_valid

    def get_iterator(self, dataset, training=False):
        prefix = "iterator_train" if training else "iterator_valid"
        kwargs = {"batch_size": self.batch_size, **self.get_params_for(prefix)}
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        if isinstance(dataset, IterableDataset):
            kwargs.pop("shuffle", None)  # a stream shuffles itself; DataLoader refuses the option
        elif training:
            kwargs.setdefault("shuffle", True)
        if self.device_.startswith("cuda"):
            kwargs.setdefault("pin_memory", True)  # lets batches go to the GPU while it computes
        return getattr(self, prefix)(dataset, **kwargs)

    def _to_device(self, batch):
        # Pinned batches then copy to a GPU while it still computes the previous step.
        return None if batch is None else torch.as_tensor(batch).to(self.device_, non_blocking=True)

    def infer(self, x, **fit_params):
        images = self._to_device(x["images"] if isinstance(x, Mapping) else x)
        if images.ndim == 3:  # (n, H, W) as given to skorch's forward, forward_iter or a predefined split
            images = images[:, None]
        if self.augment and self.module_.training:
            images = augment_batch(images, self.n_digits, self.augment)
        return self._forward(self.module_, images, **fit_params)

    def _forward(self, module, images, **fit_params):
        with autocast(self.mixed_precision, self.device_):
            return module(images.contiguous(memory_format=torch.channels_last), **fit_params)

    def check_data(self, X, y):
        super().check_data(X, y)
        if y is not None and self.classes is None:
            seen = self.classes_inferred_[self.classes_inferred_ >= 0]  # -1 marks unlabelled images
            # With no real label at all, a synthetic source labels every sum.
            self.classes_inferred_ = seen if len(seen) else np.arange(9 * self.n_digits + 1)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        known = X if isinstance(X, Mapping) else {}
        # The batch is still on the host: finding its unlabelled images makes no wait for the device.
        unlabelled = torch.as_tensor(y_true) < 0
        teacher = self._teacher_outputs(X, unlabelled) if training and unlabelled.any() else None
        return self.criterion_(y_pred, self._to_device(y_true), digits=self._to_device(known.get("digits")),
                               synthetic=self._to_device(known.get("synthetic")), teacher=teacher)

    def _teacher_outputs(self, X, unlabelled):
        """What the teacher reads in the unlabelled images of a batch, without augmentation.

        The teacher is the moving average of the weights when EMA is on (as in
        Mean Teacher), else the network itself, in eval mode and without
        gradients; the criterion turns its confident readings into
        pseudo-labels for the augmented view the network trained on (as in
        FixMatch).
        """
        images = self._to_device(torch.as_tensor(X["images"] if isinstance(X, Mapping) else X)[unlabelled])
        ema = dict(self.callbacks_).get("ema")
        teacher = ema.averaged_.module if getattr(ema, "averaged_", None) is not None else self.module_
        was_training = teacher.training
        teacher.eval()
        try:
            with torch.no_grad():
                return self._forward(teacher, images if images.ndim == 4 else images[:, None])
        finally:
            teacher.train(was_training)

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        # Reads the loss skorch has already copied to the host: testing the tensor in get_loss would
        # make the host wait for the device in the middle of every step.
        loss = self.history[-1, "batches", -1, "train_loss"] if training else None
        if training and not np.isfinite(loss):
            raise FloatingPointError(
                f"The training loss became {loss} at epoch {len(self.history)}: training diverged. "
                f"Lower the learning rate (lr={self.lr}), e.g. to {self.lr / 10:g}."
            )
        super().on_batch_end(net, batch=batch, training=training, **kwargs)


def labelled_sum_accuracy(net, X, y):
    """``valid_acc``: the sum accuracy on the labelled validation images (NaN where none is)."""
    y = np.asarray(y)
    labelled = y >= 0
    return float(np.mean(net.predict(X)[labelled] == y[labelled])) if labelled.any() else float("nan")
