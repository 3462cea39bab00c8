"""Model files: the safe format across versions, and pickles of earlier versions."""

import subprocess
import sys
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest

from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier
from sk_digitsum.datasets import make_digit_sums

DATA = Path(__file__).resolve().parent / "data"
FAST = dict(max_epochs=1, verbose=0, random_state=0)


@pytest.fixture(scope="module")
def images_of_0_3(bank):
    """The images the 0.3 models in tests/data predicted (tests/data/make_0.3_models.py)."""
    X, y, _ = make_digit_sums(*bank, n_samples=32, random_state=0)
    return X, y, np.load(DATA / "heads_0.3_proba.npy")


def test_safe_file_of_0_3_loads_and_predicts_every_sum_as_it_did(images_of_0_3):
    X, _, proba = images_of_0_3
    loaded = DigitHeadsClassifier.load(DATA / "heads_0.3.pt")
    np.testing.assert_array_equal(loaded.classes_, np.arange(37))
    np.testing.assert_allclose(loaded.predict_proba(X), proba, rtol=1e-5, atol=1e-6)


def test_pickle_of_0_3_loads_predicts_as_it_did_and_trains_on(images_of_0_3):
    X, y, proba = images_of_0_3
    loaded = joblib.load(DATA / "heads_0.3.joblib")
    assert loaded.device == "auto" and loaded.image_shape_ == (28, 112) and loaded.n_features_in_ == 28 * 112
    np.testing.assert_allclose(loaded.predict_proba(X), proba, rtol=1e-5, atol=1e-6)
    with pytest.warns(FutureWarning, match="validation_fraction is deprecated"):
        loaded.partial_fit(X, y)  # with the callbacks it was pickled with
    assert len(loaded.history_) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        loaded.fit(X, y)  # re-initialised with this version's callbacks
    np.testing.assert_array_equal(loaded.classes_, np.unique(y))


@pytest.mark.parametrize("estimator", [DigitHeadsClassifier, DigitSumClassifier])
@pytest.mark.parametrize("classes", [None, range(37), np.arange(40, -1, -2)])
def test_safe_format_keeps_the_sums_the_model_predicts(estimator, classes, small_data, tmp_path):
    X, y, _ = small_data
    clf = estimator(**FAST, n_digits=5, classes=classes).fit(X, y)  # 5-digit sums: 0..45
    expected = np.unique(y) if classes is None else np.asarray(classes)
    np.testing.assert_array_equal(clf.classes_, expected)
    clf.save(tmp_path / "model.pt")
    loaded = estimator.load(tmp_path / "model.pt")
    np.testing.assert_array_equal(loaded.classes_, expected)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_a_clone_saves_without_warnings_about_default_objects(small_data, tmp_path):
    from sklearn.base import clone

    X, y, _ = small_data
    clf = clone(DigitSumClassifier(**FAST)).fit(X, y)  # holds copies of the default train_split and optimizer
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.save(tmp_path / "model.pt")


@pytest.mark.parametrize("estimator", [DigitHeadsClassifier, DigitSumClassifier])
def test_load_model_without_an_expected_class_returns_the_saved_class(estimator, small_data, tmp_path):
    from sk_digitsum.persistence import load_model, save_model

    X, y, _ = small_data
    fitted = estimator(**FAST).fit(X, y)
    save_model(fitted, tmp_path / "model.pt")
    loaded = load_model(tmp_path / "model.pt")
    assert type(loaded) is estimator and loaded.get_params()["max_epochs"] == 1
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    other = DigitSumClassifier if estimator is DigitHeadsClassifier else DigitHeadsClassifier
    with pytest.raises(ValueError, match=f"holds a {estimator.__name__}, not {other.__name__}"):
        load_model(tmp_path / "model.pt", expected_class=other)


@pytest.mark.slow  # a fresh interpreter imports torch: seconds
def test_a_fresh_process_loads_a_model_file_through_persistence_alone(fitted_heads, small_data, tmp_path):
    # Nothing but the persistence module imported first: the estimator classes must still be known.
    fitted_heads.save(tmp_path / "m.pt")
    code = ("import sys, numpy as np\n"
            "from sk_digitsum.persistence import load_model\n"
            f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
            f"print(load_model({str(tmp_path / 'm.pt')!r}).predict(X).tolist())")
    np.save(tmp_path / "X.npy", small_data[0][:5])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == str(fitted_heads.predict(small_data[0][:5]).tolist())


def test_a_subclass_is_saved_as_its_registered_base_until_it_registers_itself(fitted_heads, small_data, tmp_path):
    from sk_digitsum import persistence

    class MyHeads(DigitHeadsClassifier):
        pass

    assert persistence.saved_class(MyHeads()) is DigitHeadsClassifier
    mine = MyHeads(max_epochs=1, verbose=0, random_state=0).fit(*small_data[:2])
    mine.save(tmp_path / "base.pt")
    assert type(persistence.load_model(tmp_path / "base.pt")) is DigitHeadsClassifier
    try:
        persistence.register_estimator(MyHeads)
        assert persistence.saved_class(mine) is MyHeads
        mine.save(tmp_path / "mine.pt")
        loaded = MyHeads.load(tmp_path / "mine.pt")
        assert type(loaded) is MyHeads
        np.testing.assert_allclose(loaded.predict_proba(small_data[0]), mine.predict_proba(small_data[0]), atol=1e-6)
    finally:
        persistence._ESTIMATORS.pop("MyHeads", None)
