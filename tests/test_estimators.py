import copy
import io
import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier, SyntheticDigitsGenerator
from sk_digitsum.callbacks import EMA
from sk_digitsum.datasets import make_digit_sums

ESTIMATORS = [DigitHeadsClassifier, DigitSumClassifier]
FAST = dict(max_epochs=1, verbose=0, random_state=0)


@pytest.fixture(scope="module")
def single_digits(bank_split):
    """One digit per image: plain MNIST, the fastest learnable case."""
    train, test = bank_split
    return (make_digit_sums(*train, 1200, n_digits=1, random_state=0),
            make_digit_sums(*test, 400, n_digits=1, random_state=1))


def test_heads_prediction_api(fitted_heads, small_data):
    X, y, digits = small_data
    proba = fitted_heads.predict_proba(X)
    np.testing.assert_array_equal(fitted_heads.classes_, np.unique(y))  # scikit-learn's convention
    assert proba.shape == (64, len(np.unique(y)))
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    sums = fitted_heads.predict(X)
    np.testing.assert_array_equal(sums, fitted_heads.classes_[proba.argmax(axis=1)])
    np.testing.assert_array_equal(fitted_heads.predict_digits(X), fitted_heads.predict_digit_proba(X).argmax(axis=2))
    assert fitted_heads.predict_digit_proba(X).shape == (64, 4, 10)
    assert fitted_heads.score(X, y) == pytest.approx(np.mean(sums == y))
    assert fitted_heads.score(X, digits) == fitted_heads.score(X, y)


def test_heads_sum_probability_is_convolution_of_digit_probabilities(fitted_heads, small_data):
    X = small_data[0][:5]
    digit_proba = fitted_heads.predict_digit_proba(X)
    for row, per_position in zip(fitted_heads.predict_proba(X), digit_proba):
        expected = per_position[0]
        for position in per_position[1:]:
            expected = np.convolve(expected, position)
        seen = expected[fitted_heads.classes_]  # the sums seen in fit, renormalised
        np.testing.assert_allclose(row, seen / seen.sum(), atol=1e-6)


def test_sum_classifier_prediction_api(small_data):
    X, y, _ = small_data
    clf = DigitSumClassifier(**FAST).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (64, len(np.unique(y)))
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert not hasattr(clf, "predict_digits")


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.slow
def test_learns_single_digits(estimator, single_digits):
    (X, y, _), (X_test, y_test, _) = single_digits
    clf = estimator(n_digits=1, max_epochs=8, verbose=0, random_state=0, ema_beta=0.9).fit(X, y)
    assert clf.score(X_test, y_test) > 0.85


@pytest.mark.slow
def test_heads_learn_digits_from_sums_only(bank_split):
    train, test = bank_split
    X, y, _ = make_digit_sums(*train, 3000, n_digits=2, random_state=0)
    X_test, _, digits_test = make_digit_sums(*test, 300, n_digits=2, random_state=1)
    clf = DigitHeadsClassifier(n_digits=2, max_epochs=6, ema_beta=None, verbose=0, random_state=0).fit(X, y)
    assert np.mean(clf.predict_digits(X_test) == digits_test) > 0.8


@pytest.mark.slow
def test_heads_learn_from_digit_labels(single_digits):
    (X, y, digits), (X_test, _, digits_test) = single_digits
    clf = DigitHeadsClassifier(n_digits=1, max_epochs=8, verbose=0, random_state=0, ema_beta=0.9).fit(X, digits)
    assert np.mean(clf.predict_digits(X_test) == digits_test) > 0.85


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_same_random_state_is_bit_identical(estimator, small_data):
    X, y, _ = small_data
    first = estimator(**FAST).fit(X, y).predict_proba(X)
    second = estimator(**FAST).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    other = estimator(**{**FAST, "random_state": 1}).fit(X, y).predict_proba(X)
    assert not np.array_equal(first, other)


def test_fit_leaves_global_torch_rng_alone(small_data):
    X, y, _ = small_data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    DigitHeadsClassifier(**FAST).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


def test_uint8_and_float_images_agree(small_data):
    X, y, _ = small_data
    from_uint8 = DigitHeadsClassifier(**FAST, augment=False).fit(X, y).predict_proba(X)
    from_float = DigitHeadsClassifier(**FAST, augment=False).fit(X / 255.0, y).predict_proba(X / 255.0)
    np.testing.assert_allclose(from_uint8, from_float, atol=1e-4)


def test_channel_axis_is_accepted(fitted_heads, small_data):
    X = small_data[0]
    np.testing.assert_array_equal(fitted_heads.predict(X[:, None]), fitted_heads.predict(X))


def test_device_auto_falls_back_to_cpu_with_message(small_data, capsys):
    X, y, _ = small_data
    clf = DigitHeadsClassifier(max_epochs=1, random_state=0, device="auto").fit(X, y)
    assert clf.device == "auto"
    assert clf.device_ == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        assert "no CUDA GPU found, training on the CPU" in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_cuda_without_gpu_is_a_clear_error(small_data):
    X, y, _ = small_data
    with pytest.raises(ValueError, match="no CUDA GPU is available"):
        DigitHeadsClassifier(device="cuda", **FAST).fit(X, y)


def test_verbose_prints_epoch_table_and_zero_is_silent(small_data, capsys):
    X, y, _ = small_data
    DigitHeadsClassifier(max_epochs=2, random_state=0, device="cpu").fit(X, y)
    out = capsys.readouterr().out
    for column in ("epoch", "train_loss", "valid_acc", "dur"):
        assert column in out
    DigitHeadsClassifier(max_epochs=2, random_state=0, verbose=0).fit(X, y)
    assert capsys.readouterr().out == ""


def test_history_records_each_epoch(small_data):
    X, y, _ = small_data
    clf = DigitHeadsClassifier(max_epochs=3, verbose=0, random_state=0).fit(X, y)
    assert len(clf.history_) == 3
    assert all(0 <= acc <= 1 for acc in clf.history_[:, "valid_acc"])
    no_valid = DigitHeadsClassifier(max_epochs=1, verbose=0, random_state=0, train_split=None).fit(X, y)
    assert "valid_acc" not in no_valid.history_[-1]


@pytest.mark.slow
def test_ema_beta_sets_callback_and_none_removes_it(small_data):
    X, y, _ = small_data
    clf = DigitHeadsClassifier(**FAST, batch_size=16).set_params(ema_beta=0.5).fit(X, y)
    emas = [cb for _, cb in clf.callbacks_ if isinstance(cb, EMA)]
    assert [cb.beta for cb in emas] == [0.5]
    plain = DigitHeadsClassifier(**FAST, batch_size=16, ema_beta=None).fit(X, y)
    assert not any(isinstance(cb, EMA) for _, cb in plain.callbacks_)
    assert not np.array_equal(plain.predict_proba(X), clf.predict_proba(X))


def test_clone_and_params():
    clf = DigitHeadsClassifier(backbone="resnet", depth=34, ema_beta=0.9, lr=1e-3, optimizer__weight_decay=1e-4)
    params = clf.get_params()
    for name, value in [("backbone", "resnet"), ("depth", 34), ("ema_beta", 0.9), ("lr", 1e-3),
                        ("optimizer__weight_decay", 1e-4), ("device", "auto"), ("n_digits", 4)]:
        assert params[name] == value
    cloned = clone(clf)
    assert cloned.get_params()["depth"] == 34 and not cloned.__sklearn_is_fitted__()
    assert clf.set_params(depth=50).depth == 50


def test_not_fitted_errors(small_data):
    X = small_data[0]
    for method in ("predict", "predict_proba", "predict_digits"):
        with pytest.raises(NotFittedError):
            getattr(DigitHeadsClassifier(), method)(X)


def _to_unit_float(X):
    return np.asarray(X, dtype=np.float32) / 255


def test_pipeline_feeds_the_transformed_images_to_the_estimator(small_data):
    X, y, _ = small_data
    pipe = Pipeline([("scale", FunctionTransformer(_to_unit_float)), ("clf", DigitHeadsClassifier(**FAST))])
    direct = DigitHeadsClassifier(**FAST).fit(_to_unit_float(X), y)
    # Probabilities, not sums: a one-epoch model predicts nearly one sum for every image.
    np.testing.assert_array_equal(pipe.fit(X, y).predict_proba(X), direct.predict_proba(_to_unit_float(X)))
    assert pipe.score(X, y) == np.mean(pipe.predict(X) == y)


def test_cross_val_score_scores_each_fold_as_a_fit_on_the_others_would(small_data):
    X, y, _ = small_data
    scores = cross_val_score(DigitSumClassifier(**FAST), X, y, cv=2)
    expected = [DigitSumClassifier(**FAST).fit(X[train], y[train]).score(X[test], y[test])
                for train, test in StratifiedKFold(2).split(X, y)]
    np.testing.assert_array_equal(scores, expected)


def _residual_blocks(estimator, X, y):
    return sum(type(module).__name__ == "BasicBlock" for module in estimator.module_.modules())


def _ema_beta(estimator, X, y):
    return dict(estimator.callbacks_)["ema"].beta


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.slow
def test_grid_search_over_ema_beta_and_resnet_depth_reaches_the_network(single_digits, n_jobs):
    X, y, _ = single_digits[0]
    grid = GridSearchCV(
        DigitSumClassifier(backbone="resnet", n_digits=1, batch_size=8, train_split=None, **FAST),
        {"ema_beta": [0.9, 0.99], "depth": [18, 34]}, cv=2, n_jobs=n_jobs,
        scoring={"blocks": _residual_blocks, "beta": _ema_beta}, refit=False,
    ).fit(X[:16], y[:16])
    blocks = {18: 2 + 2 + 2 + 2, 34: 3 + 4 + 6 + 3}  # torchvision's layers per depth
    for params, n_blocks, beta in zip(grid.cv_results_["params"], grid.cv_results_["mean_test_blocks"],
                                      grid.cv_results_["mean_test_beta"]):
        assert (n_blocks, beta) == (blocks[params["depth"]], params["ema_beta"])


@pytest.mark.slow
def test_cross_val_score_is_reproducible_across_n_jobs(small_data):
    X, y, _ = small_data
    scores = [cross_val_score(DigitHeadsClassifier(**FAST, batch_size=16), X, y, cv=2, n_jobs=n_jobs,
                              scoring="neg_log_loss") for n_jobs in (1, 2)]
    np.testing.assert_array_equal(*scores)


@pytest.mark.slow
def test_grid_search_is_reproducible_across_n_jobs(small_data):
    X, y, _ = small_data
    results = []
    for n_jobs in (1, 2):
        grid = GridSearchCV(DigitHeadsClassifier(**FAST), {"depth": [3, 6]}, cv=2, n_jobs=n_jobs).fit(X, y)
        results.append(grid.best_estimator_.predict_proba(X))
    np.testing.assert_array_equal(*results)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_joblib_roundtrip_is_identical(estimator, small_data, tmp_path):
    X, y, _ = small_data
    clf = estimator(**FAST).fit(X, y)
    joblib.dump(clf, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.get_params()["device"] == "auto"


@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_model_saved_on_cuda_loads_on_cpu(fitted_heads, small_data, monkeypatch, device):
    """Pickle as a CUDA machine would (every tensor tagged 'cuda:0'), then load here."""
    if torch.cuda.is_available():
        pytest.skip("the mapping to the CPU is for machines without CUDA")
    X = small_data[0]
    expected = fitted_heads.predict_proba(X)
    saved = pickle.loads(pickle.dumps(fitted_heads))
    saved.device, saved.device_ = device, "cuda"
    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
    buffer = io.BytesIO()
    joblib.dump(saved, buffer)
    monkeypatch.undo()
    assert b"cuda:0" in buffer.getvalue()
    buffer.seek(0)
    if device == "cuda":
        with pytest.warns(UserWarning, match="CUDA"):
            loaded = joblib.load(buffer)
    else:
        loaded = joblib.load(buffer)
    assert loaded.device_ == "cpu" and loaded.device == ("auto" if device == "auto" else "cpu")
    assert next(loaded.module_.parameters()).device.type == "cpu"
    np.testing.assert_allclose(loaded.predict_proba(X), expected, rtol=1e-6)


@pytest.mark.slow
def test_synthetic_source_adds_fresh_samples_each_epoch(small_data, monkeypatch):
    X, y, _ = small_data
    generator = SyntheticDigitsGenerator(random_state=0)
    drawn = []
    original = SyntheticDigitsGenerator.sample

    def spy(self, n_samples, random_state=None):
        sample = original(self, n_samples, random_state=random_state)
        drawn.append(sample[0])
        return sample

    monkeypatch.setattr(SyntheticDigitsGenerator, "sample", spy)
    clf = DigitHeadsClassifier(max_epochs=2, verbose=0, random_state=0, synthetic=generator, n_synthetic=40,
                               batch_size=16, train_split=None).fit(X, y)
    assert not hasattr(generator, "images_"), "the user's generator must stay unfitted"
    assert clf.synthetic_.images_.shape == (5000, 28, 28)
    assert [len(images) for images in drawn] == [40, 40] and not np.array_equal(*drawn)
    assert [len(epoch["batches"]) for epoch in clf.history_] == [int(np.ceil((64 + 40) / 16))] * 2


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.slow
def test_synthetic_stream_is_reproducible_with_dataloader_workers(small_data, num_workers):
    X, y, _ = small_data
    params = dict(max_epochs=2, verbose=0, random_state=3, synthetic=SyntheticDigitsGenerator(random_state=0),
                  n_synthetic=50, batch_size=32, iterator_train__num_workers=num_workers)
    first, second = (DigitHeadsClassifier(**params).fit(X, y) for _ in range(2))
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    other = DigitHeadsClassifier(**{**params, "random_state": 4}).fit(X, y)
    assert not np.array_equal(first.predict_proba(X), other.predict_proba(X))


@pytest.mark.slow
def test_synthetic_only_training(bank):
    generator = SyntheticDigitsGenerator(n_digits=1, random_state=0).fit(*bank)
    X, _, digits = generator.sample(1200)
    clf = DigitHeadsClassifier(n_digits=1, max_epochs=8, ema_beta=None, verbose=0, random_state=0).fit(X, digits)
    assert clf.score(*make_digit_sums(*bank, n_samples=300, n_digits=1, random_state=5)[:2]) > 0.85


def test_synthetic_shape_mismatch_is_an_error(small_data):
    X, y, _ = small_data
    clf = DigitHeadsClassifier(**FAST, synthetic=SyntheticDigitsGenerator(n_digits=3))
    with pytest.raises(ValueError, match="synthetic generator makes 28x84 images"):
        clf.fit(X, y)


def _weights(clf):
    return [p.detach().clone() for p in clf.module_.parameters()]


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_training_again_continues_from_the_weights(small_data, how):
    X, y, _ = small_data
    clf = DigitHeadsClassifier(**FAST, warm_start=how == "warm_start").fit(X, y)
    trained, initial = _weights(clf), _weights(clone(clf).initialize())
    # One epoch moves some weight by more than 1e-3; a re-initialised network would be that far off.
    assert max((a - b).abs().max() for a, b in zip(trained, initial)) > 1e-3
    clf.set_params(lr=1e-12)
    clf.partial_fit(X, y) if how == "partial_fit" else clf.fit(X, y)
    assert len(clf.history_) == 2
    for before, after in zip(trained, _weights(clf)):
        torch.testing.assert_close(after, before, atol=1e-5, rtol=0)


def test_diverging_loss_stops_with_advice(small_data):
    X, y, _ = small_data
    clf = DigitSumClassifier(max_epochs=3, verbose=0, random_state=0, lr=1e30,
                             callbacks__gradient_clipping=None)
    with pytest.raises(FloatingPointError, match="Lower the learning rate"):
        clf.fit(X, y)


def test_repr_shows_only_changed_parameters():
    assert repr(DigitHeadsClassifier()) == "DigitHeadsClassifier()"
    text = repr(DigitSumClassifier(backbone="resnet", depth=50, max_epochs=5, optimizer__weight_decay=1e-4))
    assert " ".join(text.split()) == (
        "DigitSumClassifier(backbone='resnet', depth=50, max_epochs=5, optimizer__weight_decay=0.0001)")


def test_verbose_two_adds_batch_progress_bar(small_data):
    X, y, _ = small_data
    clf = DigitHeadsClassifier(max_epochs=1, verbose=2, random_state=0).fit(X, y)
    assert "progress_bar" in dict(clf.callbacks_)
    assert "progress_bar" not in dict(DigitHeadsClassifier(**FAST).fit(X, y).callbacks_)


def test_set_params_reinitialises_fitted_module_on_resolved_device(small_data):
    X, y, _ = small_data
    clf = DigitHeadsClassifier(**FAST).fit(X, y)
    clf.set_params(module__width=16)
    assert clf.module_.backbone.out_channels == 4 * 16 and clf.device == "auto"
    clf.set_params(device="cpu")
    assert clf.device == "cpu"
    assert clf.fit(X, y).predict(X).shape == (64,)


def test_loader_options_of_a_fitted_estimator_keep_its_weights(small_data):
    X, y, _ = small_data
    clf = DigitHeadsClassifier(**FAST).fit(X, y)
    batches = []
    clf.module_.register_forward_hook(lambda module, inputs, output: batches.append(len(output)))
    module, before = clf.module_, clf.predict_proba(X)
    batches.clear()
    clf.set_params(iterator_valid__batch_size=5, iterator_train__num_workers=0)
    assert clf.module_ is module and clf.get_params()["iterator_valid__batch_size"] == 5
    np.testing.assert_allclose(clf.predict_proba(X), before, rtol=1e-5, atol=1e-6)
    assert max(batches) == 5


@pytest.mark.parametrize("mixed_precision, dtype", [("bf16", torch.bfloat16), ("no", torch.float32)])
def test_mixed_precision_sets_the_dtype_of_forward_passes(small_data, mixed_precision, dtype):
    X, y, _ = small_data
    clf = DigitHeadsClassifier(**FAST, mixed_precision=mixed_precision, device="cpu", module__width=8)
    seen, head_inputs = [], []
    clf.initialize()  # the precision policy is the network's, trained or not
    clf.module_.backbone.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    clf.module_.heads.register_forward_pre_hook(lambda module, inputs: head_inputs.append(inputs[0].dtype))
    clf.infer(torch.from_numpy(X[:4, None]))
    assert seen == [dtype]
    assert head_inputs == [torch.float32], "the heads run in float32 whatever the backbone does"


def test_batches_for_a_gpu_come_from_pinned_memory_and_streams_are_not_reshuffled(fitted_heads, small_data, bank):
    from skorch.dataset import Dataset

    from sk_digitsum.streams import SyntheticDigitStream

    X, y, _ = small_data
    clf = copy.copy(fitted_heads)
    assert clf.get_iterator(Dataset(X, y), training=True).pin_memory is False
    clf.device_ = "cuda"  # only the loader's settings are read: no GPU is touched
    loader = clf.get_iterator(Dataset(X, y), training=True)
    assert loader.pin_memory is True and loader.sampler.batch_size == clf.batch_size
    stream = SyntheticDigitStream(SyntheticDigitsGenerator().fit(*bank), n_samples=10)
    assert clf.get_iterator(stream, training=True).dataset is stream  # DataLoader refuses shuffle=True here


def test_score_is_the_accuracy_of_predict_image_by_image(fitted_heads, small_data, monkeypatch):
    # The small fitted models predict nearly one sum for every image, which cannot tell a score that
    # pairs predictions with the wrong images: give predict a known, varied answer instead.
    X, y, digits = small_data
    answers = y.copy()
    answers[::3] += 1  # wrong on every third image, right elsewhere
    monkeypatch.setattr(type(fitted_heads), "predict", lambda self, images: answers[:len(images)])
    right = answers == y
    assert fitted_heads.score(X, y) == pytest.approx(right.mean())
    assert fitted_heads.score(X, digits) == pytest.approx(right.mean())  # digit rows are scored by their sums
    assert fitted_heads.score(X, y, sample_weight=right.astype(float)) == 1.0
    assert fitted_heads.score(X, y, sample_weight=(~right).astype(float)) == 0.0


def test_score_weights_each_image_by_sample_weight(fitted_heads, small_data):
    X, y, _ = small_data
    right = fitted_heads.predict(X) == y
    assert 0 < right.sum() < len(y)
    assert fitted_heads.score(X, y, sample_weight=right.astype(float)) == 1.0
    assert fitted_heads.score(X, y, sample_weight=(~right).astype(float)) == 0.0
    weights = np.linspace(0.1, 2, len(y))
    assert fitted_heads.score(X, y, sample_weight=weights) == pytest.approx(np.average(right, weights=weights))


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.slow
def test_synthetic_weight_reaches_the_loss_and_changes_training(estimator, small_data):
    X, y, _ = small_data
    fits = {}
    for weight in (0.0, 1.0):
        clf = estimator(**FAST, synthetic=SyntheticDigitsGenerator(random_state=0), n_synthetic=32,
                        synthetic_weight=weight, train_split=None)
        fits[weight] = clf.fit(X, y)
        assert clf.criterion_.synthetic_weight == weight
    assert any(not torch.equal(a, b) for a, b in zip(fits[0.0].module_.parameters(), fits[1.0].module_.parameters()))


@pytest.mark.slow  # builds a ResNet
def test_pretrained_file_reaches_the_estimators_network(tmp_path):
    from sk_digitsum.nn import make_resnet

    source = make_resnet(18)
    torch.save(source.state_dict(), tmp_path / "trunk.pt")
    clf = DigitSumClassifier(backbone="resnet", depth=18, pretrained=str(tmp_path / "trunk.pt")).initialize()
    for key, value in source.state_dict().items():
        torch.testing.assert_close(clf.module_.backbone.state_dict()[key], value)


def test_digits_are_read_left_to_right(small_data):
    X, y, _ = small_data
    clf = DigitHeadsClassifier(**FAST).fit(X, y)
    # The heads now read digit i at position i, whatever the image.
    clf.module_.heads.forward = lambda features: 100 * torch.eye(4, 10).expand(len(features), 4, 10)
    np.testing.assert_array_equal(clf.predict_digits(X[:5]), np.tile([0, 1, 2, 3], (5, 1)))
    np.testing.assert_array_equal(clf.predict_digit_proba(X[:5]).argmax(axis=2), clf.predict_digits(X[:5]))


def test_the_default_print_log_is_the_terminal_aware_one():
    from sk_digitsum.callbacks import PrintLog

    assert isinstance(dict(DigitHeadsClassifier().get_default_callbacks())["print_log"], PrintLog)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_flattened_images_train_and_predict_as_the_images_themselves(estimator, small_data):
    X, y, _ = small_data
    images = estimator(**FAST, module__width=8).fit(X, y)
    rows = estimator(**FAST, module__width=8).fit(X.reshape(len(X), -1), y)
    np.testing.assert_array_equal(rows.predict_proba(X.reshape(len(X), -1)), images.predict_proba(X))
    np.testing.assert_array_equal(rows.predict_proba(X), images.predict_proba(X))
    assert rows.image_shape_ == (28, 112) and rows.n_features_in_ == 28 * 112
    # A stack of images has no feature axis: X.shape[1] is a height, which n_features_in_ would contradict.
    assert not hasattr(images, "n_features_in_")
    rows.fit(X, y)
    assert not hasattr(rows, "n_features_in_")


def test_flattened_images_of_another_shape_need_image_shape(small_data):
    X, y, digits = small_data
    two_digits, sums = X[:, :, :56], digits[:, :2].sum(axis=1)
    tall = np.concatenate([two_digits, two_digits], axis=1)  # 56 x 56: two rows of two digits
    rows = tall.reshape(len(tall), -1)
    with pytest.raises(ValueError, match=r"rows of 3136 pixels, which cannot be images of 28x56"):
        DigitSumClassifier(n_digits=2, **FAST).fit(rows, sums)
    clf = DigitSumClassifier(n_digits=2, image_shape=(56, 56), module__width=8, **FAST).fit(rows, sums)
    assert clf.image_shape_ == (56, 56)
    np.testing.assert_array_equal(clf.predict_proba(rows), clf.predict_proba(tall))


def test_unlabelled_images_are_no_class_and_are_not_scored(small_data):
    X, y, digits = small_data
    partial = y.copy()
    partial[::2] = -1
    clf = DigitSumClassifier(**FAST, module__width=8).fit(X, partial)
    np.testing.assert_array_equal(clf.classes_, np.unique(y[1::2]))
    assert clf.score(X, partial) == clf.score(X[1::2], y[1::2])
    unlabelled_rows = digits.copy()
    unlabelled_rows[::2] = -1
    assert clf.score(X, unlabelled_rows) == clf.score(X[1::2], y[1::2])
    assert np.isfinite(clf.history_[-1, "valid_acc"])
    with pytest.raises(ValueError, match="score needs images with their sums"):
        clf.score(X, np.full(len(X), -1))
    clf.partial_fit(X, partial)  # training on, with the unlabelled images still in
    assert len(clf.history_) == 2


@pytest.mark.slow
def test_unlabelled_images_alone_learn_beside_a_synthetic_source(small_data, bank):
    X, y, _ = small_data
    generator = SyntheticDigitsGenerator(random_state=0, verbose=0).fit(*bank)
    clf = DigitHeadsClassifier(synthetic=generator, n_synthetic=64, module__width=8, **FAST)
    clf.fit(X, np.full(len(X), -1))
    np.testing.assert_array_equal(clf.classes_, np.arange(37))  # the synthetic digits label every sum
    assert clf.predict(X).shape == (len(X),)
    # No real image can be scored, so the default split holds none out: every one trains.
    assert not {"valid_loss", "valid_acc"} & clf.history_[-1].keys()


def test_the_teacher_is_the_moving_average_reading_unaugmented_images(small_data):
    X, _, _ = small_data
    clf = DigitHeadsClassifier(**FAST, module__width=8).initialize()
    clf.module_.train()
    average = copy.deepcopy(clf.module_).train()
    with torch.no_grad():
        for parameter in average.parameters():
            parameter.add_(0.1)
    ema = dict(clf.callbacks_)["ema"]
    ema.average_ = average
    unlabelled = torch.tensor([True, False, True, False])
    read = clf._teacher_outputs(torch.from_numpy(X[:4]), unlabelled)
    # The same forward pass in eval mode, under the same precision policy: no augmentation, no dropout.
    with torch.no_grad():
        expected = copy.deepcopy(average).eval()(torch.from_numpy(X[:4][[0, 2]]))
    torch.testing.assert_close(read[[0, 2]], expected, rtol=0, atol=0)
    assert not read[[1, 3]].any(), "labelled rows hold zeros"
    assert clf.module_.training and average.training, "the modes are left as they were"
    ema.average_ = None  # without EMA the teacher is the network itself
    read = clf._teacher_outputs(torch.from_numpy(X[:4]), unlabelled)
    with torch.no_grad():
        torch.testing.assert_close(read[[0, 2]], clf.module_.eval()(torch.from_numpy(X[:4][[0, 2]])), rtol=0, atol=0)


@pytest.fixture(scope="module")
def free_layout(bank):
    """One to three digits anywhere on 28x84 images."""
    return make_digit_sums(*bank, n_samples=96, n_digits=(1, 3), random_state=0)


@pytest.fixture(scope="module")
def fitted_reader(free_layout):
    X, y, _ = free_layout
    return DigitHeadsClassifier(max_digits=3, **FAST).fit(X, y)


def test_a_reader_of_digits_anywhere_predicts_sums_and_reads_digits_left_to_right(fitted_reader, free_layout):
    from sk_digitsum.nn import DigitReaderNet

    X, y, digits = free_layout
    assert isinstance(fitted_reader.module_, DigitReaderNet) and fitted_reader.image_shape_ == (28, 84)
    proba = fitted_reader.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(fitted_reader.predict(X), fitted_reader.classes_[proba.argmax(axis=1)])
    read, centres = fitted_reader.read_digits(X)
    assert read.shape == centres.shape == (96, 3)
    np.testing.assert_array_equal(fitted_reader.predict_digits(X), read)
    present = read >= 0
    assert not (present[:, 1:] & ~present[:, :-1]).any()  # digits first, then -1
    assert (np.isnan(centres) == ~present).all() and ((centres[present] > 0) & (centres[present] < 84)).all()
    later = present[:, 1:]
    assert (centres[:, 1:][later] > centres[:, :-1][later]).all()  # left to right
    assert fitted_reader.score(X, digits) == fitted_reader.score(X, y)
    with pytest.raises(AttributeError, match="sit anywhere"):
        fitted_reader.predict_digit_proba(X)


def test_a_reader_learns_from_digit_rows_sums_and_unlabelled_images_in_one_fit(free_layout):
    X, y, digits = free_layout
    labels = digits.copy()
    labels[::3] = -1  # unlabelled
    clf = DigitHeadsClassifier(max_digits=3, **FAST).fit(X, labels)
    assert np.isfinite(clf.history_[:, "train_loss"]).all()
    wrong = digits.copy()
    wrong[0] = [-1, 3, -1]
    with pytest.raises(ValueError, match="left to right, then -1 past the last"):
        DigitHeadsClassifier(max_digits=3, **FAST).fit(X, wrong)
    with pytest.raises(ValueError, match=r"0\.\.27"):
        DigitHeadsClassifier(max_digits=3, **FAST).fit(X, np.full(len(X), 30))


@pytest.mark.slow
def test_a_reader_learns_sums_of_digits_anywhere_from_sums_alone(bank_split):
    train, test = bank_split
    X, y, _ = make_digit_sums(*train, 4000, n_digits=(1, 2), width=70, random_state=0)
    X_test, y_test, _ = make_digit_sums(*test, 400, n_digits=(1, 2), width=70, random_state=1)
    clf = DigitHeadsClassifier(max_digits=2, max_epochs=12, verbose=0, random_state=0).fit(X, y)
    assert clf.score(X_test, y_test) > 0.75  # chance: about 0.1


def test_the_sum_classifier_reads_sums_of_up_to_max_digits(free_layout):
    X, y, _ = free_layout
    clf = DigitSumClassifier(max_digits=3, classes=range(28), **FAST).fit(X, y)
    assert clf.predict_proba(X).shape == (96, 28) and clf.module_.head.classifier[-1].out_features == 28


def test_a_reader_round_trips_through_the_safe_format_joblib_and_clone(fitted_reader, free_layout, tmp_path):
    X = free_layout[0]
    fitted_reader.save(tmp_path / "reader.pt")
    loaded = DigitHeadsClassifier.load(tmp_path / "reader.pt")
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted_reader.predict_proba(X))
    joblib.dump(fitted_reader, tmp_path / "reader.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "reader.joblib").read_digits(X)[0],
                                  fitted_reader.read_digits(X)[0])
    assert clone(fitted_reader).get_params()["max_digits"] == 3


def test_a_reader_trains_on_synthetic_digits_of_its_layout(free_layout):
    X, y, _ = free_layout
    matching = SyntheticDigitsGenerator(n_digits=(1, 3), verbose=0)
    clf = DigitHeadsClassifier(max_digits=3, synthetic=matching, n_synthetic=64, **FAST).fit(X, y)
    assert clf.synthetic_.image_shape == (28, 84)
    with pytest.raises(ValueError, match="up to 4 digits but X holds 28x84 images of up to 3"):
        DigitHeadsClassifier(max_digits=3, synthetic=SyntheticDigitsGenerator(), **FAST).fit(X, y)
