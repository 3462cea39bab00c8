import joblib
import numpy as np
import pytest
from PIL import Image

from sk_digitsum.__main__ import build_parser, main
from sk_digitsum.io import load_image_folder, load_images


@pytest.mark.slow
def test_train_evaluate_predict_roundtrip(tmp_path, small_data, capsys):
    X, y, _ = small_data
    data = tmp_path / "train.npz"
    np.savez(data, X=X, y=y)
    model = tmp_path / "model.joblib"
    main(["train", "--data", str(data), "--max-epochs", "1", "--verbose", "0", "--out", str(model)])
    assert "Saved the model" in capsys.readouterr().out
    clf = joblib.load(model)
    main(["evaluate", "--model", str(model), "--data", str(data)])
    assert f"Sum accuracy on 64 images: {clf.score(X, y):.4f}" in capsys.readouterr().out
    out = tmp_path / "pred.csv"
    main(["predict", "--model", str(model), "--data", str(data), "--out", str(out)])
    lines = out.read_text().splitlines()
    assert lines[0] == "image,sum" and [int(line.split(",")[1]) for line in lines[1:]] == clf.predict(X).tolist()


@pytest.mark.slow
def test_default_train_job_reports_held_out_accuracy(tmp_path, capsys):
    model = tmp_path / "m.joblib"
    main(["train", "--n-samples", "64", "--n-test", "32", "--max-epochs", "1", "--verbose", "0",
          "--out", str(model)])
    out = capsys.readouterr().out
    assert "Sum accuracy on 32 images of held-out digits" in out and model.is_file()


def test_help_describes_commands(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    for command in ("train", "evaluate", "predict"):
        assert command in out


def test_image_folder_is_read_in_name_order_and_inverted(tmp_path, small_data):
    X = small_data[0][:3]
    for index, image in enumerate(X):
        Image.fromarray(255 - image).save(tmp_path / f"img{index}.png")  # dark digits on white paper
    images, names = load_image_folder(tmp_path)
    assert names == ["img0.png", "img1.png", "img2.png"]
    np.testing.assert_array_equal(images, X)
    loaded, labels, _ = load_images(tmp_path)
    assert labels is None and loaded.shape == (3, 28, 112)


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No image files"):
        load_image_folder(tmp_path)
    Image.fromarray(np.zeros((28, 56), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((28, 84), np.uint8)).save(tmp_path / "b.png")
    with pytest.raises(ValueError, match="differ in size"):
        load_image_folder(tmp_path)
    with pytest.raises(ValueError, match="neither a folder"):
        load_images(tmp_path / "a.png")


@pytest.mark.slow
def test_train_options_reach_the_estimator_and_predict_reads_a_folder(tmp_path, small_data, capsys):
    X, y, _ = small_data
    data = tmp_path / "train.npz"
    np.savez(data, X=X, y=y)
    models = {}
    for seed in (0, 0, 1):
        path = tmp_path / f"sum{len(models)}.joblib"
        main(["train", "--data", str(data), "--estimator", "sum", "--device", "cpu", "--random-state", str(seed),
              "--max-epochs", "1", "--verbose", "0", "--out", str(path)])
        models[path] = joblib.load(path)
    first, again, other = models.values()
    assert type(first).__name__ == "DigitSumClassifier"
    assert (first.device, first.device_, first.random_state, other.random_state) == ("cpu", "cpu", 0, 1)
    np.testing.assert_array_equal(first.predict_proba(X), again.predict_proba(X))
    assert not np.array_equal(first.predict_proba(X), other.predict_proba(X))

    folder = tmp_path / "scans"
    folder.mkdir()
    for index in (2, 0, 1):  # written out of order: rows follow the file names
        Image.fromarray(X[index]).save(folder / f"scan{index}.png")
    capsys.readouterr()
    main(["predict", "--model", str(tmp_path / "sum0.joblib"), "--data", str(folder)])
    rows = capsys.readouterr().out.splitlines()
    expected = first.predict(X[:3])
    assert rows[0] == "image,sum" and rows[1:] == [f"scan{index}.png,{expected[index]}" for index in range(3)]
