"""scikit-learn estimators: skorch nets that read the sum of handwritten digits.

The path of ``fit(X, y)``: the parameters (scikit-learn's constraints) and
the images and labels are checked here, before anything changes; then
skorch's fit loop runs the training path of ``_training`` (split, batches,
augmentation, forward pass under the precision policy, loss, callbacks).
Prediction (``_prediction``) runs a folded copy of the network; saving and
pickling live in ``persistence``.
"""

import contextlib
import numbers
import os
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Hidden, Interval, Options, StrOptions, validate_parameter_constraints,
)
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback
from skorch.dataset import Dataset
from torch.utils.data import DataLoader

from . import _validation, persistence
from ._device import MIXED_PRECISION, resolve_device, skorch_sees
from ._prediction import SumPredictionMixin
from ._training import TrainingStepMixin
from .augment import AUGMENTATION
from .datasets import DIGIT_SIZE, composed_image_shape
from .nn import BACKBONES, DigitHeadsLoss, DigitHeadsNet, DigitSumNet, SumLoss, check_backbone, describe_backbones
from .persistence import PersistenceMixin
from .streams import SeededValidSplit, fitted_source
from .synthetic import SyntheticDigitsGenerator

_MISSING = object()
# skorch 1.4's set_params raises for these on an initialised net, though they touch no component.
_LOADER_PREFIXES = ("iterator_train__", "iterator_valid__", "dataset__")
_DEFAULT_SPLIT = SeededValidSplit(0.1)

_PARAMETER_CONSTRAINTS = {
    "backbone": [StrOptions(set(BACKBONES))],
    "depth": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "n_digits": [Interval(numbers.Integral, 1, None, closed="left")],
    "image_shape": [tuple, list, None],
    "ema_beta": [Interval(numbers.Real, 0, 1, closed="left"), None],
    "pretrained": ["boolean", str, os.PathLike, None],
    "augment": ["boolean", dict],
    "synthetic": [SyntheticDigitsGenerator, None],
    "synthetic_weight": [Interval(numbers.Real, 0, None, closed="left")],
    "n_synthetic": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "device": [str, torch.device, None],
    "mixed_precision": [StrOptions(set(MIXED_PRECISION))],
    "random_state": ["random_state"],
    "max_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
    "lr": [Interval(numbers.Real, 0, None, closed="neither")],
    "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), Options(numbers.Integral, {-1})],
    "optimizer": [callable],
    "train_split": [callable, None],
    "callbacks": [list, tuple, StrOptions({"disable"}), None],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "classes": ["array-like", None],
    "compile": ["boolean"],
    # The probabilities come from the exact sum layer; skorch's nonlinearity has nothing to apply to.
    "predict_nonlinearity": [StrOptions({"auto"})],
    "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left"), Hidden(StrOptions({"deprecated"}))],
}


class _DigitClassifierBase(_validation.ImageInputMixin, TrainingStepMixin, SumPredictionMixin, PersistenceMixin,
                           NeuralNetClassifier):
    """Shared machinery of the digit-sum estimators; not for direct use."""

    _network = None
    _criterion = None

    _parameter_constraints = _PARAMETER_CONSTRAINTS

    def __init__(
        self,
        backbone="digitnet",
        depth=None,
        *,
        n_digits=4,
        image_shape=None,
        ema_beta=0.99,
        pretrained=False,
        augment=True,
        synthetic=None,
        synthetic_weight=1.0,
        n_synthetic=None,
        device="auto",
        mixed_precision="auto",
        random_state=None,
        max_epochs=30,
        lr=3e-3,
        batch_size=128,
        optimizer=torch.optim.AdamW,
        train_split=_DEFAULT_SPLIT,
        callbacks=None,
        verbose=1,
        warm_start=False,
        classes=None,
        validation_fraction="deprecated",
        module=None,
        criterion=None,
        iterator_train=DataLoader,
        iterator_valid=DataLoader,
        dataset=Dataset,
        predict_nonlinearity="auto",
        compile=False,
        use_caching="auto",
        torch_load_kwargs=None,
        **kwargs,
    ):
        super().__init__(
            module, criterion=criterion, optimizer=optimizer, lr=lr, max_epochs=max_epochs,
            batch_size=batch_size, iterator_train=iterator_train, iterator_valid=iterator_valid,
            dataset=dataset, train_split=train_split, callbacks=callbacks,
            predict_nonlinearity=predict_nonlinearity, warm_start=warm_start, verbose=verbose, device=device,
            compile=compile, use_caching=use_caching, torch_load_kwargs=torch_load_kwargs, classes=classes,
            **kwargs,
        )
        self.backbone = backbone
        self.depth = depth
        self.n_digits = n_digits
        self.image_shape = image_shape
        self.ema_beta = ema_beta
        self.pretrained = pretrained
        self.augment = augment
        self.synthetic = synthetic
        self.synthetic_weight = synthetic_weight
        self.n_synthetic = n_synthetic
        self.mixed_precision = mixed_precision
        self.random_state = random_state
        self.validation_fraction = validation_fraction

    # scikit-learn's repr, HTML repr included: the parameters that differ from their defaults.
    __repr__ = BaseEstimator.__repr__

    def get_params(self, deep=True, **kwargs):
        # skorch lists every attribute without a trailing underscore, its own bookkeeping too.
        return {name: value for name, value in super().get_params(deep=deep, **kwargs).items()
                if not name.startswith("_")}

    def _get_params_html(self, deep=True, doc_link=""):
        # The HTML table lists the estimator's own parameters; skorch's deep ones add the settings
        # of every default callback, which scikit-learn would mark as set by the user.
        return super()._get_params_html(deep=False, doc_link=doc_link)

    # ----------------------------------------------------------------- checks
    def _check_params(self):
        """Check every parameter; return the device training will use."""
        validate_parameter_constraints(self._parameter_constraints, self.get_params(deep=False),
                                       caller_name=type(self).__name__)
        check_backbone(self.backbone, self.depth, self.pretrained)
        _validation.check_classes(self.classes, self.n_digits)
        if self.image_shape is not None:
            _validation.check_range(self.image_shape, "image_shape", low=DIGIT_SIZE, ordered=False)
        if isinstance(self.augment, dict) and set(self.augment) - set(AUGMENTATION):
            raise ValueError(f"augment must be True, False or a dict with some of the keys {sorted(AUGMENTATION)}; "
                             f"got {self.augment!r}.")
        if self.validation_fraction != "deprecated":
            warnings.warn("validation_fraction is deprecated and will be removed; pass "
                          f"train_split=SeededValidSplit({self.validation_fraction}) (from sk_digitsum.streams), "
                          "or train_split=None for no validation.", FutureWarning)
        return self._compute_device()  # raises for a device that is not here

    def _compute_device(self):
        """Where batches and the network go: the ``device`` parameter with 'auto' resolved."""
        return resolve_device(self.device)

    def _device_for_skorch(self):
        """The device skorch places modules on and maps loaded tensors to."""
        return self._compute_device()

    def _labels_are_sums(self):
        """Whether training reads the labels as sums (the digit heads, or any mix with synthetic digits)."""
        return self.synthetic is not None

    def _training_data(self, X, y, resume):
        """Check everything a fit needs; return X and y as skorch's fit loop takes them.

        Nothing of the estimator changes before all checks pass, so a failed
        call leaves a fitted estimator as it was.
        """
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None: "
                             "give the sums (n,) or the digits (n, n_digits) of the images.")
        device = self._check_params()
        resume = resume and self.initialized_
        shape = self.image_shape_ if resume else self.image_shape
        images = _validation.check_images(X, expected_shape=shape, row_shape=composed_image_shape(self.n_digits))
        sums, digits = _validation.check_labels(y, len(images), self.n_digits, require_label=self.synthetic is None)
        caller = _validation.reencoding_caller()
        if caller is not None and self._labels_are_sums():
            raise ValueError(
                f"scikit-learn's {caller} re-encodes the labels as 0..k-1 over the labels present before "
                f"fitting, which turns sums into other sums, and {type(self).__name__} reads them as sums. "
                "Fit the estimator first and hand it over as sklearn.frozen.FrozenEstimator(fitted), or see "
                "\"Use scikit-learn's meta-estimators\" in the user guide for each tool's recipe."
            )
        synthetic = None if self.synthetic is None else fitted_source(
            self.synthetic, self.n_digits, images.shape[2:], self.verbose)
        if self.device == "auto" and self.verbose and device == "cpu":
            print("device='auto': no CUDA GPU found, training on the CPU.")
        self.synthetic_ = synthetic
        if not resume:
            self.image_shape_ = tuple(images.shape[2:])
        return (images if digits is None else {"images": images, "digits": digits}), sums

    # -------------------------------------------------------------------- fit
    def fit(self, X, y, **fit_params):
        """Train on images and their sums or digits.

        All inputs and parameters are checked before anything changes: a call
        that fails them leaves a fitted estimator as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W), (n_samples, 1, H, W) or (n_samples, H * W)
            Grey images, uint8 0-255 or floats in [0, 1]; H, W >= 28.
        y : array-like of shape (n_samples,) or (n_samples, n_digits)
            The sum of each image's digits, or the digits themselves.
        **fit_params : dict
            Passed to the module's forward and to ``train_split``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X, sums = self._training_data(X, y, resume=self.warm_start)
        with self._seeded():
            if not self.warm_start or not self.initialized_:
                self.initialize()
            super().partial_fit(X, sums, _routing_method="fit", **fit_params)
        return self

    def partial_fit(self, X, y, classes=None, **fit_params):
        """Train ``max_epochs`` more epochs, starting from the current weights.

        Parameters
        ----------
        X, y, **fit_params
            As in :meth:`fit`.
        classes : ignored
            Set the sums predicted with the ``classes`` parameter.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X, sums = self._training_data(X, y, resume=True)
        with self._seeded():
            super().partial_fit(X, sums, **fit_params)
        return self

    @contextlib.contextmanager
    def _seeded(self):
        """Seed torch's generators from ``random_state`` for one fit, leaving the caller's state alone."""
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        device = self._compute_device()
        with torch.random.fork_rng(devices=[torch.device(device).index or 0] if device.startswith("cuda") else []):
            torch.manual_seed(seed)
            yield

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt as interrupt:
            # A callback raises KeyboardInterrupt to stop training (EarlyStopping does); only
            # one from anywhere else is the user's Ctrl-C. skorch then ends training quietly.
            if not _raised_by_callback(interrupt):
                kept = "their moving average (EMA)" if self.ema_beta is not None else "them"
                warnings.warn(f"Training interrupted in epoch {len(self.history)}; the model keeps the "
                              f"weights reached so far, as {kept}.", UserWarning)
            raise

    # ------------------------------------------------------- skorch components
    def initialize(self):
        with skorch_sees(self, self._device_for_skorch()):
            return super().initialize()

    def initialize_module(self):
        shape = self.image_shape or getattr(self, "image_shape_", None) or composed_image_shape(self.n_digits)
        module = (self.module or self._network)(
            backbone=self.backbone, depth=self.depth, pretrained=self.pretrained,
            image_shape=tuple(shape), n_digits=self.n_digits, **self.get_params_for("module"),
        )
        # Channels-last convolutions are faster on CPUs and on GPUs' tensor cores.
        self.module_ = module.to(memory_format=torch.channels_last)
        self.image_shape_ = tuple(shape)
        self.n_features_in_ = int(np.prod(shape))
        self.device_ = self._compute_device()
        return self

    def initialize_criterion(self):
        criterion = self.criterion or self._criterion
        self.criterion_ = criterion(synthetic_weight=self.synthetic_weight, **self.get_params_for("criterion"))
        return self

    def set_params(self, **params):
        device = params.pop("device", _MISSING)
        if self.initialized_:
            for key in [key for key in params if key.startswith(_LOADER_PREFIXES)]:
                setattr(self, key, params.pop(key))
            with skorch_sees(self, self._device_for_skorch()):
                super().set_params(**params)
        else:
            super().set_params(**params)
        if device is not _MISSING:
            self.device = device
        return self

    def load_params(self, *args, **kwargs):
        with skorch_sees(self, self._device_for_skorch()):
            return super().load_params(*args, **kwargs)


def _sum_accuracy(net, X, y):
    """The validation scorer that models pickled by sk_digitsum 0.3 name; they unpickle and train on with it."""
    return float(np.mean(net.predict(X) == np.asarray(y)))


def _raised_by_callback(interrupt):
    """Whether a KeyboardInterrupt was raised by a skorch callback rather than by Ctrl-C."""
    traceback = interrupt.__traceback__
    while traceback.tb_next is not None:
        traceback = traceback.tb_next
    return isinstance(traceback.tb_frame.f_locals.get("self"), Callback)


_DOC_TEMPLATE = """{summary}

    Parameters
    ----------
    backbone : {{{backbone_names}}}, default="digitnet"
        Feature extractor:

{backbones}
    depth : int or None, default=None
        Backbone depth: ResNet 18, 34, 50 or 101 (default 18); DigitNet conv
        layers, 1-16 (default 6, in ``module__stages=3`` stages; a depth
        below 3 needs fewer stages). None takes the backbone's default.
    n_digits : int, default=4
        Digits per image; sums run over 0..9 * n_digits.
    image_shape : (int, int) or None, default=None
        (H, W) of the images the network reads. None: those of the images
        seen in fit, and 28 x 28 * n_digits for a network built before fit
        (``initialize()``). Flattened images, rows of H * W pixels as
        scikit-learn's tabular tools and ``fetch_openml("mnist_784")`` give
        them, are read with this shape (28 x 28 * n_digits when None).
    ema_beta : float or None, default=0.99
        Smoothing factor of the :class:`~sk_digitsum.callbacks.EMA` of the
        weights; None turns EMA off.
    pretrained : False, "imagenet" or path-like, default=False
        ResNet weights: ``"imagenet"`` for torchvision's ImageNet weights
        (from the torchvision cache or downloaded), or the path of a saved
        state dict.
    augment : bool or dict, default=True
        Randomly distort each digit slot of every training batch: rotation,
        scale, shift, stroke width, a smooth elastic warp and noise, with the
        ranges of ``sk_digitsum.augment.AUGMENTATION``. A dict overrides
        some of them, with the meanings of :class:`SyntheticDigitsGenerator`'s
        parameters (``{{"elastic": 0.0}}`` gives the augmentation of 0.2).
    synthetic : SyntheticDigitsGenerator or None, default=None
        If given, each epoch adds fresh digit-labelled synthetic images to the
        training set. An unfitted generator is fitted on the embedded bank.
    synthetic_weight : float, default=1.0
        Weight of the synthetic images' loss against the real images'.
    n_synthetic : int or None, default=None
        Synthetic images per epoch; None matches the real training set.
    device : {{"auto", "cpu", "cuda"}} or str, default="auto"
        Where to train; ``"auto"`` takes a CUDA GPU if there is one.
    mixed_precision : {{"auto", "bf16", "no"}}, default="auto"
        Run the backbone under bfloat16 autocast (weights, heads and losses
        stay float32). ``"auto"`` does so where the hardware computes bfloat16
        natively (recent CUDA GPUs; CPUs with AVX512-BF16 or AMX), which
        trains about 1.5x and predicts about 1.8x faster on such CPUs;
        ``"no"`` keeps float32 everywhere.
    random_state : int, RandomState instance or None, default=None
        Seeds weights, shuffling, augmentation, the validation split and the
        synthetic draws. An int gives bit-identical results on the CPU.
    max_epochs : int, default=30
        Passes over the training set.
    lr : float, default=3e-3
        Peak learning rate; a cosine schedule takes it to zero.
    batch_size : int, default=128
        Images per batch.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Set its options with ``optimizer__weight_decay=...`` and the like.
    train_split : callable or None, default=SeededValidSplit(0.1)
        skorch's split of the training images into training and validation
        parts, as ``ValidSplit(5)`` or ``predefined_split(dataset)``; the
        default holds out a random 10% of the labelled images, drawn from
        ``random_state``; None trains on all.
    callbacks : list of skorch callbacks or None, default=None
        Added to the defaults: timer, losses, ``valid_acc``, cosine learning
        rate (``lr_scheduler``), gradient-norm clipping at 5
        (``gradient_clipping``), ``ema``, progress printing.
    verbose : int, default=1
        1 prints one line per epoch (loss, validation accuracy, time); 2 adds
        a progress bar over the batches of each epoch; 0 prints nothing.
    warm_start : bool, default=False
        Whether ``fit`` continues from the current weights.
    classes : array-like of int or None, default=None
        The sums ``predict_proba`` gives columns for, in order. None: the
        sums seen in fit (scikit-learn's convention); ``range(37)`` gives every
        sum of 4 digits.
    validation_fraction : float
        Deprecated: pass ``train_split=SeededValidSplit(fraction)``.
    **kwargs
        Any other :class:`skorch.NeuralNet` parameter: ``module__*`` options of
        the network, ``criterion``, ``iterator_train``, ``iterator_valid``,
        ``compile``, ``iterator_train__num_workers``, ``torch_load_kwargs``...
        ``predict_nonlinearity`` stays ``"auto"``: ``predict_proba`` is the
        exact sum distribution already.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network (with the EMA weights when EMA is on).
    history_ : skorch.History
        Per-epoch records: ``train_loss``, ``valid_loss``, ``valid_acc``, ``dur``.
    classes_ : ndarray of shape (n_classes,)
        The sums ``predict_proba``'s columns stand for.
    image_shape_ : tuple of int
        (H, W) of the images the network reads.
    n_features_in_ : int
        Pixels per image, ``H * W``.
    device_ : str
        The device used, with ``"auto"`` resolved.
    synthetic_ : SyntheticDigitsGenerator or None
        The fitted synthetic source used in fit.
"""


def _doc(summary):
    return _DOC_TEMPLATE.format(summary=summary, backbones=describe_backbones(indent=8),
                                backbone_names=", ".join(f'"{name}"' for name in BACKBONES))


class DigitSumClassifier(_DigitClassifierBase):
    __doc__ = _doc("""Predict the sum of the handwritten digits in an image directly.

    A backbone and a small MLP head score the 9 * n_digits + 1 possible sums;
    training minimises their cross-entropy. The labels are class labels to
    it: tools that re-encode them, such as ``StackingClassifier``, work.
    """) + """
    See Also
    --------
    DigitHeadsClassifier : One head per digit, usually more accurate.

    Examples
    --------
    >>> from sk_digitsum import DigitSumClassifier
    >>> from sk_digitsum.datasets import load_digit_bank, make_digit_sums
    >>> X, y, _ = make_digit_sums(*load_digit_bank(), n_samples=64, random_state=0)
    >>> clf = DigitSumClassifier(max_epochs=1, verbose=0, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape == (2, len(clf.classes_))
    True
    """

    _network = DigitSumNet
    _criterion = SumLoss


class DigitHeadsClassifier(_DigitClassifierBase):
    __doc__ = _doc("""Read each digit with its own head; predict the sum of the digits.

    A backbone feeds one 10-way head per digit position. It learns from digit
    labels (cross-entropy per head) or from sum labels alone: the exact
    distribution of the sum is the convolution of the per-position digit
    distributions, and the loss is the negative log-likelihood of the true
    sum under it. ``predict`` returns the most probable sum.
    """) + """
    See Also
    --------
    DigitSumClassifier : Predicts the sum directly.

    Examples
    --------
    >>> from sk_digitsum import DigitHeadsClassifier
    >>> from sk_digitsum.datasets import load_digit_bank, make_digit_sums
    >>> X, y, digits = make_digit_sums(*load_digit_bank(), n_samples=64, random_state=0)
    >>> clf = DigitHeadsClassifier(max_epochs=1, verbose=0, random_state=0).fit(X, y)
    >>> clf.predict_digits(X[:2]).shape
    (2, 4)

    Save safely (JSON parameters and tensors; no pickled code) and load:

    >>> import tempfile
    >>> path = f"{tempfile.mkdtemp()}/model.pt"
    >>> clf.save(path)
    >>> (DigitHeadsClassifier.load(path).predict(X) == clf.predict(X)).all()
    np.True_
    """

    _network = DigitHeadsNet
    _criterion = DigitHeadsLoss

    def _labels_are_sums(self):
        return True

    def predict_digit_proba(self, X):
        """Probability of each digit at each position.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W), (n_samples, 1, H, W) or (n_samples, H * W)
            Images of the size seen in fit.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_digits, 10)
        """
        return np.concatenate([torch.softmax(logits.detach().float(), dim=-1).cpu().numpy()
                               for logits in self._outputs(X)])

    def predict_digits(self, X):
        """Most probable digit at each position.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W), (n_samples, 1, H, W) or (n_samples, H * W)
            Images of the size seen in fit.

        Returns
        -------
        digits : ndarray of shape (n_samples, n_digits)
        """
        return self.predict_digit_proba(X).argmax(axis=2)


persistence.register_estimator(DigitSumClassifier)
persistence.register_estimator(DigitHeadsClassifier)
