"""The estimators' skorch base: its hooks, defaults and workarounds, each pinned by what it does."""

import math

import numpy as np
import pytest
import skorch
import torch
from skorch.callbacks import Callback, Checkpoint, LoadInitState
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier
from sk_digitsum.datasets import make_digit_sums
from sk_digitsum.nn.precision import autocast_dtype

ESTIMATORS = [DigitHeadsClassifier, DigitSumClassifier]
NARROW = dict(max_epochs=1, verbose=0, random_state=0, module__width=8)


@pytest.fixture(scope="module")
def data(bank):
    X, y, _ = make_digit_sums(*bank, n_samples=96, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def held_out(bank):
    X, y, _ = make_digit_sums(*bank, n_samples=32, random_state=1)
    return X, y


# ------------------------------------------------ workarounds: each goes when its reason does
def test_skorch_still_hands_auto_to_torch():
    """The reason for _auto_device_shown_to_skorch: when this fails, skorch resolves 'auto' and the workaround can go."""
    net = skorch.NeuralNetClassifier(torch.nn.Linear, module__in_features=2, module__out_features=2, device="auto")
    with pytest.raises(RuntimeError, match="auto"):
        net.initialize()


def test_skorch_still_refuses_loader_options_of_an_initialised_net():
    """The reason for _LOADER_PREFIXES in set_params: when this fails, skorch takes them and the special case can go."""
    net = skorch.NeuralNetClassifier(torch.nn.Linear, module__in_features=2, module__out_features=2).initialize()
    with pytest.raises(ValueError, match="Something went wrong"):
        net.set_params(iterator_valid__batch_size=5)


def test_the_device_is_resolved_by_initialize_and_the_parameter_kept(data):
    clf = DigitHeadsClassifier(**NARROW)
    assert not hasattr(clf, "device_")
    clf.initialize()
    here = "cuda" if torch.cuda.is_available() else "cpu"
    assert clf.device_ == here and clf.device == "auto"
    assert next(clf.module_.parameters()).device.type == here
    clf.set_params(module__width=4)  # skorch re-initialises the network, and places it
    assert clf.device == "auto" and next(clf.module_.parameters()).device.type == here


# ------------------------------------------------------------------------ batches
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("options", [{}, {"iterator_train__drop_last": True, "iterator_valid__drop_last": True},
                                     {"iterator_train__shuffle": False}])
def test_whole_batches_are_read_at_once_as_the_dataloader_would_draw_them(data, training, options):
    from torch.utils.data import DataLoader, Subset

    X, y = data
    digits = np.arange(len(y) * 4).reshape(-1, 4) % 10
    dataset = Subset(Dataset({"images": X, "digits": digits}, y), np.arange(5, 90))  # as a split makes them
    clf = DigitHeadsClassifier(**NARROW, batch_size=16, **options).initialize()
    loader = clf.get_iterator(dataset, training=training)
    prefix = "iterator_train" if training else "iterator_valid"
    item_by_item = {"batch_size": 16, "shuffle": training, **clf.get_params_for(prefix)}
    torch.manual_seed(0)
    read = list(loader)
    torch.manual_seed(0)
    expected = list(DataLoader(dataset, **item_by_item))
    assert len(read) == len(expected) == (85 // 16 if options.get(f"{prefix}__drop_last") else -(-85 // 16))
    for (x, target), (x_expected, target_expected) in zip(read, expected):
        for key in ("images", "digits"):
            torch.testing.assert_close(x[key], x_expected[key], rtol=0, atol=0)
        torch.testing.assert_close(target, target_expected, rtol=0, atol=0)


def test_datasets_of_other_kinds_and_loader_options_keep_item_by_item_loading(data):
    X, y = data

    class OwnItems(Dataset):
        def __getitem__(self, i):
            return super().__getitem__(i)

    clf = DigitHeadsClassifier(**NARROW, batch_size=16).initialize()
    assert clf.get_iterator(OwnItems(X, y), training=True).batch_size == 16
    clf.set_params(iterator_train__collate_fn=torch.utils.data.default_collate)
    assert clf.get_iterator(Dataset(X, y), training=True).batch_size == 16


# ----------------------------------------------------------------------- defaults
def test_the_default_optimisation_is_adamw_at_3e_3_with_a_cosine_schedule_over_max_epochs(data):
    X, y = data

    class Rates(Callback):
        def initialize(self):
            self.rates_ = []
            return self

        def on_epoch_begin(self, net, **kwargs):
            self.rates_.append(net.optimizer_.param_groups[0]["lr"])

    rates = Rates()
    clf = DigitHeadsClassifier(**{**NARROW, "max_epochs": 4}, batch_size=64, callbacks=[("rates", rates)]).fit(X, y)
    assert type(clf.optimizer_) is torch.optim.AdamW
    group = clf.optimizer_.param_groups[0]
    defaults = torch.optim.AdamW([torch.zeros(1, requires_grad=True)]).defaults
    assert (group["weight_decay"], group["betas"], group["eps"]) == (defaults["weight_decay"], defaults["betas"],
                                                                   defaults["eps"])
    expected = [3e-3 * (1 + math.cos(math.pi * epoch / 4)) / 2 for epoch in range(4)]
    np.testing.assert_allclose(rates.rates_, expected, rtol=1e-12)
    sizes = [batch["train_batch_size"] for batch in clf.history_[0, "batches"] if "train_batch_size" in batch]
    assert sizes == [64, len(y) - math.ceil(len(y) / 10) - 64]  # batch_size reaches the loader; a tenth held out
    defaults = DigitHeadsClassifier().initialize()
    ema = dict(defaults.callbacks_)["ema"]
    assert (defaults.max_epochs, defaults.lr, defaults.batch_size, ema.beta, ema.warmup) == (30, 3e-3, 128, 0.99, True)


def test_gradients_are_clipped_to_a_norm_of_5_before_each_step(data):
    X, y = data
    norms = []

    class GradientNorms(Callback):  # after the default callbacks, as a user's would be
        def on_grad_computed(self, net, named_parameters, **kwargs):
            norms.append(float(torch.norm(torch.stack([p.grad.norm() for _, p in named_parameters]))))

    from sk_digitsum.nn import SumLoss

    class Huge(SumLoss):
        def forward(self, *args, **kwargs):
            return 1e6 * super().forward(*args, **kwargs)

    DigitSumClassifier(**NARROW, criterion=Huge, train_split=None, callbacks=[GradientNorms()]).fit(X, y)
    assert len(norms) == 1 and norms[0] == pytest.approx(5.0, rel=1e-3)
    norms.clear()
    DigitSumClassifier(**NARROW, criterion=Huge, train_split=None, callbacks=[GradientNorms()],
                       callbacks__gradient_clipping=None).fit(X, y)
    assert norms[0] > 100


# ------------------------------------------------------------------- prediction
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_prediction_is_deterministic_and_never_distorts_or_drops_out(estimator, data, held_out):
    X, y = data
    clf = estimator(**NARROW, train_split=None).fit(X, y)
    assert clf.module_.training, "no validation: the last thing the network did was a training step"
    first = clf.predict_proba(held_out[0])
    torch.manual_seed(123)
    np.testing.assert_array_equal(clf.predict_proba(held_out[0]), first)
    np.testing.assert_array_equal(clf.forward(held_out[0]).numpy(), clf.forward(held_out[0]).numpy())
    network = clf.module_.eval()
    with torch.no_grad():
        unfolded = network.sum_log_probs(network(torch.from_numpy(held_out[0])))
    expected = torch.softmax(unfolded[:, torch.as_tensor(clf.classes_)], dim=1).numpy()
    # Folding rounds differently: within float32's error, or bfloat16's where the backbone runs in it.
    in_bf16 = autocast_dtype(clf.mixed_precision, "cpu") is not None
    np.testing.assert_allclose(first, expected, atol=2e-2 if in_bf16 else 1e-5)


def test_a_precision_set_after_fit_reaches_prediction(data, held_out):
    X, y = data
    clf = DigitHeadsClassifier(**NARROW, mixed_precision="no").fit(X, y)
    in_float32 = clf.predict_proba(held_out[0])  # caches the folded copy
    in_bf16 = clf.set_params(mixed_precision="bf16").predict_proba(held_out[0])
    assert clf.module_.mixed_precision == "bf16" and not np.array_equal(in_bf16, in_float32)
    np.testing.assert_array_equal(clf.set_params(mixed_precision="no").predict_proba(held_out[0]), in_float32)


def test_the_validation_scores_and_loss_leave_unlabelled_images_out(data, held_out):
    X, y = data
    X_valid, y_valid = held_out
    partly = y_valid.copy()
    partly[::2] = -1
    clf = DigitHeadsClassifier(**NARROW, batch_size=128, train_split=predefined_split(Dataset(X_valid, partly)))
    clf.fit(X, y)
    labelled = partly >= 0
    record = clf.history_[-1]
    assert record["valid_acc"] == np.mean(clf.predict(X_valid[labelled]) == partly[labelled])
    logits = clf.forward(X_valid[labelled])
    expected_loss = float(clf.get_loss(logits, torch.as_tensor(partly[labelled])))
    assert record["valid_loss"] == pytest.approx(expected_loss, rel=1e-4)
    assert record["valid_loss"] != pytest.approx(float(clf.get_loss(clf.forward(X_valid), torch.as_tensor(y_valid))),
                                                 rel=1e-4)


# ------------------------------------------------------------ EMA and checkpoints
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_a_checkpoint_holds_the_scored_average_and_restores_the_fitted_model(estimator, data, held_out, tmp_path):
    X, y = data
    params = dict(NARROW, max_epochs=2, batch_size=32, classes=np.arange(37))
    checkpoint = Checkpoint(dirname=tmp_path, monitor=None)  # saves after every epoch
    clf = estimator(**params, train_split=predefined_split(Dataset(*held_out)), callbacks=[checkpoint]).fit(X, y)
    fresh = estimator(**params).initialize()
    fresh.load_params(checkpoint=Checkpoint(dirname=tmp_path))
    np.testing.assert_array_equal(fresh.predict_proba(X), clf.predict_proba(X))
    assert fresh.score(*held_out) == clf.history_[-1, "valid_acc"]  # the weights that were scored
    without_average = estimator(**params, ema_beta=None, train_split=predefined_split(Dataset(*held_out))).fit(X, y)
    assert not np.array_equal(without_average.predict_proba(X), clf.predict_proba(X))


def test_load_init_state_starts_the_next_fit_and_its_average_from_the_checkpoint(data, tmp_path):
    X, y = data
    first = DigitHeadsClassifier(**NARROW, callbacks=[Checkpoint(dirname=tmp_path, monitor=None)]).fit(X, y)
    saved = torch.load(tmp_path / "params.pt", weights_only=True)
    starts = {}

    class Spy(Callback):
        def on_batch_begin(self, net, training=False, **kwargs):
            if training and not starts:
                ema = dict(net.callbacks_)["ema"]
                starts.update(live={k: v.clone() for k, v in net.module_.state_dict().items()},
                              average={k: v.clone() for k, v in ema.average_.state_dict().items()})

    second = DigitHeadsClassifier(**{**NARROW, "random_state": 1},
                                  callbacks=[LoadInitState(Checkpoint(dirname=tmp_path)), ("spy", Spy())]).fit(X, y)
    for name, tensor in saved.items():
        torch.testing.assert_close(starts["live"][name], tensor, rtol=0, atol=0)
        torch.testing.assert_close(starts["average"][name], tensor, rtol=0, atol=0)
    assert second.device == "auto" == first.device
