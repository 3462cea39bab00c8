"""The private skorch base of the estimators: skorch's documented hooks, in the order skorch calls them.

The path of ``fit(X, y)``: the parameters (scikit-learn's constraints) and
the images and labels are checked before anything changes; then skorch's own
``fit`` runs: :meth:`~_DigitClassifierBase.initialize` (the device resolved
once; callbacks, network, criterion, optimizer) unless warm-started, and
:meth:`~_DigitClassifierBase.partial_fit`, whose fit loop splits off
validation images (:meth:`~_DigitClassifierBase.get_split_datasets`), reads
batches (:meth:`~_DigitClassifierBase.get_iterator`), runs the network's one
forward pass (:meth:`~_DigitClassifierBase.infer`) and the loss
(:meth:`~_DigitClassifierBase.get_loss`), and the callbacks (EMA, schedule,
clipping, scoring, printing). Prediction runs the same forward pass through
a folded copy of the network (:func:`~sk_digitsum.nn.folded`).
"""

import contextlib
import numbers
import os
import warnings
import weakref
from collections.abc import Mapping

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Hidden, Interval, Options, StrOptions, validate_parameter_constraints,
)
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, EpochScoring, GradientNormClipping, ProgressBar
from skorch.dataset import Dataset
from skorch.exceptions import DeviceWarning
from skorch.utils import is_dataset
from torch.optim.lr_scheduler import CosineAnnealingLR
from torch.utils.data import BatchSampler, DataLoader, IterableDataset, RandomSampler, SequentialSampler, Subset

from . import _compat, _validation, persistence
from .callbacks import EMA, LRScheduler, PrintLog, labelled_sum_accuracy
from .datasets import DIGIT_SIZE, composed_image_shape
from .nn import BACKBONES, check_backbone, folded, unwrap
from .nn.augment import augmentation_ranges
from .nn.precision import MIXED_PRECISION, autocast_dtype
from .streams import Batch, RealAndSyntheticStream, SeededValidSplit, SyntheticDigitStream, fitted_source
from .synthetic import SyntheticDigitsGenerator

_MISSING = object()
_DEFAULT_SPLIT = SeededValidSplit(0.1)
# skorch 1.4's set_params raises "Something went wrong" for these on an initialised net, though they
# touch no component (tests/test_base.py::test_skorch_still_refuses_loader_options_of_an_initialised_net).
_LOADER_PREFIXES = ("iterator_train__", "iterator_valid__", "dataset__")
# Optimizers whose fused implementation runs on both the CPU and CUDA (Adagrad's is CPU-only).
_FUSED_ON_CPU_AND_CUDA = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD)
# Rows per call of the sum layer when predicting: few calls, and a bounded (rows, sums, 10) intermediate.
_SUM_CHUNK = 16_384
# Folded prediction copies, keyed by the network they copy: ((weights' version, precision), folded copy).
_FOLDED = weakref.WeakKeyDictionary()

PARAMETER_CONSTRAINTS = {
    "backbone": [StrOptions(set(BACKBONES))],
    "depth": [Interval(numbers.Integral, 1, None, closed="left"), None],
    "n_digits": [Interval(numbers.Integral, 1, None, closed="left")],
    "max_digits": [Interval(numbers.Integral, 1, None, closed="left"), None],
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


class _DigitClassifierBase(NeuralNetClassifier):
    """Shared machinery of the digit-sum estimators; not for direct use.

    Subclasses name their network and criterion for the layout the
    parameters set (:meth:`_network_and_criterion`), and whether training
    must see the labels as true sums (:meth:`_needs_true_sums`).
    """

    _parameter_constraints = PARAMETER_CONSTRAINTS
    # Whether get_iterator may read a skorch dataset a whole batch at a time.
    _reads_whole_batches = True

    def __init__(
        self,
        backbone="digitnet",
        depth=None,
        *,
        n_digits=4,
        max_digits=None,
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
        self.max_digits = max_digits
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

    def __sklearn_tags__(self):
        # Stacks of images, (n, H, W) or (n, 1, H, W), or flattened images, (n, H * W), whose shape
        # the estimator knows (image_shape).
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        tags.input_tags.three_d_array = True
        return tags

    def _needs_true_sums(self):
        """Whether training reads the labels as the true sums, not as arbitrary class labels."""
        return self.synthetic is not None

    def _network_and_criterion(self):
        """The network class and the layout options it takes; the criterion class and its layout options."""
        raise NotImplementedError

    def _most_digits(self):
        """The most digits an image holds: ``max_digits`` where digits may sit anywhere, else ``n_digits``."""
        return self.n_digits if self.max_digits is None else self.max_digits

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
            The sum of each image's digits, or the digits themselves; -1 (or
            a row of -1) for an unlabelled image.
        **fit_params : dict
            Passed to the module's forward and to ``train_split``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        resume = self.warm_start and self.initialized_
        images, *_ = self._checked_training_data(X, y, resume=resume)
        if not resume:
            self.image_shape_ = images.shape[2:]  # the network initialize() builds reads these
        # skorch's fit: initialize() unless warm-started, then self.partial_fit(X, y).
        return super().fit(X, y, **fit_params)

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
        images, sums, digits, synthetic = self._checked_training_data(X, y, resume=True)
        if not self.initialized_:
            self.image_shape_ = images.shape[2:]
        self.synthetic_ = synthetic
        # scikit-learn's meaning, X.shape[1] as fit saw it: defined for rows of pixels, where it is their
        # length; a stack of images has no feature axis, and tools such as MAPIE compare X.shape[1] with it.
        if np.ndim(X) == 2:
            self.n_features_in_ = int(np.prod(images.shape[2:]))
        else:
            self.__dict__.pop("n_features_in_", None)
        # Digits travel beside the images in a dict of whole arrays, which skorch's datasets index.
        X = images if digits is None else {"images": images, "digits": digits}
        with self._seeded(stage=1):
            return super().partial_fit(X, sums, **fit_params)

    def _checked_training_data(self, X, y, resume):
        """Check the parameters, images and labels of a fit; change nothing.

        Returns
        -------
        images : ndarray of shape (n, 1, H, W)
        sums : ndarray of shape (n,)
            -1 for unlabelled images.
        digits : ndarray of shape (n, n_digits) or None
        synthetic : SyntheticDigitsGenerator or None
            The fitted synthetic source.
        """
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None: "
                             "give the sums (n,) or the digits (n, n_digits) of the images.")
        self._check_params()
        shape = self.image_shape_ if resume and self.initialized_ else self.image_shape
        images = _validation.check_images(X, expected_shape=shape, row_shape=composed_image_shape(self._most_digits()))
        sums, digits = _validation.check_labels(y, len(images), self._most_digits(),
                                                require_label=self.synthetic is None,
                                                free_layout=self.max_digits is not None)
        caller = _validation.reencoding_caller()
        if caller is not None and self._needs_true_sums():
            raise ValueError(
                f"scikit-learn's {caller} re-encodes the labels as 0..k-1 over the labels present before "
                f"fitting, which turns sums into other sums, and {type(self).__name__} reads them as sums. "
                "Fit the estimator first and hand it over as sklearn.frozen.FrozenEstimator(fitted), or see "
                "\"Use scikit-learn's meta-estimators\" in the user guide for each tool's recipe."
            )
        synthetic = None if self.synthetic is None else fitted_source(
            self.synthetic, self._most_digits(), images.shape[2:], self.verbose)
        return images, sums, digits, synthetic

    def _check_params(self):
        """Check every parameter against its constraints; raise ValueError or TypeError naming the fix."""
        validate_parameter_constraints(self._parameter_constraints, self.get_params(deep=False),
                                       caller_name=type(self).__name__)
        check_backbone(self.backbone, self.depth, self.pretrained)
        _validation.check_classes(self.classes, self._most_digits())
        if self.image_shape is not None:
            _validation.check_range(self.image_shape, "image_shape", low=DIGIT_SIZE, ordered=False)
        augmentation_ranges(self.augment)
        if self.validation_fraction != "deprecated":
            warnings.warn("validation_fraction is deprecated and will be removed; pass "
                          f"train_split=SeededValidSplit({self.validation_fraction}) (from sk_digitsum.streams), "
                          "or train_split=None for no validation.", FutureWarning)
        self._resolve_device()  # raises for a device that is not here

    @contextlib.contextmanager
    def _seeded(self, stage):
        """Seed torch's generators from ``random_state`` for one stage (0: the weights, 1: training).

        The caller's generator state is left as it was. The two stages get
        different seeds, both fixed by an int ``random_state``.
        """
        seed = int(check_random_state(self.random_state).randint(2**31 - 1, size=2)[stage])
        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    # --------------------------------------------------- skorch: initialize
    def _resolve_device(self):
        """The device the ``device`` parameter names here, with 'auto' resolved."""
        return _validation.check_device(self.device)

    def initialize(self):
        self.device_ = self._resolve_device()
        with self._seeded(stage=0), self._auto_device_shown_to_skorch():
            return super().initialize()

    @contextlib.contextmanager
    def _auto_device_shown_to_skorch(self):
        """Show skorch the device that 'auto' resolved to, while it places modules or maps tensors.

        skorch 1.4 hands ``device`` to torch as it is, and torch knows no
        'auto' (skorch-dev/skorch#1141 adds it to skorch, not yet released;
        tests/test_base.py::test_skorch_still_hands_auto_to_torch fails once
        it is, and this can go). The parameter keeps the user's value outside
        the call, as scikit-learn's clone and get_params need.
        """
        if self.device != "auto" or getattr(self, "device_", None) is None:
            yield
            return
        self.device = self.device_
        try:
            yield
        finally:
            self.device = "auto"

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

    def initialize_module(self):
        shape = self.image_shape or getattr(self, "image_shape_", None) or composed_image_shape(self._most_digits())
        network, layout, _, _ = self._network_and_criterion()
        self.module_ = (self.module or network)(
            backbone=self.backbone, depth=self.depth, pretrained=self.pretrained, image_shape=tuple(shape),
            mixed_precision=self.mixed_precision, augment=self.augment, **layout, **self.get_params_for("module"),
        )
        self.image_shape_ = tuple(shape)
        return self

    def initialize_criterion(self):
        _, _, criterion, layout = self._network_and_criterion()
        self.criterion_ = (self.criterion or criterion)(synthetic_weight=self.synthetic_weight, **layout,
                                                        **self.get_params_for("criterion"))
        return self

    def torch_compile(self, module, name):
        # One answer per process and setting: torch.compile takes it as a constant rather than tracing
        # the hardware probes. Marked here rather than where it is defined, because marking imports
        # torch._dynamo, which would add 1.4 s to every import of the estimators.
        torch.compiler.assume_constant_result(autocast_dtype)
        return super().torch_compile(module, name)

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

    # --------------------------------------------------- skorch: fit loop
    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if self.verbose and self.device == "auto" and self.device_ == "cpu":
            print("device='auto': no CUDA GPU found, training on the CPU.")

    def check_data(self, X, y):
        super().check_data(X, y)
        if y is not None and self.classes is None:
            seen = self.classes_inferred_[self.classes_inferred_ >= 0]  # -1 marks unlabelled images
            # With no real label at all, a synthetic source labels every sum.
            self.classes_inferred_ = seen if len(seen) else np.arange(9 * self._most_digits() + 1)

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

    def get_split_datasets(self, X, y=None, **fit_params):
        dataset = self.get_dataset(X, y)
        split = self.train_split
        if self.validation_fraction != "deprecated":
            split = SeededValidSplit(self.validation_fraction) if self.validation_fraction else None
        dataset_train, dataset_valid = split(dataset, y, **fit_params) if split else (dataset, None)
        if self.synthetic_ is not None:
            stream = SyntheticDigitStream(self.synthetic_, self.n_synthetic or len(dataset_train),
                                          random_state=int(torch.randint(2**31 - 1, ())))
            dataset_train = RealAndSyntheticStream(dataset_train, stream, as_float=Batch.of(X).images.dtype != np.uint8)
        return dataset_train, dataset_valid

    def get_iterator(self, dataset, training=False):
        prefix = "iterator_train" if training else "iterator_valid"
        kwargs = {"batch_size": self.batch_size, **self.get_params_for(prefix)}
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        if self.device_.startswith("cuda"):
            kwargs.setdefault("pin_memory", True)  # lets batches go to the GPU while it computes
        if isinstance(dataset, IterableDataset):
            kwargs.pop("shuffle", None)  # a stream shuffles itself; DataLoader refuses the option
        elif (self._reads_whole_batches and _indexes_whole_batches(dataset)
              and not {"sampler", "batch_sampler", "collate_fn"} & kwargs.keys()):
            # The batches the DataLoader would draw, in the same order, each read with one index of the
            # arrays rather than an image at a time and a stack: a third of the time of a narrow step.
            order = (RandomSampler(dataset, generator=kwargs.get("generator")) if kwargs.pop("shuffle", training)
                     else SequentialSampler(dataset))
            kwargs["sampler"] = BatchSampler(order, kwargs.pop("batch_size"), kwargs.pop("drop_last", False))
            kwargs["batch_size"] = None
        elif training:
            kwargs.setdefault("shuffle", True)
        return getattr(self, prefix)(dataset, **kwargs)

    def _to_device(self, data):
        # Pinned batches then copy to a GPU while it still computes the previous step.
        return None if data is None else torch.as_tensor(data).to(self.device_, non_blocking=True)

    def infer(self, x, **fit_params):
        return self.module_(self._to_device(Batch.of(x).images), **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        batch = Batch.of(X)
        sums = torch.as_tensor(y_true)
        # The labels are still on the host: finding the unlabelled images makes no wait for the device.
        unlabelled = sums < 0
        teacher = self._teacher_outputs(batch.images, unlabelled) if training and bool(unlabelled.any()) else None
        return self.criterion_(y_pred, self._to_device(sums), digits=self._to_device(batch.digits),
                               synthetic=self._to_device(batch.synthetic), teacher=teacher)

    def _teacher_outputs(self, images, unlabelled):
        """What the teacher reads in the unlabelled images of a batch, in rows of the whole batch.

        The teacher is the moving average of the weights while EMA is on (as
        in Mean Teacher), else the network itself; it reads the images
        through the same forward pass in eval mode, so without augmentation,
        and without gradients. The criterion turns its confident readings
        into pseudo-labels for the augmented view the network trained on (as
        in FixMatch). Rows of labelled images hold zeros.
        """
        rows = unlabelled.nonzero().squeeze(1)
        ema = next((callback for _, callback in self.callbacks_ if isinstance(callback, EMA)), None)
        teacher = ema.average_ if ema is not None and ema.average_ is not None else self.module_
        was_training = teacher.training
        teacher.eval()
        try:
            with torch.no_grad():
                read = teacher(self._to_device(torch.as_tensor(images)[rows]))
        finally:
            teacher.train(was_training)
        outputs = read.new_zeros((len(unlabelled), *read.shape[1:]))
        outputs[rows.to(read.device)] = read
        return outputs

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

    # ------------------------------------------------------------- predict
    def predict_proba(self, X):
        """Probability of each sum in ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W), (n_samples, 1, H, W) or (n_samples, H * W)
            Images of the size seen in fit.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Column ``j`` is the probability that the digits sum to
            ``classes_[j]``, among the sums in ``classes_``.
        """
        # Outputs cached from training steps (skorch's on_train scoring) carry gradients. One call
        # of the sum layer over all outputs: its cost is mostly per call.
        outputs = torch.cat([output.detach().float() for output in self._outputs(X)])
        network = unwrap(self.module_)
        log_proba = torch.cat([network.sum_log_probs(chunk) for chunk in outputs.split(_SUM_CHUNK)])
        columns = torch.as_tensor(self._sum_columns(), device=log_proba.device)
        return torch.softmax(log_proba[:, columns], dim=1).cpu().numpy()

    def predict(self, X):
        """Most probable sum of each image.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W), (n_samples, 1, H, W) or (n_samples, H * W)
            Images of the size seen in fit.

        Returns
        -------
        sums : ndarray of shape (n_samples,)
        """
        return self._sum_columns()[self.predict_proba(X).argmax(axis=1)]

    def score(self, X, y, sample_weight=None):
        """Sum accuracy.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W), (n_samples, 1, H, W) or (n_samples, H * W)
            Images.
        y : array-like of shape (n_samples,) or (n_samples, n_digits)
            True sums, or true digits (whose sums are compared); -1 (or a
            row of -1) for an unlabelled image, which is not scored.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Fraction of the labelled images whose sum is predicted exactly;
            images labelled -1 (unlabelled) are left out.
        """
        return _validation.sum_accuracy(self.predict(X), y, self._most_digits(), sample_weight,
                                        free_layout=self.max_digits is not None)

    def _sum_columns(self):
        """The sums ``predict_proba``'s columns stand for: ``classes_``, else every possible sum."""
        try:
            return np.asarray(self.classes_)
        except AttributeError:  # initialised and loaded, never fitted: nothing says which sums were seen
            return np.arange(9 * self._most_digits() + 1)

    def _outputs(self, X):
        """Network outputs, batch by batch: images through the folded network, skorch data through skorch.

        skorch's scoring callbacks pass its datasets, and replay cached
        outputs through :meth:`forward_iter`.
        """
        if is_dataset(X) or isinstance(X, (Mapping, Batch)):
            yield from self.forward_iter(X, training=False, device=self.device_)
            return
        check_is_fitted(self)
        images = _validation.check_images(X, expected_shape=self.image_shape_)
        network = self._prediction_network()
        batch_size = self.get_params_for("iterator_valid").get("batch_size", self.batch_size)
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                yield network(self._to_device(images[start:start + batch_size]))

    def _prediction_network(self):
        """The network folded for prediction (:func:`~sk_digitsum.nn.folded`), cached beside it.

        The cache is keyed by the network, not kept on the estimator, so
        predicting leaves the estimator unchanged; it is rebuilt when the
        weights change (any in-place update bumps a tensor's version counter)
        or the precision policy does (``set_params(mixed_precision=...)``).
        """
        network = unwrap(self.module_)
        state = (sum(tensor._version for tensor in (*network.parameters(), *network.buffers())),
                 network.mixed_precision)
        cached = _FOLDED.get(network)
        if cached is None or cached[0] != state:
            _FOLDED[network] = cached = (state, folded(network))
        return cached[1]

    # ------------------------------------------- parameters, saving, loading
    def set_params(self, **params):
        device = params.pop("device", _MISSING)
        if self.initialized_:
            for key in [key for key in params if key.startswith(_LOADER_PREFIXES)]:
                setattr(self, key, params.pop(key))
        with self._auto_device_shown_to_skorch():
            super().set_params(**params)
        if self.initialized_ and {"mixed_precision", "augment"} & params.keys():
            # Settings of the network's forward pass, not of its weights: the trained network takes them.
            network = unwrap(self.module_)
            network.mixed_precision = self.mixed_precision
            network.augment.augment = self.augment
        if device is not _MISSING:
            self.device = device
        return self

    def load_params(self, *args, **kwargs):
        with self._auto_device_shown_to_skorch():
            return super().load_params(*args, **kwargs)

    def to_onnx(self, path):
        """Export the fitted model to ONNX, to predict without torch (:func:`sk_digitsum.export.to_onnx`).

        Parameters
        ----------
        path : str or path-like
            The file to write.

        Returns
        -------
        path : str or path-like
        """
        from .export import to_onnx

        return to_onnx(self, path)

    def save(self, path):
        """Save the fitted model in the safe format: JSON parameters and tensors only.

        Unlike a pickle (``joblib.dump``), the file cannot run code when
        loaded. Parameters that hold Python objects other than optimizers
        and generators (custom callbacks, say) are not stored. The file is
        written beside ``path`` first and renamed into place, so an earlier
        file at ``path`` survives a write that fails half-way.

        Parameters
        ----------
        path : str or path-like
            File to write.
        """
        persistence.save_model(self, path)

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
        return persistence.load_model(path, expected_class=cls)

    def __setstate__(self, state):
        # skorch maps the pickled tensors to state["device"], which torch must know: 'auto' is where
        # the model trained, or the CPU where that is missing here, without a warning (the same
        # reason as _auto_device_shown_to_skorch).
        requested = state["device"]
        if requested == "auto":
            state["device"] = state.get("device_", "cpu")
        with warnings.catch_warnings():
            if requested == "auto":
                warnings.simplefilter("ignore", DeviceWarning)
            super().__setstate__(state)
        mapped = str(self.device)  # skorch leaves a torch.device where it had to map
        if "device_" in state:
            self.device_ = mapped
        self.device = "auto" if requested == "auto" else mapped
        _compat.upgrade_unpickled(self)


def _indexes_whole_batches(dataset):
    """Whether ``dataset`` is skorch's Dataset (in Subsets, as splits make them), which indexes arrays of rows."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return (isinstance(dataset, Dataset) and type(dataset).__getitem__ is Dataset.__getitem__
            and type(dataset).transform is Dataset.transform)


def _raised_by_callback(interrupt):
    """Whether a KeyboardInterrupt was raised by a skorch callback rather than by Ctrl-C."""
    traceback = interrupt.__traceback__
    while traceback.tb_next is not None:
        traceback = traceback.tb_next
    return isinstance(traceback.tb_frame.f_locals.get("self"), Callback)
