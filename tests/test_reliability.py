"""Bad input gets a clear error before any training; nothing fitted is lost; safe loading."""

import json
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.exceptions import NotFittedError

from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier, SyntheticDigitsGenerator
from sk_digitsum.callbacks import EMA

FAST = dict(max_epochs=1, verbose=0, random_state=0)


def _images(n=8, height=28, width=112, dtype=np.uint8):
    return np.random.RandomState(0).randint(0, 256, size=(n, height, width)).astype(dtype)


GOOD_Y = np.arange(8) * 4


@pytest.mark.parametrize("X, error, message", [
    (_images(width=84).reshape(8, -1), ValueError, r"rows of 2352 pixels, which cannot be images of 28x112.*image_shape"),
    (np.repeat(_images()[..., None], 3, axis=3), ValueError, "colour images with the channel last"),
    (_images()[:, None].repeat(3, axis=1), ValueError, "one channel"),
    (_images()[0], ValueError, "cannot be images of 28x112"),
    (_images().astype(object), TypeError, "numeric array"),
    (np.full((8, 28, 112), "a"), TypeError, "numeric array"),
    (np.where(_images() > 128, np.nan, 0.5), ValueError, "NaN or infinite"),
    (np.full((8, 28, 112), np.inf), ValueError, "NaN or infinite"),
    (-_images(dtype=np.int64) - 1, ValueError, r"lie in 0-255"),
    (_images(dtype=np.int64) + 1000, ValueError, r"lie in 0-255"),
    (_images(dtype=np.float64), ValueError, r"lie in \[0, 1\].*Divide 0-255 images by 255"),
    (np.zeros((0, 28, 112), np.uint8), ValueError, "empty set of images"),
    (_images(height=20), ValueError, "smaller than one 28x28 digit"),
    (_images(width=27), ValueError, "smaller than one 28x28 digit"),
])
def test_bad_images_are_rejected_before_training(X, error, message):
    clf = DigitHeadsClassifier(**FAST)
    with pytest.raises(error, match=message):
        clf.fit(X, GOOD_Y)
    assert not hasattr(clf, "module_"), "validation must come before initialising the network"


@pytest.mark.parametrize("y, error, message", [
    (GOOD_Y[:5], ValueError, "8 images but y has 5 labels"),
    (np.full(8, 37), ValueError, r"Sum labels must lie in 0..36"),
    (np.full(8, -2), ValueError, r"Sum labels must lie in 0..36 for n_digits=4, or be -1"),
    (np.full(8, -1), ValueError, r"Every label is -1 \(unlabelled\): label some images, or pass synthetic="),
    (np.full((8, 4), -1), ValueError, r"Every label is -1"),
    (np.array([[1, 2, 3, 4]] * 7 + [[1, -1, 3, 4]]), ValueError, r"Row 7 of the digit labels mixes -1 with digits"),
    (GOOD_Y + 0.5, ValueError, "whole numbers"),
    (np.array(list("abcdefgh")), TypeError, "must be integers"),
    (np.full((8, 4), 10), ValueError, r"Digit labels must lie in 0..9"),
    (np.zeros((8, 3), int), ValueError, "3 columns but n_digits=4"),
    (np.zeros((8, 4, 1), int), ValueError, r"must have shape \(n,\)"),
    (None, ValueError, "requires y to be passed"),
])
def test_bad_labels_are_rejected(y, error, message):
    with pytest.raises(error, match=message):
        DigitHeadsClassifier(**FAST).fit(_images(), y)


@pytest.mark.parametrize("params, error, message", [
    ({"ema_beta": 1.0}, ValueError, r"'ema_beta' parameter of DigitHeadsClassifier must be a float in the range "
                                    r"\[0.0, 1.0\) or None\. Got 1.0"),
    ({"ema_beta": -0.5}, ValueError, r"'ema_beta' parameter .* range \[0.0, 1.0\)"),
    ({"backbone": "resnet", "depth": 20}, ValueError, "no depth 20; choose from"),
    ({"backbone": "vgg"}, ValueError, r"'backbone' parameter .* must be a str among .*'resnet'.*Got 'vgg'"),
    ({"max_epochs": -1}, ValueError, r"'max_epochs' parameter .* an int in the range \[0, inf\)"),
    ({"batch_size": 0}, ValueError, r"'batch_size' parameter .* an int in the range \[1, inf\) or an? int among \{-1\}"),
    ({"lr": 0}, ValueError, r"'lr' parameter .* a float in the range \(0.0, inf\)"),
    ({"validation_fraction": 1.0}, ValueError, "validation_fraction"),
    ({"mixed_precision": "fp16"}, ValueError, r"'mixed_precision' parameter .* a str among .*'bf16'"),
    ({"n_digits": 0}, ValueError, r"'n_digits' parameter .* an int in the range \[1, inf\)"),
    ({"synthetic": "yes"}, TypeError, r"'synthetic' parameter .* an instance of .*SyntheticDigitsGenerator"),
    ({"augment": {"spin": 3}}, ValueError, "augment must be True, False or a dict"),
    ({"device": "tpu"}, ValueError, "device must be 'cpu', 'cuda'"),
    ({"image_shape": (28, 20)}, ValueError, r"image_shape must be a pair of numbers, both >= 28"),
    ({"classes": [0, 40]}, ValueError, r"classes must list distinct sums in 0..36"),
    ({"train_split": 0.2}, ValueError, r"'train_split' parameter .* a callable or None"),
])
def test_bad_parameters_are_rejected(params, error, message):
    with pytest.raises(error, match=message):
        DigitHeadsClassifier(**{**FAST, **params}).fit(_images(), GOOD_Y)


def test_predict_checks_size_and_fit_state(fitted_heads, small_data):
    with pytest.raises(NotFittedError):
        DigitSumClassifier().predict(_images())
    with pytest.raises(ValueError, match="28x84 pixels but the model was fitted on 28x112"):
        fitted_heads.predict(_images(width=84))


def test_generator_errors():
    with pytest.raises(NotFittedError):
        SyntheticDigitsGenerator().sample(2)
    with pytest.raises(ValueError, match="empty"):
        SyntheticDigitsGenerator().fit(np.zeros((0, 28, 28)), np.zeros(0, int))
    with pytest.raises(ValueError, match="no labels"):
        SyntheticDigitsGenerator().fit(np.zeros((2, 28, 28)), None)


def test_failed_fit_leaves_fitted_model_unchanged(small_data):
    X, y, _ = small_data
    clf = DigitHeadsClassifier(**FAST).fit(X, y)
    before = clf.predict_proba(X)
    for bad in [lambda: clf.fit(X / 100.0, y), lambda: clf.fit(X, y + 40),
                lambda: clf.set_params(ema_beta=2.0).fit(X, y)]:
        with pytest.raises(ValueError):
            bad()
    clf.set_params(ema_beta=0.99)
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert clf.image_shape_ == (28, 112)


def _ctrl_c_after(clf, n_batches):
    """Raise KeyboardInterrupt inside the network's forward pass, where a real Ctrl-C lands."""
    seen = []

    def hook(module, inputs, output):
        seen.append(1)
        if len(seen) == n_batches:
            raise KeyboardInterrupt

    clf.initialize()
    clf.module_.register_forward_hook(hook)
    return clf


def test_keyboard_interrupt_keeps_ema_weights_and_says_so(small_data, monkeypatch):
    X, y, _ = small_data
    copied = []
    original = EMA.on_train_end

    def record_copy(self, net, **kwargs):
        copied.append({name: tensor.clone() for name, tensor in self.average_.state_dict().items()})
        assert not self.in_network_, "interrupted in a training step: the network holds the live weights"
        original(self, net, **kwargs)

    monkeypatch.setattr(EMA, "on_train_end", record_copy)
    clf = _ctrl_c_after(DigitHeadsClassifier(max_epochs=5, batch_size=16, verbose=0, random_state=0,
                                             warm_start=True, train_split=None), n_batches=9)
    with pytest.warns(UserWarning, match="interrupted in epoch 3.*moving average"):
        clf.fit(X, y)  # 4 batches an epoch: the ninth is the first of the third epoch
    assert len(clf.history_) == 3
    for name, tensor in clf.module_.state_dict().items():
        torch.testing.assert_close(tensor, copied[0][name], msg=f"{name} is not the average")


def test_non_finite_loss_stops_with_advice(small_data):
    X, y, _ = small_data
    with pytest.raises(FloatingPointError, match=r"loss became (nan|inf).*Lower the learning rate"):
        DigitHeadsClassifier(lr=1e30, callbacks__gradient_clipping=None, max_epochs=3, verbose=0,
                             random_state=0).fit(X, y)


# -------------------------------------------------------------------- safe format
@pytest.mark.parametrize("estimator", [DigitHeadsClassifier, DigitSumClassifier])
def test_safe_format_roundtrip(estimator, small_data, tmp_path):
    X, y, _ = small_data
    clf = estimator(lr=2e-3, optimizer=torch.optim.Adam, augment={"rotation": 5.0}, **FAST).fit(X, y)
    clf.save(tmp_path / "model.pt")
    loaded = estimator.load(tmp_path / "model.pt")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.lr == 2e-3 and loaded.optimizer is torch.optim.Adam and loaded.augment == {"rotation": 5.0}
    assert len(loaded.history_) == 1
    torch.load(tmp_path / "model.pt", weights_only=True)  # no pickled code inside


def test_safe_format_keeps_generator_params(small_data, tmp_path):
    X, y, _ = small_data
    clf = DigitHeadsClassifier(synthetic=SyntheticDigitsGenerator(rotation=3.0), n_synthetic=8, **FAST).fit(X, y)
    clf.save(tmp_path / "m.pt")
    assert DigitHeadsClassifier.load(tmp_path / "m.pt").synthetic.rotation == 3.0


def test_safe_format_rejects_corrupt_and_mismatched_files(fitted_heads, small_data, tmp_path):
    path = tmp_path / "model.pt"
    fitted_heads.save(path)
    with pytest.raises(ValueError, match="holds a DigitHeadsClassifier, not DigitSumClassifier"):
        DigitSumClassifier.load(path)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="not an sk_digitsum model file, or it is damaged"):
        DigitHeadsClassifier.load(corrupt)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="not an sk_digitsum model file"):
        DigitHeadsClassifier.load(other)
    payload = torch.load(path, weights_only=True)
    payload["params"] = payload["params"].replace("{", '{"depth": 4, ', 1)
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(ValueError, match="do not fit a DigitHeadsClassifier"):
        DigitHeadsClassifier.load(tmp_path / "mismatch.pt")


def _rewrite(path, version, drop=()):
    payload = torch.load(path, weights_only=True)
    params = {k: v for k, v in json.loads(payload["params"]).items() if k not in drop}
    payload.update(version=version, params=json.dumps(params))
    torch.save(payload, path)


def test_version_1_files_load_with_the_network_they_were_saved_with(small_data, tmp_path):
    X, y, _ = small_data
    # What the first release built from default parameters: DigitNet depth 4 in 2 stages, no head dropout.
    first_release = DigitHeadsClassifier(**FAST, depth=4, module__stages=2, module__dropout=0.0).fit(X, y)
    path = tmp_path / "v1.pt"
    first_release.save(path)
    _rewrite(path, version=1, drop=("depth", "module__stages", "module__dropout"))
    loaded = DigitHeadsClassifier.load(path)
    assert (loaded.depth, loaded.module__stages, loaded.module__dropout) == (4, 2, 0.0)
    np.testing.assert_allclose(loaded.predict_proba(X), first_release.predict_proba(X), rtol=1e-5, atol=1e-6)
    _rewrite(path, version=7)
    with pytest.raises(ValueError, match="format version 7; this sk_digitsum reads 1 to 3"):
        DigitHeadsClassifier.load(path)


def test_pickle_files_are_refused_by_the_safe_loader(fitted_heads, tmp_path):
    import joblib

    joblib.dump(fitted_heads, tmp_path / "model.joblib")
    with pytest.raises(ValueError, match="not an sk_digitsum model file, or it is damaged"):
        DigitHeadsClassifier.load(tmp_path / "model.joblib")


@pytest.mark.skipif(torch.cuda.is_available(), reason="maps a missing GPU to the CPU")
def test_safe_format_saved_for_cuda_loads_on_cpu(fitted_heads, small_data, tmp_path):
    X = small_data[0]
    path = tmp_path / "gpu.pt"
    fitted_heads.save(path)
    payload = torch.load(path, weights_only=True)
    payload["params"] = payload["params"].replace("{", '{"device": "cuda", ', 1)
    torch.save(payload, path)
    with pytest.warns(UserWarning, match="not available here; loading it on the CPU"):
        loaded = DigitHeadsClassifier.load(path)
    assert loaded.device_ == "cpu"
    np.testing.assert_array_equal(loaded.predict(X), fitted_heads.predict(X))


# --------------------------------------------------------------- property-based
def _cast(values_and_dtype):
    values, dtype = values_and_dtype
    with np.errstate(invalid="ignore", over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return values.astype(dtype)


image_arrays = st.tuples(
    hnp.arrays(dtype=np.float64,
               shape=st.sampled_from([(3, 28, 56), (3, 1, 28, 56), (3, 28 * 56), (3, 28), (3, 28, 56, 3),
                                      (0, 28, 56), (3, 20, 56), (2, 3, 28, 56)]),
               elements=st.sampled_from([0.0, 0.5, 1.0, 7.0, 255.0, -1.0, 300.0, np.nan, np.inf])),
    st.sampled_from([np.uint8, np.int16, np.float32, np.float64, np.bool_, object]),
).map(_cast)
label_arrays = st.one_of(
    hnp.arrays(dtype=st.sampled_from([np.int64, np.float64]), shape=st.sampled_from([(3,), (3, 2), (2,), (3, 3)]),
               elements=st.integers(-3, 40)),
    st.none(),
)


def expected_errors(X, y, n_digits=2):
    """The messages the documented input contract calls for; empty where the input is valid."""
    errors = []
    if X.dtype == bool or X.dtype == object:
        errors.append("must be a numeric array")
    if X.ndim == 4 and X.shape[1] != 1:
        errors.append("colour images" if X.shape[-1] in (3, 4) else "must have one channel")
    elif X.ndim == 2 and X.shape[1] != 28 * 28 * n_digits:
        errors.append("cannot be images of")  # flattened rows are read as 28 x 28 * n_digits images
    elif len(X) == 0:
        errors.append("empty set of images")
    elif X.ndim > 2 and min(X.shape[-2:]) < 28:
        errors.append("smaller than one 28x28 digit")
    if X.dtype not in (bool, object, np.uint8) and X.size:
        if np.issubdtype(X.dtype, np.integer) and (X.min() < 0 or X.max() > 255):
            errors.append("Integer pixel values must lie in 0-255")
        if np.issubdtype(X.dtype, np.floating):
            if not np.isfinite(X).all():
                errors.append("NaN or infinite")
            elif X.min() < 0 or X.max() > 1:
                errors.append(r"Float pixel values must lie in \[0, 1\]")
    if y is None:
        errors.append("requires y to be passed")
    elif len(y) != len(X):
        errors.append("they must match")
    elif y.ndim == 1 and (y.min() < -1 or y.max() > 9 * n_digits):
        errors.append(f"Sum labels must lie in 0..{9 * n_digits}")
    elif y.ndim == 2 and y.shape[1] != n_digits:
        errors.append(f"columns but n_digits={n_digits}")
    elif y.ndim == 2 and (y.min() < -1 or y.max() > 9):
        errors.append("Digit labels must lie in 0..9")
    elif y.ndim == 2 and ((y == -1).any(axis=1) & ~(y == -1).all(axis=1)).any():
        errors.append("mixes -1 with digits")
    elif (y if y.ndim == 1 else y[:, 0]).max() < 0:  # -1 marks an unlabelled image; nothing to learn from
        errors.append("Every label is -1")
    return errors


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(X=image_arrays, y=label_arrays)
@example(X=np.full((3, 28, 56), 128, np.uint8), y=np.array([3, 18, 0]))  # both branches, whatever is drawn
@example(X=np.full((3, 28, 56), 0.5), y=np.array([[1, 2], [9, 9], [0, 0]]))
@example(X=np.full((3, 28, 56), 2.0), y=np.array([3, 18, 0]))
@example(X=np.full((3, 28 * 56), 0.5), y=np.array([3, 18, 0]))  # flattened images, read as 28 x 56
@example(X=np.full((3, 28, 56), 128, np.uint8), y=np.array([[1, 2], [-1, -1], [9, 9]]))  # one unlabelled image
def test_any_input_gives_a_result_or_the_contract_error(X, y):
    errors = expected_errors(X, y)
    event("valid" if not errors else f"invalid: {errors[0]}")
    clf = DigitHeadsClassifier(n_digits=2, max_epochs=1, verbose=0, random_state=0, train_split=None)
    if errors:
        with pytest.raises((ValueError, TypeError), match="|".join(errors)) as raised:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf.fit(X, y)
        assert type(raised.value).__module__ == "builtins" and not hasattr(clf, "module_")
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    sums = y if y.ndim == 1 else np.where(y[:, 0] < 0, -1, y.sum(axis=1))
    np.testing.assert_array_equal(clf.classes_, np.unique(sums[sums >= 0]))  # -1: unlabelled, no class
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(clf.classes_)) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
