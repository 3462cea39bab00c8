"""Prediction without torch: the ONNX predictor and the command line read exported models with ONNX Runtime alone."""

import subprocess
import sys

import numpy as np
import pytest

from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier
from sk_digitsum.__main__ import main

pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
pytest.importorskip("onnxruntime")

# What a deployment without the training stack lacks: importing any of these fails in the process.
WITHOUT_TRAINING_STACK = "import sys\nfor name in ('torch', 'skorch', 'sklearn'):\n    sys.modules[name] = None\n"


@pytest.fixture(scope="module")
def exported(tmp_path_factory, small_data):
    X, y, digits = small_data
    folder = tmp_path_factory.mktemp("onnx")
    for estimator in (DigitHeadsClassifier, DigitSumClassifier):
        clf = estimator(max_epochs=1, verbose=0, random_state=0, module__width=8, mixed_precision="no").fit(X, y)
        clf.save(folder / f"{estimator.__name__}.pt")
        main(["export", "--model", str(folder / f"{estimator.__name__}.pt"),
              "--out", str(folder / f"{estimator.__name__}.onnx")])
        np.save(folder / f"{estimator.__name__}_proba.npy", clf.predict_proba(X))
    np.save(folder / "X.npy", X)
    np.savez(folder / "labelled.npz", X=X, y=y)
    np.savez(folder / "calibration.npz", X=X[:48], y=digits[:48])  # digit rows: their sums calibrate
    return folder


def _run_without_training_stack(code):
    result = subprocess.run([sys.executable, "-c", WITHOUT_TRAINING_STACK + code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow  # fresh interpreters
@pytest.mark.parametrize("name", ["DigitHeadsClassifier", "DigitSumClassifier"])
def test_the_predictor_predicts_where_torch_skorch_and_scikit_learn_cannot_be_imported(exported, name):
    out = _run_without_training_stack(
        "import numpy as np\n"
        "from sk_digitsum.runtime import OnnxPredictor\n"
        f"predictor = OnnxPredictor({str(exported / (name + '.onnx'))!r})\n"
        f"proba = predictor.predict_proba(np.load({str(exported / 'X.npy')!r}))\n"
        f"np.save({str(exported / (name + '_onnx.npy'))!r}, proba)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'skorch', 'sklearn') "
        "and sys.modules[m] is not None))\n")
    assert out.strip() == "[]"
    np.testing.assert_allclose(np.load(exported / f"{name}_onnx.npy"), np.load(exported / f"{name}_proba.npy"),
                               atol=1e-4)


@pytest.mark.slow  # a fresh interpreter
def test_the_command_line_predicts_from_an_onnx_model_without_the_training_stack(exported, capsys):
    out = _run_without_training_stack(
        "from sk_digitsum.__main__ import main\n"
        f"main(['predict', '--model', {str(exported / 'DigitHeadsClassifier.onnx')!r}, "
        f"'--data', {str(exported / 'labelled.npz')!r}])\n")
    main(["predict", "--model", str(exported / "DigitHeadsClassifier.pt"), "--data", str(exported / "labelled.npz")])
    assert out == capsys.readouterr().out


def test_evaluate_reads_an_onnx_model_as_it_reads_the_model_it_came_from(exported, capsys):
    scores = []
    for suffix in (".pt", ".onnx"):
        main(["evaluate", "--model", str(exported / f"DigitSumClassifier{suffix}"),
              "--data", str(exported / "labelled.npz")])
        scores.append(capsys.readouterr().out)
    assert scores[0] == scores[1] and scores[0].startswith("Sum accuracy on 64 images: ")


@pytest.mark.parametrize("suffix", [".pt", ".onnx"])
def test_calibrated_predictions_give_each_image_its_possible_sums_and_a_review_flag(exported, capsys, suffix):
    main(["predict", "--model", str(exported / f"DigitHeadsClassifier{suffix}"), "--data",
          str(exported / "labelled.npz"), "--calibration", str(exported / "calibration.npz"), "--confidence", "0.9"])
    rows = [line.split(",") for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == ["image", "sum", "possible_sums", "review"] and len(rows) == 65
    for _, total, possible, review in rows[1:]:
        sums = [int(value) for value in possible.split()]
        assert review == ("no" if len(sums) == 1 else "yes")
        assert sums == sorted(sums) and (len(sums) == 0 or int(total) in sums or review == "yes")
    assert any(row[3] == "yes" for row in rows[1:]), "a one-epoch model is unsure of some sum"


def test_export_and_calibration_mistakes_are_one_line_errors(exported, capsys, tmp_path):
    np.savez(tmp_path / "unlabelled.npz", X=np.load(exported / "X.npy"))
    for args, message in [
        (["export", "--model", str(exported / "DigitSumClassifier.onnx"), "--out", "x.onnx"], "is an ONNX model already"),
        (["export", "--model", str(exported / "DigitSumClassifier.pt"), "--out", "x.pt"], "end the name in .onnx"),
        (["predict", "--model", str(exported / "DigitSumClassifier.onnx"), "--data", str(exported / "labelled.npz"),
          "--calibration", str(tmp_path / "unlabelled.npz")], "has no labels: calibration needs"),
        (["predict", "--model", str(exported / "DigitSumClassifier.onnx"), "--data", str(exported / "labelled.npz"),
          "--calibration", str(exported / "calibration.npz"), "--confidence", "1.5"], "strictly between 0 and 1"),
        (["predict", "--model", str(exported / "labelled.npz"), "--data", str(exported / "labelled.npz")],
         "not an sk_digitsum model file"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and err.count("\n") == 1 and message in err, (args, err)
