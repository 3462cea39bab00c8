"""Model files of earlier versions (tests/data, written by tests/data/make_models.py) load and predict as they did."""

import pickle
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest

from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier
from sk_digitsum.callbacks import EMA

DATA = Path(__file__).resolve().parent / "data"
VERSIONS = ["0.3", "0.4", "0.5"]
ESTIMATORS = {"heads": DigitHeadsClassifier, "sum": DigitSumClassifier}


@pytest.fixture(scope="module")
def images(bank):
    """The 32 images each version predicted when it wrote its files."""
    from sk_digitsum.datasets import make_digit_sums

    return make_digit_sums(*bank, n_samples=32, random_state=0)[:2]


def _expected(name, version):
    return np.load(DATA / f"{name}_{version}_proba.npy")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", ESTIMATORS)
def test_safe_files_load_and_predict_as_they_did(images, name, version):
    loaded = ESTIMATORS[name].load(DATA / f"{name}_{version}.pt").set_params(mixed_precision="no")
    np.testing.assert_allclose(loaded.predict_proba(images[0]), _expected(name, version), rtol=1e-5, atol=1e-6)
    # Files before format 3 predict every sum; later ones the sums seen in fit.
    expected_classes = np.arange(37) if version == "0.3" else np.unique(images[1])
    np.testing.assert_array_equal(loaded.classes_, expected_classes)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", ESTIMATORS)
def test_pickles_load_predict_as_they_did_and_train_on(images, name, version):
    X, y = images
    loaded = joblib.load(DATA / f"{name}_{version}.joblib")
    assert loaded.device == "auto" and loaded.image_shape_ == (28, 112) and loaded.n_features_in_ == 28 * 112
    assert loaded.mixed_precision == "auto"
    loaded.set_params(mixed_precision="no")
    np.testing.assert_allclose(loaded.predict_proba(X), _expected(name, version), rtol=1e-5, atol=1e-6)
    before = loaded.predict_proba(X)
    with warnings.catch_warnings():
        # 0.3 set validation_fraction, deprecated since (the test below)
        warnings.simplefilter("ignore", FutureWarning)
        loaded.partial_fit(X, y)  # with the callbacks it was pickled with
    assert len(loaded.history_) == 2 and not np.array_equal(loaded.predict_proba(X), before)
    ema = next(callback for _, callback in loaded.callbacks_ if isinstance(callback, EMA))
    assert ema.warmup and ema.average_ is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        loaded.fit(X, y)  # re-initialised with this version's callbacks
    np.testing.assert_array_equal(loaded.classes_, np.unique(y))
    assert pickle.loads(pickle.dumps(loaded)).predict(X).shape == (32,)


def test_a_pickle_of_0_3_warns_of_its_deprecated_validation_fraction(images):
    loaded = joblib.load(DATA / "heads_0.3.joblib")
    with pytest.warns(FutureWarning, match="validation_fraction is deprecated"):
        loaded.partial_fit(*images)


def test_names_of_removed_modules_resolve_and_others_do_not():
    import importlib

    from sk_digitsum import estimators
    from sk_digitsum.callbacks import labelled_sum_accuracy

    # As pickle resolves a name: import the module, then read the name from it.
    assert importlib.import_module("sk_digitsum._training").labelled_sum_accuracy is labelled_sum_accuracy
    assert estimators._sum_accuracy is labelled_sum_accuracy
    with pytest.raises(AttributeError, match="has no attribute 'anything_else'"):
        estimators.anything_else
