import subprocess
import sys

import joblib
import numpy as np
import pytest
from PIL import Image

import sk_digitsum
from sk_digitsum.__main__ import _default_sets, _prog, build_parser, main
from sk_digitsum.io import load_image_folder, load_images
from sk_digitsum.persistence import load_model


@pytest.mark.slow
@pytest.mark.parametrize("name, read", [("model.pt", load_model), ("model.joblib", joblib.load)])
def test_train_evaluate_predict_roundtrip_in_the_format_the_extension_names(tmp_path, small_data, capsys,
                                                                             name, read):
    X, y, _ = small_data
    data = tmp_path / "train.npz"
    np.savez(data, X=X, y=y)
    model = tmp_path / name
    main(["train", "--data", str(data), "--max-epochs", "1", "--verbose", "0", "--out", str(model)])
    assert "Saved the model" in capsys.readouterr().out
    clf = read(model)  # load_model refuses a pickle, joblib a torch archive: the format is the named one
    main(["evaluate", "--model", str(model), "--data", str(data)])
    assert f"Sum accuracy on 64 images: {clf.score(X, y):.4f}" in capsys.readouterr().out
    out = tmp_path / "pred.csv"
    main(["predict", "--model", str(model), "--data", str(data), "--out", str(out)])
    lines = out.read_text().splitlines()
    assert lines[0] == "image,sum" and [int(line.split(",")[1]) for line in lines[1:]] == clf.predict(X).tolist()


@pytest.mark.slow
def test_the_main_job_shows_its_progress_saves_the_safe_format_and_reports_accuracy(tmp_path, monkeypatch, capsys):
    import re

    monkeypatch.chdir(tmp_path)
    main(["train", "--n-samples", "64", "--n-valid", "16", "--n-test", "32", "--max-epochs", "2"])
    out = capsys.readouterr().out
    clf = load_model(tmp_path / "model.pt")
    accuracy = re.search(r"Sum accuracy on 32 images of new writers' digits: (\d+\.\d\d)%", out)
    assert accuracy and 0 <= float(accuracy.group(1)) <= 100
    assert len(clf.history_) == 2 and "valid_acc" in clf.history_[-1]
    rows = [line.split() for line in out.splitlines() if re.match(r"^ +\d/2 ", line)]
    assert [row[0] for row in rows] == ["1/2", "2/2"]  # epoch k of N ...
    header = next(line.split() for line in out.splitlines() if line.split()[:1] == ["epoch"])
    assert re.fullmatch(r"\d+s", rows[0][header.index("left")]) and rows[1][header.index("left")] == "0s"  # time left
    assert "\x1b" not in out, "a captured (piped) log holds no control codes"


@pytest.mark.slow
def test_train_and_predict_read_digits_anywhere_with_max_digits(tmp_path, capsys):
    from sk_digitsum.datasets import load_digit_bank, make_digit_sums

    model = tmp_path / "reader.pt"
    main(["train", "--max-digits", "3", "--n-samples", "64", "--n-valid", "16", "--n-test", "32",
          "--max-epochs", "1", "--verbose", "0", "--out", str(model)])
    assert "Sum accuracy on 32 images of new writers' digits" in capsys.readouterr().out
    clf = load_model(model)
    assert clf.max_digits == 3 and clf.image_shape_ == (28, 84)
    X, y, _ = make_digit_sums(*load_digit_bank(subset="test"), n_samples=20, n_digits=(1, 3), random_state=0)
    np.savez(tmp_path / "forms.npz", X=X, y=y)
    main(["predict", "--model", str(model), "--data", str(tmp_path / "forms.npz")])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "image,sum" and [int(line.split(",")[1]) for line in lines[1:]] == clf.predict(X).tolist()


def test_the_main_job_validates_and_tests_on_new_writers_even_and_odd_digits():
    from sk_digitsum.datasets import load_digit_bank

    class Args:
        n_samples, n_valid, n_test, n_digits, max_digits, random_state = 50, 20, 20, None, None, 0

    train_bank, ((X, _), (X_valid, _), (X_test, _)) = _default_sets(Args)
    slots = lambda images: {digit.tobytes() for image in images for digit in np.split(image, 4, axis=1)}  # noqa: E731
    test_digits = load_digit_bank(subset="test")[0]
    assert slots(X) <= {digit.tobytes() for digit in load_digit_bank()[0]} == {d.tobytes() for d in train_bank[0]}
    assert slots(X_valid) <= {digit.tobytes() for digit in test_digits[::2]}
    assert slots(X_test) <= {digit.tobytes() for digit in test_digits[1::2]}


def test_help_describes_commands(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    for command in ("train", "evaluate", "predict"):
        assert command in out


def test_train_help_names_every_backbone():
    from sk_digitsum.nn import BACKBONES

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    backbone_help = next(action.help for action in train._actions if action.dest == "backbone")
    assert all(name in backbone_help for name in BACKBONES)


def test_version_and_help_answer_without_importing_torch():
    code = ("import sys\n"
            "from sk_digitsum.__main__ import main\n"
            "for argv in (['--version'], ['--help'], ['train', '--help']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print('torch' in sys.modules, 'sklearn' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[0] == f"sk-digitsum {sk_digitsum.__version__}"
    assert result.stdout.splitlines()[-1] == "False False"


@pytest.mark.parametrize("argv0, prog", [(sys.modules["sk_digitsum.__main__"].__file__, "python -m sk_digitsum"),
                                         ("/usr/bin/sk-digitsum", "sk-digitsum"),
                                         ("/usr/lib/python3/site-packages/pytest/__main__.py", "sk-digitsum")])
def test_usage_names_the_command_as_it_was_typed(monkeypatch, argv0, prog):
    monkeypatch.setattr(sys, "argv", [argv0])
    assert _prog() == prog and build_parser().format_usage().startswith(f"usage: {prog} ")


@pytest.fixture(scope="module")
def files(tmp_path_factory, fitted_heads, small_data):
    """A good model in each format, damaged and foreign files, and unlabelled images."""
    folder = tmp_path_factory.mktemp("cli")
    fitted_heads.save(folder / "good.pt")
    joblib.dump(fitted_heads, folder / "good.joblib")
    joblib.dump({"weights": [1, 2]}, folder / "foreign.joblib")
    (folder / "cut.joblib").write_bytes((folder / "good.joblib").read_bytes()[:4000])
    (folder / "text.pt").write_text("not a model")
    safe = (folder / "good.pt").read_bytes()
    (folder / "cut.pt").write_bytes(safe[: len(safe) // 2])
    np.savez(folder / "unlabelled.npz", X=small_data[0][:4])
    np.savez(folder / "labelled.npz", X=small_data[0][:4], y=small_data[1][:4])
    (folder / "three_digits").mkdir()
    for index, image in enumerate(small_data[0][:3, :, :84]):  # uniform 28x84 images: three digits each
        Image.fromarray(image).save(folder / "three_digits" / f"{index}.png")
    np.savez(folder / "tall.npz", X=np.zeros((2, 30, 112), np.uint8), y=[0, 0])
    return folder


DAMAGED = "not an sk_digitsum model file, or it is damaged"


@pytest.mark.parametrize("args, message", [
    (["predict", "--model", "{d}/nope.pt", "--data", "{d}/labelled.npz"], "model file {d}/nope.pt does not exist"),
    (["evaluate", "--model", "{d}/good.pt", "--data", "{d}/nope.npz"], "data {d}/nope.npz does not exist"),
    (["predict", "--model", "{d}/foreign.joblib", "--data", "{d}/labelled.npz"], "holds a dict, not an sk_digitsum"),
    (["predict", "--model", "{d}/cut.joblib", "--data", "{d}/labelled.npz"], DAMAGED),
    (["predict", "--model", "{d}/cut.pt", "--data", "{d}/labelled.npz"], DAMAGED),
    (["predict", "--model", "{d}/text.pt", "--data", "{d}/labelled.npz"], DAMAGED),
    (["predict", "--model", "{d}/good.pt", "--data", "{d}/good.joblib"], "neither a folder of images nor an .npz"),
    (["evaluate", "--model", "{d}/good.pt", "--data", "{d}/unlabelled.npz"], "has no labels to evaluate against"),
    (["train", "--device", "gpu"], "unknown device 'gpu': use cpu, cuda, cuda:N or auto"),
    (["train", "--max-epochs", "0"], "--max-epochs: '0' must be greater than 0"),
    (["train", "--lr", "fast"], "--lr: 'fast' is not a number"),
    (["train", "--n-digits", "3", "--max-digits", "4"], "--n-digits and --max-digits: give one"),
    (["train", "--synthetic", "-5"], "--synthetic: '-5' must be 0 or more"),
    (["train", "--out", "{d}/model.h5"], "end the name in .pt (safe format) or .joblib (pickle)"),
    (["train", "--out", "{d}/no/such/folder/model.pt"], "output folder {d}/no/such/folder does not exist"),
    (["train", "--backbone", "vgg"], "--backbone vgg: unknown backbone; use digitnet, convnet, resnet"),
    (["train", "--backbone", "resnet", "--depth", "7"], "--depth 7: Backbone 'resnet' has no depth 7"),
    (["train", "--data", "{d}/unlabelled.npz"], "has no labels: training needs an .npz file with X and y"),
    (["fly"], "invalid choice: 'fly'"),
    (["predict", "--model", "{d}/good.pt", "--data", "{d}/three_digits"],
     "{d}/three_digits holds 28x84 images and {d}/good.pt reads 28x112: they hold 3 digits where the model reads 4; "
     "train a model for them"),
    (["predict", "--model", "{d}/good.joblib", "--data", "{d}/tall.npz"],
     "{d}/tall.npz holds 30x112 images and {d}/good.joblib reads 28x112: resize them to 28x112 pixels"),
    (["evaluate", "--model", "{d}/good.pt", "--data", "{d}/tall.npz"], "resize them to 28x112 pixels"),
])
def test_each_user_error_is_one_line_with_exit_status_2(files, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main([arg.format(d=files) for arg in args])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message.format(d=files) in err


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="the error is for machines without a GPU")
def test_asking_for_a_gpu_where_there_is_none_is_a_user_error_in_the_cli_s_own_words(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--device", "cuda"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1
    assert "no CUDA GPU is available here; use --device cpu, or --device auto" in err and "device=" not in err


@pytest.mark.parametrize("name", ["good.pt", "good.joblib"])
def test_predict_reads_either_format(files, fitted_heads, small_data, capsys, name):
    main(["predict", "--model", str(files / name), "--data", str(files / "labelled.npz")])
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [int(row.split(",")[1]) for row in rows] == fitted_heads.predict(small_data[0][:4]).tolist()


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


@pytest.mark.slow
def test_model_options_reach_the_estimator(tmp_path, small_data):
    X, _, digits = small_data
    data = tmp_path / "train.npz"
    np.savez(data, X=X[:, :, :56], y=digits[:, :2].sum(1))  # two-digit images: --n-digits is read from their width
    path = tmp_path / "m.pt"
    main(["train", "--data", str(data), "--backbone", "digitnet", "--depth", "3", "--lr", "0.01",
          "--max-epochs", "2", "--synthetic", "24", "--verbose", "0", "--out", str(path)])
    clf = load_model(path)
    assert (clf.backbone, clf.depth, clf.lr, clf.max_epochs, clf.n_digits) == ("digitnet", 3, 0.01, 2, 2)
    assert sum(isinstance(layer, __import__("torch").nn.Conv2d) for layer in clf.module_.modules()) == 3
    batches = clf.history_[-1, "batches"]
    seen = [batch.get("train_batch_size", 0) + batch.get("valid_batch_size", 0) for batch in batches]
    assert sum(seen) == len(X) + 24  # every real image, in training or validation, and N synthetic ones


@pytest.mark.parametrize("name", ["model.pt", "model.joblib"])
def test_a_model_write_that_fails_half_way_leaves_the_earlier_model_whole(tmp_path, fitted_heads, small_data,
                                                                         monkeypatch, name):
    import torch

    from sk_digitsum.__main__ import _load, _save

    path = str(tmp_path / name)
    _save(fitted_heads, path)
    before = _load(path).predict_proba(small_data[0])

    def dies_half_way(obj, file, *args, **kwargs):
        file.write(b"the first bytes")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", dies_half_way)
    monkeypatch.setattr(joblib, "dump", dies_half_way)
    with pytest.raises(OSError, match="No space left"):
        _save(fitted_heads, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(_load(path).predict_proba(small_data[0]), before)
    assert [p.name for p in tmp_path.iterdir()] == [name]
