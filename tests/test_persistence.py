"""Model files: the safe format, and writes that leave the earlier file whole when they fail."""

import subprocess
import sys
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest

from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier
from sk_digitsum.datasets import make_digit_sums

FAST = dict(max_epochs=1, verbose=0, random_state=0)


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


class _RunsCode:
    """Pickles as a call of exec: unpickling it would create ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def test_the_safe_loader_refuses_a_file_that_would_run_code(fitted_heads, tmp_path):
    import torch

    path, marker = tmp_path / "model.pt", tmp_path / "code_ran"
    fitted_heads.save(path)
    payload = torch.load(path, weights_only=True)
    payload["history"] = _RunsCode(marker)
    torch.save(payload, path)
    with pytest.raises(ValueError, match="not an sk_digitsum model file, or it is damaged"):
        DigitHeadsClassifier.load(path)
    assert not marker.exists()


@pytest.mark.parametrize("estimator", [DigitHeadsClassifier, DigitSumClassifier])
def test_a_save_that_fails_half_way_leaves_the_earlier_file_whole(estimator, small_data, tmp_path, monkeypatch):
    import torch

    X, y, _ = small_data
    path = tmp_path / "model.pt"
    estimator(**FAST).fit(X, y).save(path)
    before = estimator.load(path).predict_proba(X)

    def dies_half_way(obj, file, *args, **kwargs):
        file.write(b"PK\x03\x04 the first bytes of a zip archive")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(OSError, match="No space left"):
        estimator(**{**FAST, "random_state": 1}).fit(X, y).save(path)
    monkeypatch.undo()
    np.testing.assert_array_equal(estimator.load(path).predict_proba(X), before)
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"], "no partial file is left behind"


def test_replacing_writes_text_and_leaves_no_trace_when_the_block_raises(tmp_path):
    from sk_digitsum.persistence import replacing

    path = tmp_path / "sums.csv"
    with replacing(path, "w") as file:
        file.write("image,sum\n")
    with pytest.raises(KeyboardInterrupt), replacing(path, "w") as file:
        file.write("half")
        raise KeyboardInterrupt
    assert path.read_text() == "image,sum\n" and len(list(tmp_path.iterdir())) == 1
