"""scikit-learn estimators: skorch nets that read the sum of handwritten digits."""

import contextlib
import copy
import inspect
import warnings

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetClassifier
from skorch.callbacks import (
    EpochScoring, EpochTimer, GradientNormClipping, PassthroughScoring, PrintLog, ProgressBar,
)
from skorch.exceptions import DeviceWarning
from skorch.utils import to_numpy
from torch.fx.experimental.optimization import fuse
from torch.optim.lr_scheduler import CosineAnnealingLR
from torch.utils.data import IterableDataset, Subset

from . import _validation
from .callbacks import EMA, LRScheduler
from .nn import DigitHeadsLoss, DigitHeadsNet, DigitSumNet, SumLoss, check_backbone, unwrap
from .synthetic import RealAndSyntheticStream, SyntheticDigitStream, SyntheticDigitsGenerator, distort_slots

# Per-slot distortions applied to training batches when ``augment=True``.
# Chosen on held-out embedded digits (benchmarks/tune_defaults.py): these
# ranges kept the tight accuracy of milder ones (95.2%) and lifted accuracy
# on scanned-like images from 73% to 92%. A 1-pixel elastic distortion read
# scanned-like images better on each of five folds (98.82% against 98.63%
# per digit) and tight ones as well (99.24% against 99.27%;
# benchmarks/fold_sweep.py).
AUGMENTATION = dict(rotation=15.0, scale=(0.8, 1.2), shift=(4.0, 2.5), stroke=0.8, noise=0.12, elastic=1.0)


_MISSING = object()
_LOADER_PREFIXES = ("iterator_train__", "iterator_valid__", "dataset__")


def _sum_accuracy(net, X, y):
    """Validation scorer: sum accuracy from internal targets, without re-validating X."""
    sums = to_numpy(y)[:, -2] if np.ndim(y) == 2 else to_numpy(y)
    return float(np.mean(net._sum_proba(X).argmax(axis=1) == sums))


class _DigitClassifierBase(NeuralNetClassifier):
    """Shared machinery of the digit-sum estimators; not for direct use."""

    _network = None
    _criterion = None

    def __init__(
        self,
        backbone="digitnet",
        depth=None,
        *,
        n_digits=4,
        ema_beta=0.99,
        pretrained=False,
        augment=True,
        synthetic=None,
        synthetic_weight=1.0,
        n_synthetic=None,
        validation_fraction=0.1,
        device="auto",
        mixed_precision="auto",
        random_state=None,
        max_epochs=30,
        lr=3e-3,
        batch_size=128,
        optimizer=torch.optim.AdamW,
        callbacks=None,
        verbose=1,
        **kwargs,
    ):
        kwargs.setdefault("module", self._network)
        kwargs.setdefault("criterion", self._criterion)
        kwargs.setdefault("train_split", None)
        kwargs.setdefault("iterator_train__shuffle", True)
        super().__init__(
            optimizer=optimizer, lr=lr, max_epochs=max_epochs, batch_size=batch_size,
            callbacks=callbacks, verbose=verbose, device=device, **kwargs,
        )
        self.backbone = backbone
        self.depth = depth
        self.n_digits = n_digits
        self.ema_beta = ema_beta
        self.pretrained = pretrained
        self.augment = augment
        self.synthetic = synthetic
        self.synthetic_weight = synthetic_weight
        self.n_synthetic = n_synthetic
        self.validation_fraction = validation_fraction
        self.mixed_precision = mixed_precision
        self.random_state = random_state

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        check_backbone(self.backbone, self.depth, self.pretrained)
        _validation.check_positive_int(self.n_digits, "n_digits")
        _validation.check_positive_int(self.max_epochs, "max_epochs", allow_zero=True)
        _validation.check_positive_int(self.batch_size, "batch_size")
        if self.ema_beta is not None:
            _validation.check_fraction(self.ema_beta, "ema_beta")
        _validation.check_fraction(self.validation_fraction, "validation_fraction")
        _validation.check_mixed_precision(self.mixed_precision)
        if not isinstance(self.lr, (int, float)) or not self.lr > 0:
            raise ValueError(f"lr must be a positive number, got {self.lr!r}.")
        if not isinstance(self.augment, (bool, dict)) or (
                isinstance(self.augment, dict) and set(self.augment) - set(AUGMENTATION)):
            raise ValueError(f"augment must be True, False or a dict with some of the keys {sorted(AUGMENTATION)}; "
                             f"got {self.augment!r}.")
        if self.synthetic is not None and not isinstance(self.synthetic, SyntheticDigitsGenerator):
            raise TypeError(
                f"synthetic must be a SyntheticDigitsGenerator or None, got {type(self.synthetic).__name__}."
            )
        if not self.synthetic_weight >= 0:
            raise ValueError(f"synthetic_weight must be >= 0, got {self.synthetic_weight!r}.")
        if self.n_synthetic is not None:
            _validation.check_positive_int(self.n_synthetic, "n_synthetic")
        check_random_state(self.random_state)
        return self._resolve_device()

    def _resolve_device(self):
        """The device training runs on ('auto' resolved)."""
        return _validation.resolve_device(self.device)

    def _check_predict_images(self, X):
        check_is_fitted(self, "image_shape_")
        return _validation.check_images(X, expected_shape=self.image_shape_)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "image_shape_")

    @property
    def classes_(self):
        """The possible sums, 0..9 * n_digits."""
        check_is_fitted(self, "image_shape_")
        return np.arange(9 * self.n_digits + 1)

    def check_data(self, X, y):
        # Classes are fixed by n_digits, never inferred from y.
        pass

    # -------------------------------------------------------------------- fit
    def fit(self, X, y, **fit_params):
        """Train on images and their sums or digits.

        All inputs and parameters are checked before anything changes: a call
        that fails them leaves a fitted estimator as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W) or (n_samples, 1, H, W)
            Grey images, uint8 0-255 or floats in [0, 1]; H, W >= 28.
        y : array-like of shape (n_samples,) or (n_samples, n_digits)
            The sum of each image's digits, or the digits themselves.
        **fit_params : dict
            Passed to the module's forward.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, fit_params, resume=self.warm_start)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train ``max_epochs`` more epochs, starting from the current weights.

        Parameters
        ----------
        X, y, **fit_params
            As in :meth:`fit`.
        classes : ignored
            The classes are always the sums 0..9 * n_digits.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, fit_params, resume=True)

    def _fit(self, X, y, fit_params, resume):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None: "
                             "give the sums (n,) or the digits (n, n_digits) of the images.")
        device = self._check_params()
        resume = resume and self.__sklearn_is_fitted__()
        X = _validation.check_images(X, expected_shape=self.image_shape_ if resume else None)
        targets = _validation.encode_targets(y, len(X), self.n_digits)
        synthetic = self._fitted_synthetic(X)
        seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        if self.device == "auto" and device == "cpu" and self.verbose:
            print("device='auto': no CUDA GPU found, training on the CPU.")
        # Everything is valid: only now may fitted state change.
        self.device_ = device
        self.image_shape_ = tuple(X.shape[2:])
        self.fit_seed_ = seed
        self.synthetic_ = synthetic
        devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            if not resume:
                self.initialize()
            super().partial_fit(X, targets, **fit_params)
        return self

    def _fitted_synthetic(self, X):
        if self.synthetic is None:
            return None
        if hasattr(self.synthetic, "images_"):
            generator = copy.copy(self.synthetic)  # shares the bank; leaves the user's object alone
        else:
            from .datasets import load_digit_bank

            generator = clone(self.synthetic).fit(*load_digit_bank())
        if not self.verbose:
            generator.set_params(verbose=0)
        if generator.n_digits != self.n_digits or X.shape[2:] != (28, 28 * self.n_digits):
            raise ValueError(
                f"The synthetic generator makes 28x{28 * generator.n_digits} images of {generator.n_digits} "
                f"digits but X holds {X.shape[2]}x{X.shape[3]} images and n_digits={self.n_digits}."
            )
        return generator

    @contextlib.contextmanager
    def _skorch_device(self):
        """Let skorch, which moves modules to ``self.device``, see the resolved device ('auto' is ours)."""
        held = self.device
        self.device = getattr(self, "device_", None) or self._resolve_device()
        try:
            yield
        finally:
            self.device = held

    def initialize(self):
        with self._skorch_device():
            return super().initialize()

    def set_params(self, **params):
        # A fitted net re-initialises its module for module__* parameters and the like.
        device = params.pop("device", None)
        if self.initialized_:
            # skorch 1.4 raises for loader options on an initialised net, though they touch no component.
            loader_params = [key for key in params if key.startswith(_LOADER_PREFIXES)]
            for key in loader_params:
                setattr(self, key, params.pop(key))
        if params:
            if self.initialized_:
                with self._skorch_device():
                    super().set_params(**params)
            else:
                super().set_params(**params)
        if device is not None:
            self.device = device
        return self

    def initialize_module(self):
        module = self.module(
            backbone=self.backbone, depth=self.depth, pretrained=self.pretrained,
            image_shape=self.image_shape_, n_digits=self.n_digits, **self.get_params_for("module"),
        )
        # Channels-last convolutions are faster on CPUs and on GPUs' tensor cores.
        self.module_ = module.to(memory_format=torch.channels_last)
        return self

    def initialize_criterion(self):
        self.criterion_ = self.criterion(synthetic_weight=self.synthetic_weight)
        return self

    @property
    def _default_callbacks(self):
        callbacks = [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            ("valid_acc", EpochScoring(_sum_accuracy, name="valid_acc", lower_is_better=False, use_caching=True)),
            ("lr_scheduler", LRScheduler(CosineAnnealingLR, T_max=max(self.max_epochs, 1))),
            ("gradient_clipping", GradientNormClipping(gradient_clip_value=5.0)),
        ]
        if self.ema_beta is not None:
            callbacks.append(("ema", EMA(beta=self.ema_beta)))
        if self.verbose >= 2:
            callbacks.append(("progress_bar", ProgressBar()))
        callbacks.append(("print_log", PrintLog()))
        return callbacks

    def get_split_datasets(self, X, y=None, **fit_params):
        dataset = self.get_dataset(X, y)
        n_valid = int(round(self.validation_fraction * len(dataset)))
        if n_valid == 0 or n_valid == len(dataset):
            dataset_train, dataset_valid = dataset, None
        else:
            order = np.random.RandomState(self.fit_seed_).permutation(len(dataset))
            dataset_train, dataset_valid = Subset(dataset, order[n_valid:]), Subset(dataset, order[:n_valid])
        if self.synthetic_ is not None:
            stream = SyntheticDigitStream(self.synthetic_, self.n_synthetic or len(dataset_train),
                                          random_state=self.fit_seed_)
            dataset_train = RealAndSyntheticStream(dataset_train, stream, as_float=X.dtype != np.uint8)
        return dataset_train, dataset_valid

    def get_iterator(self, dataset, training=False):
        prefix = "iterator_train" if training else "iterator_valid"
        kwargs = {"batch_size": self.batch_size, **self.get_params_for(prefix)}
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        if isinstance(dataset, IterableDataset):
            kwargs.pop("shuffle", None)  # a stream shuffles itself; DataLoader refuses the option
        if self.device_.startswith("cuda"):
            kwargs.setdefault("pin_memory", True)  # lets batches go to the GPU while it computes
        return getattr(self, prefix)(dataset, **kwargs)

    # --------------------------------------------------------------- training
    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            # skorch stops quietly and runs on_train_end (EMA keeps its average).
            kept = "their moving average (EMA)" if self.ema_beta is not None else "them"
            warnings.warn(f"Training interrupted after {len(self.history)} epochs; the model keeps the weights "
                          f"reached so far, as {kept}.", UserWarning)
            raise

    def infer(self, x, **fit_params):
        x = self._to_device(x)
        if self.augment and self.module_.training:
            x = self._augment(x)
        return self._forward(self.module_, x, **fit_params)

    def _to_device(self, batch):
        # Pinned batches then copy to a GPU while it still computes the previous step.
        return torch.as_tensor(batch).to(self.device_, non_blocking=True)

    def _forward(self, module, x, **fit_params):
        x = x.contiguous(memory_format=torch.channels_last)
        dtype = _validation.autocast_dtype(self.mixed_precision, self.device_)
        with torch.autocast(torch.device(self.device_).type, dtype=dtype, enabled=dtype is not None):
            return module(x, **fit_params)

    def _augment(self, x):
        n, _, height, width = x.shape
        if width % self.n_digits:
            return x
        slots = x.float().view(n, height, self.n_digits, width // self.n_digits).permute(0, 2, 1, 3)
        if x.dtype == torch.uint8:
            slots = slots / 255
        distortions = AUGMENTATION if self.augment is True else {**AUGMENTATION, **self.augment}
        return distort_slots(slots, **distortions).unsqueeze(1)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = self.criterion_(y_pred, self._to_device(y_true))
        if training and not torch.isfinite(loss):
            raise FloatingPointError(
                f"The training loss became {loss.item()} at epoch {len(self.history)}: training diverged. "
                f"Lower the learning rate (lr={self.lr}), e.g. to {self.lr / 10:g}."
            )
        return loss

    # ------------------------------------------------------------- prediction
    def _sum_proba(self, X):
        """Sum probabilities for a dataset (validation scoring, which may replay cached outputs)."""
        return self._sum_proba_of(self.forward_iter(X, training=False, device=self.device_))

    def _sum_proba_of(self, outputs):
        network = unwrap(self.module_)
        return np.concatenate([network.sum_log_probs(output).exp().cpu().numpy() for output in outputs])

    def _prediction_module(self):
        """The network in eval mode with each conv+BatchNorm pair folded into one conv.

        Folding saves a pass over every activation (about 16% of DigitNet's
        CPU prediction time). The folded copy is cached until the weights
        change: any in-place update bumps a tensor's version counter.
        """
        tensors = [*self.module_.parameters(), *self.module_.buffers()]
        key = (id(self.module_), sum(t._version for t in tensors))
        cached = getattr(self, "prediction_module_", None)
        if cached is None or cached[0] != key:
            module = copy.deepcopy(self.module_).eval()
            try:
                module.backbone = fuse(module.backbone)
            except Exception:  # a backbone fx cannot trace: predict unfused
                pass
            self.prediction_module_ = cached = (key, module)
        return cached[1]

    def _outputs(self, X):
        """Network outputs for validated images, batch by batch."""
        module = self._prediction_module()
        batch_size = self.get_params_for("iterator_valid").get("batch_size", self.batch_size)
        with torch.inference_mode():
            for start in range(0, len(X), batch_size):
                yield self._forward(module, torch.from_numpy(X[start:start + batch_size]).to(self.device_))

    def predict_proba(self, X):
        """Probability of each possible sum.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W) or (n_samples, 1, H, W)
            Images of the size seen in fit.

        Returns
        -------
        proba : ndarray of shape (n_samples, 9 * n_digits + 1)
            Column ``s`` is the probability that the digits sum to ``s``.
        """
        return self._sum_proba_of(self._outputs(self._check_predict_images(X)))

    def predict(self, X):
        """Most probable sum of each image.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W) or (n_samples, 1, H, W)
            Images of the size seen in fit.

        Returns
        -------
        sums : ndarray of shape (n_samples,)
        """
        return self.predict_proba(X).argmax(axis=1)

    def score(self, X, y, sample_weight=None):
        """Sum accuracy.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W) or (n_samples, 1, H, W)
            Images.
        y : array-like of shape (n_samples,) or (n_samples, n_digits)
            True sums, or true digits (whose sums are compared).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Fraction of images whose sum is predicted exactly.
        """
        sums = _validation.target_sums(y, self.n_digits)
        return float(np.average(self.predict(X) == sums, weights=sample_weight))

    # ------------------------------------------------------------ persistence
    def save(self, path):
        """Save the fitted model in the safe format: JSON parameters and tensors only.

        Unlike a pickle (``joblib.dump``), the file cannot run code when
        loaded. Parameters that hold Python objects other than optimizers
        and generators (custom callbacks, say) are not stored.

        Parameters
        ----------
        path : str or path-like
            File to write.
        """
        from .persistence import save_model

        save_model(self, path)

    @classmethod
    def load(cls, path):
        """Load a model written by :meth:`save`, with ``torch.load(weights_only=True)``.

        Parameters
        ----------
        path : str or path-like
            File written by :meth:`save`.

        Returns
        -------
        estimator : fitted estimator of this class
            On the CPU where the saved device is 'auto' or a missing GPU.
        """
        from .persistence import load_model

        return load_model(path, expected_class=cls)

    def __repr__(self):
        # scikit-learn style: the class and the parameters that differ from its defaults.
        defaults = self._default_params()
        order = list(inspect.signature(_DigitClassifierBase.__init__).parameters)
        params = sorted(self.get_params(deep=False).items(),
                        key=lambda item: order.index(item[0]) if item[0] in order else len(order))
        changed = []
        for name, value in params:
            default = defaults.get(name, _MISSING)
            if name.startswith("_") or value is default:
                continue
            try:
                same = bool(value == default)
            except Exception:  # arrays, objects without a usable ==
                same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def _default_params(self):
        return type(self)().get_params(deep=False)

    # -------------------------------------------------------------- pickling
    def __getstate__(self):
        state = super().__getstate__()
        state.pop("prediction_module_", None)  # derived from module_, rebuilt on demand
        return state

    def __setstate__(self, state):
        requested = state["device"]
        if requested == "auto":
            state["device"] = state.get("device_", "cpu")
        with warnings.catch_warnings():
            if requested == "auto":
                # 'auto' promises the CPU where no GPU is: no need to warn.
                warnings.simplefilter("ignore", DeviceWarning)
            super().__setstate__(state)
        mapped = str(self.device)
        if "device_" in state:
            self.device_ = mapped
        self.device = "auto" if requested == "auto" else mapped


_COMMON_PARAMETERS = """
    Parameters
    ----------
    backbone : {"digitnet", "convnet", "resnet"}, default="digitnet"
        Feature extractor. ``"digitnet"`` is the small fast default,
        ``"convnet"`` the seed report's 4-layer baseline, ``"resnet"``
        torchvision's ResNet adapted to one channel and small images.
    depth : int or None, default=None
        Backbone depth: ResNet 18, 34, 50 or 101 (default 18); DigitNet conv
        layers, 1-16 (default 6, in ``module__stages=3`` stages; a depth
        below 3 needs fewer stages). None takes the backbone's default.
    n_digits : int, default=4
        Digits per image; sums run over 0..9 * n_digits.
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
        ranges of ``sk_digitsum.estimators.AUGMENTATION``. A dict overrides
        some of them, with the meanings of :class:`SyntheticDigitsGenerator`'s
        parameters (``{"elastic": 0.0}`` gives the augmentation of 0.2).
    synthetic : SyntheticDigitsGenerator or None, default=None
        If given, each epoch adds fresh digit-labelled synthetic images to the
        training set. An unfitted generator is fitted on the embedded bank.
    synthetic_weight : float, default=1.0
        Weight of the synthetic images' loss against the real images'.
    n_synthetic : int or None, default=None
        Synthetic images per epoch; None matches the real training set.
    validation_fraction : float, default=0.1
        Fraction of the training images held out to report ``valid_loss`` and
        ``valid_acc`` each epoch; 0 trains on all.
    device : {"auto", "cpu", "cuda"} or str, default="auto"
        Where to train; ``"auto"`` takes a CUDA GPU if there is one.
    mixed_precision : {"auto", "bf16", "no"}, default="auto"
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
    callbacks : list of skorch callbacks or None, default=None
        Added to the defaults (timer, losses, ``valid_acc``, cosine learning
        rate, gradient-norm clipping at 5, EMA, progress printing).
    verbose : int, default=1
        1 prints one line per epoch (loss, validation accuracy, time); 2 adds
        a progress bar over the batches of each epoch; 0 prints nothing.
    **kwargs
        Any other :class:`skorch.NeuralNet` parameter.
"""

_COMMON_ATTRIBUTES = """
    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network (with the EMA weights when EMA is on).
    history_ : skorch.History
        Per-epoch records: ``train_loss``, ``valid_loss``, ``valid_acc``, ``dur``.
    classes_ : ndarray of shape (9 * n_digits + 1,)
        The possible sums.
    image_shape_ : tuple of int
        (H, W) of the images seen in fit.
    device_ : str
        The device used, with ``"auto"`` resolved.
    synthetic_ : SyntheticDigitsGenerator or None
        The fitted synthetic source used in fit.
"""


class DigitSumClassifier(_DigitClassifierBase):
    __doc__ = """Predict the sum of the handwritten digits in an image directly.

    A backbone and a small MLP head score the 9 * n_digits + 1 possible sums;
    training minimises their cross-entropy.
    """ + _COMMON_PARAMETERS + _COMMON_ATTRIBUTES + """
    See Also
    --------
    DigitHeadsClassifier : One head per digit, usually more accurate.

    Examples
    --------
    >>> from sk_digitsum import DigitSumClassifier
    >>> from sk_digitsum.datasets import load_digit_bank, make_digit_sums
    >>> X, y, _ = make_digit_sums(*load_digit_bank(), n_samples=64, random_state=0)
    >>> clf = DigitSumClassifier(max_epochs=1, verbose=0, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 37)
    """

    _network = DigitSumNet
    _criterion = SumLoss


class DigitHeadsClassifier(_DigitClassifierBase):
    __doc__ = """Read each digit with its own head; predict the sum of the digits.

    A backbone feeds one 10-way head per digit position. It learns from digit
    labels (cross-entropy per head) or from sum labels alone: the exact
    distribution of the sum is the convolution of the per-position digit
    distributions, and the loss is the negative log-likelihood of the true
    sum under it. ``predict`` returns the most probable sum.
    """ + _COMMON_PARAMETERS + _COMMON_ATTRIBUTES + """
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

    def predict_digit_proba(self, X):
        """Probability of each digit at each position.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W) or (n_samples, 1, H, W)
            Images of the size seen in fit.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_digits, 10)
        """
        X = self._check_predict_images(X)
        return np.concatenate([torch.softmax(logits.float(), dim=-1).cpu().numpy() for logits in self._outputs(X)])

    def predict_digits(self, X):
        """Most probable digit at each position.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W) or (n_samples, 1, H, W)
            Images of the size seen in fit.

        Returns
        -------
        digits : ndarray of shape (n_samples, n_digits)
        """
        return self.predict_digit_proba(X).argmax(axis=2)
