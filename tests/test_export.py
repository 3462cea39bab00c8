"""ONNX export: the same answers as the estimators, from a file that predicts without torch."""

import json

import numpy as np
import pytest

from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier, __version__
from sk_digitsum.datasets import load_digit_bank, make_digit_sums

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
pytest.importorskip("onnxruntime")
from sk_digitsum.runtime import OnnxPredictor  # noqa: E402

# Float32 on both sides: the export runs in float32 whatever mixed_precision says.
SMALL = dict(max_epochs=1, verbose=0, random_state=0, mixed_precision="no")


@pytest.fixture(scope="module")
def images():
    X, y, digits = make_digit_sums(*load_digit_bank(), n_samples=96, random_state=0)
    X_new, y_new, digits_new = make_digit_sums(*load_digit_bank(subset="test"), n_samples=200, random_state=1)
    return X, y, X_new, y_new, digits_new


@pytest.mark.parametrize("estimator", [DigitHeadsClassifier, DigitSumClassifier])
@pytest.mark.parametrize("backbone", [
    dict(module__width=8),
    dict(backbone="convnet"),
    pytest.param(dict(backbone="resnet", depth=18), marks=pytest.mark.slow),  # builds and exports a ResNet
], ids=["digitnet", "convnet", "resnet18"])
def test_the_exported_model_answers_as_the_estimator(estimator, backbone, images, tmp_path):
    X, y, X_new, y_new, _ = images
    clf = estimator(**SMALL, **backbone).fit(X, y)
    predictor = OnnxPredictor(clf.to_onnx(tmp_path / "model.onnx"))
    np.testing.assert_allclose(predictor.predict_proba(X_new), clf.predict_proba(X_new), atol=1e-4, rtol=0)
    np.testing.assert_array_equal(predictor.predict(X_new), clf.predict(X_new))
    assert predictor.score(X_new, y_new) == clf.score(X_new, y_new)
    if estimator is DigitHeadsClassifier:
        np.testing.assert_allclose(predictor.predict_digit_proba(X_new), clf.predict_digit_proba(X_new), atol=1e-4)
        np.testing.assert_array_equal(predictor.predict_digits(X_new), clf.predict_digits(X_new))
    else:
        with pytest.raises(AttributeError, match="only DigitHeadsClassifier reads digits"):
            predictor.predict_digits(X_new)


def test_the_graph_takes_uint8_images_of_any_batch_and_its_metadata_say_what_prediction_needs(images, tmp_path):
    X, y, *_ = images
    clf = DigitHeadsClassifier(**SMALL, module__width=8, classes=np.arange(0, 37, 2)).fit(X, y)
    path = clf.to_onnx(tmp_path / "model.onnx")
    model = onnx.load(path)
    (graph_input,) = model.graph.input
    shape = [d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim]
    assert graph_input.name == "images" and graph_input.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert isinstance(shape[0], str) and shape[1:] == [28, 112]  # the batch is free
    assert [output.name for output in model.graph.output] == ["sum_proba", "digit_proba"]
    metadata = {entry.key: json.loads(entry.value) for entry in model.metadata_props}
    assert metadata == {"classes": list(range(0, 37, 2)), "image_shape": [28, 112], "n_digits": 4,
                        "max_digits": None, "estimator": "DigitHeadsClassifier", "version": __version__}
    predictor = OnnxPredictor(path)
    for n in (1, 37, 1025):  # one image, and more than a session call takes at once
        batch = np.resize(X, (n, 28, 112))
        assert predictor.predict_proba(batch).shape == (n, 19)
    np.testing.assert_array_equal(predictor.predict(X / 255.0), predictor.predict(X))  # floats, rounded to uint8


def test_export_leaves_the_estimator_as_it_was(images, tmp_path):
    X, y, *_ = images
    clf = DigitHeadsClassifier(**{**SMALL, "mixed_precision": "auto"}, module__width=8).fit(X, y)
    before = clf.predict_proba(X)
    clf.to_onnx(tmp_path / "model.onnx")
    assert clf.module_.mixed_precision == "auto" and next(clf.module_.parameters()).device.type == clf.device_
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_an_onnx_file_of_something_else_is_refused_with_the_way_to_make_one(tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "other",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph), tmp_path / "other.onnx")
    with pytest.raises(ValueError, match=r"not one sk_digitsum exported .*clf.to_onnx\(path\)"):
        OnnxPredictor(tmp_path / "other.onnx")


@pytest.mark.parametrize("backbone", [
    dict(module__width=8),
    pytest.param(dict(backbone="resnet", depth=18), marks=pytest.mark.slow),
], ids=["digitnet", "resnet18"])
def test_a_reader_of_digits_anywhere_exports_its_sums_and_readings(backbone, tmp_path):
    X, y, digits = make_digit_sums(*load_digit_bank(), n_samples=96, n_digits=(1, 3), random_state=0)
    X_new, y_new, _ = make_digit_sums(*load_digit_bank(subset="test"), n_samples=100, n_digits=(1, 3),
                                      random_state=1)
    clf = DigitHeadsClassifier(max_digits=3, **SMALL, **backbone).fit(X, digits)
    predictor = OnnxPredictor(clf.to_onnx(tmp_path / "model.onnx"))
    assert (predictor.max_digits, predictor.n_digits) == (3, 3)
    np.testing.assert_allclose(predictor.predict_proba(X_new), clf.predict_proba(X_new), atol=1e-4, rtol=0)
    np.testing.assert_array_equal(predictor.predict(X_new), clf.predict(X_new))
    assert predictor.score(X_new, y_new) == clf.score(X_new, y_new)
    for ours, theirs in zip(predictor.read_digits(X_new), clf.read_digits(X_new)):
        np.testing.assert_array_equal(ours, theirs)


def test_an_unfitted_estimator_is_not_exported(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        DigitHeadsClassifier().to_onnx(tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()
