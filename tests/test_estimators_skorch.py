"""The estimators are skorch nets: skorch's own workflows behave as on NeuralNetClassifier.

Each test uses 160 four-digit images and one or two epochs.
"""

import warnings

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback, Checkpoint, EarlyStopping, EpochScoring, LoadInitState
from skorch.dataset import Dataset, ValidSplit
from skorch.helper import predefined_split

from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier
from sk_digitsum.datasets import make_digit_sums

# A narrow network: these tests check skorch workflows, not what the network learns.
FAST = dict(max_epochs=1, verbose=0, random_state=0, module__width=8)


@pytest.fixture(scope="module")
def data(bank):
    X, y, _ = make_digit_sums(*bank, n_samples=160, random_state=0)
    return X, y


class _ValidationSizes(Callback):
    """Records how many images each epoch validates on."""

    def initialize(self):
        self.sizes_ = []
        return self

    def on_epoch_begin(self, net, dataset_valid=None, **kwargs):
        self.sizes_.append(None if dataset_valid is None else len(dataset_valid))


def _weights(clf):
    return {name: tensor.detach().clone() for name, tensor in clf.module_.state_dict().items()}


def _assert_same_weights(first, second):
    assert first.keys() == second.keys()
    for name in first:
        torch.testing.assert_close(first[name], second[name], rtol=0, atol=0, msg=name)


# ---------------------------------------------------------------- callbacks
@pytest.mark.slow
def test_early_stopping_stops_without_the_interrupt_warning(data, capsys):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        clf = DigitHeadsClassifier(max_epochs=10, lr=1e-9, verbose=1, random_state=0,
                                   callbacks=[EarlyStopping(patience=2)]).fit(X, y)
        assert len(clf.history_) == 3  # the loss cannot improve at lr=1e-9: two misses after the first epoch
        clf.partial_fit(X, y)
    assert "Stopping since valid_loss has not improved in the last 2 epochs" in capsys.readouterr().out


@pytest.mark.slow
def test_user_callbacks_as_a_list_or_as_named_tuples_run_every_epoch(data):
    X, y = data
    listed = DigitSumClassifier(max_epochs=2, verbose=0, callbacks=[_ValidationSizes()]).fit(X, y)
    named = DigitSumClassifier(max_epochs=2, verbose=0, callbacks=[("sizes", _ValidationSizes())]).fit(X, y)
    assert dict(listed.callbacks_)["_ValidationSizes"].sizes_ == [16, 16]
    assert dict(named.callbacks_)["sizes"].sizes_ == [16, 16]


@pytest.mark.parametrize("on_train", [False, True])
def test_epoch_scoring_with_a_scorer_name_scores_sums(data, on_train):
    X, y = data
    scored = []

    class Spy(Callback):
        def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
            dataset = dataset_train if on_train else dataset_valid
            scored.append(float(np.mean(net.predict(dataset) == y[dataset.indices])))

    clf = DigitHeadsClassifier(**FAST, augment=False, callbacks=[
        EpochScoring("accuracy", name="acc", on_train=on_train, use_caching=False), ("spy", Spy())]).fit(X, y)
    assert clf.history_[-1]["acc"] == pytest.approx(scored[-1])


def test_epoch_scoring_neg_log_loss_where_every_class_is_scored(bank):
    # scikit-learn's log loss needs each class of classes_ in the scored set: one digit per image, stratified.
    X, y, _ = make_digit_sums(*bank, n_samples=400, n_digits=1, random_state=0)
    clf = DigitHeadsClassifier(**FAST, n_digits=1, train_split=ValidSplit(0.25, stratified=True, random_state=0),
                               callbacks=[EpochScoring("neg_log_loss", name="log_loss")]).fit(X, y)
    valid = clf.history_[-1]
    assert valid["log_loss"] == pytest.approx(-valid["valid_loss"], rel=1e-4)


def test_checkpoint_and_load_init_state_restore_the_best_weights(data, tmp_path):
    X, y = data
    first = DigitHeadsClassifier(**FAST, callbacks=[Checkpoint(dirname=tmp_path)]).fit(X, y)
    saved = torch.load(tmp_path / "params.pt", weights_only=True)
    loaded = {}

    class Spy(Callback):
        def on_train_begin(self, net, **kwargs):
            loaded.update(_weights(net))

    checkpoint = Checkpoint(dirname=tmp_path)
    second = DigitHeadsClassifier(**{**FAST, "random_state": 1},
                                  callbacks=[LoadInitState(checkpoint), ("spy", Spy())])
    second.fit(X, y)
    _assert_same_weights(loaded, saved)
    assert second.device == "auto" == first.device


def test_initialize_then_load_params_restores_a_fitted_model(data, tmp_path):
    X, y = data
    params = dict(classes=np.arange(37), module__width=16, verbose=0)
    fitted = DigitHeadsClassifier(max_epochs=1, random_state=0, **params).fit(X, y)
    fitted.save_params(f_params=tmp_path / "params.pt", f_optimizer=tmp_path / "optimizer.pt",
                       f_history=tmp_path / "history.json")
    fresh = DigitHeadsClassifier(**params).initialize()
    fresh.load_params(f_params=tmp_path / "params.pt", f_optimizer=tmp_path / "optimizer.pt",
                      f_history=tmp_path / "history.json")
    np.testing.assert_array_equal(fresh.predict_proba(X), fitted.predict_proba(X))
    assert fresh.history_.to_list() == fitted.history_.to_list()
    assert fresh.optimizer_.state_dict()["state"].keys() == fitted.optimizer_.state_dict()["state"].keys()
    assert fresh.device == "auto"


def test_a_network_built_before_fit_reads_the_default_image_size():
    clf = DigitHeadsClassifier(n_digits=3).initialize()
    assert clf.image_shape_ == (28, 84)
    assert clf.predict_digits(np.zeros((2, 28, 84), np.uint8)).shape == (2, 3)
    assert DigitSumClassifier(backbone="convnet", image_shape=(32, 128)).initialize().image_shape_ == (32, 128)


# ------------------------------------------------------------- train_split
def test_train_split_takes_valid_split_none_and_a_predefined_set(data):
    X, y = data
    sizes = _ValidationSizes()
    DigitSumClassifier(**FAST, train_split=ValidSplit(4), callbacks=[("sizes", sizes)]).fit(X, y)
    assert sizes.sizes_ == [40]
    DigitSumClassifier(**FAST, train_split=None, callbacks=[("sizes", sizes)]).fit(X, y)
    assert sizes.sizes_ == [None]
    held_out = Dataset(X[:24, None], y[:24])
    clf = DigitSumClassifier(**FAST, train_split=predefined_split(held_out), callbacks=[("sizes", sizes)]).fit(X, y)
    assert sizes.sizes_ == [24]
    assert clf.history_[-1]["valid_acc"] == np.mean(clf.predict(held_out) == y[:24])


def test_default_split_holds_out_a_tenth_drawn_from_random_state(data):
    X, y = data
    held_out = {}

    class Record(Callback):
        def on_train_begin(self, net, **kwargs):
            held_out.setdefault(net.random_state, []).append(None)

        def on_epoch_begin(self, net, dataset_valid=None, **kwargs):
            held_out[net.random_state][-1] = tuple(dataset_valid.indices)

    for seed in (0, 0, 1):
        DigitSumClassifier(max_epochs=1, verbose=0, random_state=seed, callbacks=[("record", Record())]).fit(X, y)
    (first, again), (other,) = held_out[0], held_out[1]
    assert len(first) == 16 and first == again and first != other


def test_validation_fraction_still_works_with_a_deprecation_warning(data):
    X, y = data
    sizes = _ValidationSizes()
    with pytest.warns(FutureWarning, match="validation_fraction is deprecated.*SeededValidSplit"):
        DigitSumClassifier(**FAST, validation_fraction=0.25, callbacks=[("sizes", sizes)]).fit(X, y)
    assert sizes.sizes_ == [40]


# --------------------------------------------- parameters, warm start, saving
def test_warm_start_and_partial_fit_continue_from_the_weights(data):
    X, y = data
    clf = DigitHeadsClassifier(**FAST, warm_start=True).fit(X, y)
    before = _weights(clf)
    clf.set_params(max_epochs=0).fit(X, y)  # no epoch: a re-initialised network would differ
    _assert_same_weights(_weights(clf), before)
    assert len(clf.history_) == 1
    clf.partial_fit(X, y)
    assert len(clf.history_) == 1, "partial_fit trains max_epochs=0 more epochs"
    _assert_same_weights(_weights(clf), before)
    clf.set_params(warm_start=False).fit(X, y)  # re-initialised: the untrained network
    assert not torch.equal(_weights(clf)["heads.weight"], before["heads.weight"])


def test_save_params_and_load_params_roundtrip(data, tmp_path):
    X, y = data
    clf = DigitSumClassifier(**FAST).fit(X, y)
    clf.save_params(f_params=tmp_path / "p.pt")
    other = DigitSumClassifier(**{**FAST, "random_state": 5}).fit(X, y)
    assert not np.array_equal(other.predict_proba(X), clf.predict_proba(X))
    other.load_params(f_params=tmp_path / "p.pt")
    np.testing.assert_array_equal(other.predict_proba(X), clf.predict_proba(X))


def test_set_params_reaches_the_module_the_optimizer_and_the_callbacks(data):
    X, y = data
    clf = DigitHeadsClassifier(**FAST).fit(X, y)
    clf.set_params(module__width=12)
    assert clf.module_.backbone.out_channels == 12 * 4
    clf.set_params(optimizer__weight_decay=0.5, lr=0.1)
    assert clf.optimizer_.param_groups[0]["weight_decay"] == 0.5 and clf.optimizer_.param_groups[0]["lr"] == 0.1
    clf.set_params(callbacks__gradient_clipping__gradient_clip_value=1.0)
    assert dict(clf.callbacks_)["gradient_clipping"].gradient_clip_value == 1.0
    assert clf.fit(X, y).module_.backbone.out_channels == 12 * 4


def test_optimizer_sgd_with_momentum(data):
    X, y = data
    clf = DigitSumClassifier(**FAST, optimizer=torch.optim.SGD, optimizer__momentum=0.9, lr=0.01).fit(X, y)
    assert isinstance(clf.optimizer_, torch.optim.SGD)
    assert clf.optimizer_.param_groups[0]["momentum"] == 0.9
    assert any(state["momentum_buffer"] is not None for state in clf.optimizer_.state.values())


@pytest.mark.parametrize("optimizer, params, fused, foreach", [
    (torch.optim.AdamW, {}, True, None),  # the default: one fused kernel per step
    (torch.optim.SGD, {}, True, None),
    (torch.optim.AdamW, {"optimizer__foreach": True}, None, True),  # the user's choice wins
    (torch.optim.AdamW, {"optimizer__fused": False}, False, None),
    (torch.optim.Adagrad, {}, None, None),  # its fused kernel is CPU-only: left to torch's default
])
def test_optimizers_get_a_fused_kernel_on_a_gpu_unless_told_otherwise(optimizer, params, fused, foreach):
    clf = DigitSumClassifier(optimizer=optimizer, **params).initialize()
    assert clf.optimizer_.defaults.get("fused") in (None, params.get("optimizer__fused"))  # on the CPU: as asked
    clf.device_ = "cuda:0"  # as where a GPU trains; torch checks the weights' device only at the first step
    clf.initialize_optimizer()
    assert (clf.optimizer_.defaults.get("fused"), clf.optimizer_.defaults["foreach"]) == (fused, foreach)
    assert "optimizer__fused" not in clf.get_params() or "optimizer__fused" in params


def test_verbose_zero_prints_nothing_even_with_early_stopping(data, capsys):
    X, y = data
    DigitHeadsClassifier(max_epochs=4, lr=1e-9, verbose=0, random_state=0,
                         callbacks=[EarlyStopping(patience=1)]).fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.slow
@pytest.mark.parametrize("layout", [{}, {"max_digits": 4}], ids=["slots", "reader"])
def test_compile_true_trains_and_predicts_on_the_cpu(data, layout):
    X, y = data
    params = dict(max_epochs=1, verbose=0, random_state=0, depth=3, module__width=8, **layout)
    torch._dynamo.utils.counters.clear()
    compiled = DigitHeadsClassifier(**params, compile=True).fit(X[:64], y[:64])
    assert isinstance(compiled.module_, torch._dynamo.eval_frame.OptimizedModule)
    # The precision policy is a constant to the compiler and the losses have no data-dependent shapes;
    # the reader's sum, with its own backward pass, is traced whole.
    assert dict(torch._dynamo.utils.counters["graph_break"]) == {}
    plain = DigitHeadsClassifier(**params).fit(X[:64], y[:64])
    np.testing.assert_allclose(compiled.predict_proba(X), plain.predict_proba(X), atol=1e-3)


def test_skorch_forward_reads_raw_image_arrays(data):
    X, y = data
    clf = DigitHeadsClassifier(**FAST).fit(X, y)
    logits = clf.forward(X[:5])  # skorch's method, on (n, H, W) uint8 images as given to fit
    assert logits.shape == (5, 4, 10)
    np.testing.assert_allclose(torch.softmax(logits, -1).numpy(), clf.predict_digit_proba(X[:5]), atol=1e-4)


class _CountingLoader(torch.utils.data.DataLoader):
    batches = 0

    def __iter__(self):
        for batch in super().__iter__():
            type(self).batches += 1
            yield batch


@pytest.mark.slow
def test_iterator_train_and_iterator_valid_are_the_loaders_used(data):
    train_loader = type("TrainLoader", (_CountingLoader,), {"batches": 0})
    valid_loader = type("ValidLoader", (_CountingLoader,), {"batches": 0})
    clf = DigitHeadsClassifier(iterator_train=train_loader, iterator_valid=valid_loader, batch_size=32,
                               **FAST).fit(*data)
    assert train_loader.batches == len(clf.history_[-1, "batches"]) - valid_loader.batches
    assert (train_loader.batches, valid_loader.batches) == (5, 1)  # 144 training images, 16 held out


@pytest.mark.slow
def test_criterion_is_the_loss_trained_on(data):
    from sk_digitsum.nn import SumLoss

    class HalvedLoss(SumLoss):
        def forward(self, *args, **kwargs):
            return super().forward(*args, **kwargs) / 2

    plain = DigitSumClassifier(**FAST).fit(*data)
    halved = DigitSumClassifier(criterion=HalvedLoss, **FAST).fit(*data)
    assert isinstance(halved.criterion_, HalvedLoss)
    first_batch = lambda clf: clf.history_[0, "batches", 0, "train_loss"]  # noqa: E731
    assert first_batch(halved) == pytest.approx(first_batch(plain) / 2, rel=1e-5)


def test_predict_nonlinearity_other_than_auto_is_refused_with_the_reason(data):
    with pytest.raises(ValueError, match="'predict_nonlinearity' parameter .* must be a str among {'auto'}"):
        DigitHeadsClassifier(predict_nonlinearity=torch.sigmoid, **FAST).fit(*data)


@pytest.mark.slow
def test_torch_load_kwargs_reach_torch_load_in_load_params(data, tmp_path, monkeypatch):
    clf = DigitHeadsClassifier(**FAST).fit(*data)
    clf.save_params(f_params=tmp_path / "params.pt")
    seen = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: seen.append(kwargs) or real_load(*args, **kwargs))
    fresh = DigitHeadsClassifier(torch_load_kwargs={"weights_only": True, "mmap": True}, **FAST)
    fresh.initialize().load_params(f_params=tmp_path / "params.pt")
    assert seen and seen[-1]["weights_only"] is True and seen[-1]["mmap"] is True
    np.testing.assert_array_equal(fresh.predict(data[0]), clf.predict(data[0]))
