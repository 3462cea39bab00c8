import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sk_digitsum import SyntheticDigitsGenerator
from sk_digitsum.datasets import make_digit_sums

IDENTITY = dict(rotation=0.0, scale=(1.0, 1.0), shift=(0.0, 0.0), stroke=0.0, noise=0.0, elastic=0.0)


def test_sample_shapes_and_labels(bank):
    gen = SyntheticDigitsGenerator(n_digits=3, random_state=0).fit(*bank)
    X, sums, digits = gen.sample(50)
    assert X.shape == (50, 28, 84) and X.dtype == np.uint8
    assert digits.shape == (50, 3) and digits.min() >= 0 and digits.max() <= 9
    np.testing.assert_array_equal(sums, digits.sum(axis=1))


def test_same_seed_same_samples_and_stream_moves_on(bank):
    a = SyntheticDigitsGenerator(random_state=5).fit(*bank)
    b = clone(a).fit(*bank)
    first_a, first_b = a.sample(30), b.sample(30)
    for x, y in zip(first_a, first_b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.sample(30)[0], first_a[0])
    np.testing.assert_array_equal(a.sample(10, random_state=1)[0], b.sample(10, random_state=1)[0])


def test_without_distortion_render_equals_plain_composition(bank):
    images, labels = bank
    X, _, _, indices = make_digit_sums(images, labels, n_samples=12, random_state=0, return_indices=True)
    gen = SyntheticDigitsGenerator(**IDENTITY).fit(images, labels)
    np.testing.assert_array_equal(gen.render(indices, random_state=0), X)


def _labels_of_slots(X, images, labels):
    """The bank label of each 28-pixel slot of undistorted images, found by the slot's pixels."""
    label_of = {image.tobytes(): label for image, label in zip(images, labels)}
    n_slots = X.shape[-1] // 28
    return np.array([[label_of[image[:, 28 * j:28 * (j + 1)].tobytes()] for j in range(n_slots)] for image in X])


def test_each_image_holds_the_digits_its_labels_name_in_order(bank):
    images, labels = bank
    X, sums, digits = SyntheticDigitsGenerator(**IDENTITY, random_state=0).fit(images, labels).sample(40)
    np.testing.assert_array_equal(_labels_of_slots(X, images, labels), digits)
    np.testing.assert_array_equal(sums, digits.sum(axis=1))
    assert len({tuple(row) for row in digits}) > 30  # varied rows: a shuffled pairing could not pass


def test_free_layout_sample_holds_its_digits_where_undistorted_composition_puts_them(bank):
    images, labels = bank
    gen = SyntheticDigitsGenerator(n_digits=(1, 6), **IDENTITY, random_state=0).fit(images, labels)
    X, sums, digits = gen.sample(200)
    plain, plain_sums, plain_digits = make_digit_sums(images, labels, n_samples=200, n_digits=(1, 6),
                                                      random_state=np.random.RandomState(0))
    # the same draws as make_digit_sums, rendered without distortion: the same images
    np.testing.assert_array_equal(X, plain)
    np.testing.assert_array_equal(digits, plain_digits)
    np.testing.assert_array_equal(sums, plain_sums)
    assert X.shape == (200, 28, 168) and set((digits >= 0).sum(axis=1)) == {1, 2, 3, 4, 5, 6}


def test_free_layout_sample_distorts_and_refuses_digits_that_do_not_fit(bank):
    images, labels = bank
    gen = SyntheticDigitsGenerator(n_digits=(2, 3), width=120, random_state=0).fit(images, labels)
    X, sums, digits = gen.sample(50)
    assert X.shape == (50, 28, 120) and digits.shape == (50, 3)
    np.testing.assert_array_equal(sums, np.where(digits >= 0, digits, 0).sum(axis=1))
    with pytest.raises(ValueError, match="cannot hold 6 digits"):
        SyntheticDigitsGenerator(n_digits=(1, 6), width=100).fit(images, labels)


def test_each_distortion_changes_images(bank):
    images, labels = bank
    indices = np.arange(40).reshape(10, 4) * 97
    plain = SyntheticDigitsGenerator(**IDENTITY).fit(images, labels).render(indices, random_state=0)
    for name, value in [("rotation", 20.0), ("scale", (0.7, 0.8)), ("shift", (4.0, 3.0)),
                        ("stroke", 1.0), ("noise", 0.2), ("elastic", 2.0)]:
        params = {**IDENTITY, name: value}
        distorted = SyntheticDigitsGenerator(**params).fit(images, labels).render(indices, random_state=0)
        assert np.abs(distorted.astype(int) - plain).mean() > 1, name
    small = SyntheticDigitsGenerator(**{**IDENTITY, "scale": (0.6, 0.6)}).fit(images, labels)
    assert small.render(indices, random_state=0).mean() < plain.mean()


def test_sample_before_fit_raises():
    with pytest.raises(NotFittedError):
        SyntheticDigitsGenerator().sample(3)


@pytest.mark.parametrize("images, labels, message", [
    (np.zeros((0, 28, 28)), np.zeros(0, int), "empty"),
    (np.zeros((3, 28, 28)), None, "no labels"),
    (np.zeros((3, 20, 20)), np.zeros(3, int), r"shape \(n, 28, 28\)"),
    (np.zeros((3, 28, 28)), np.array([0, 1, 12]), "0-9"),
    (np.zeros((3, 28, 28)), np.zeros(2, int), "one label per bank image"),
])
def test_fit_rejects_bad_banks(images, labels, message):
    with pytest.raises(ValueError, match=message):
        SyntheticDigitsGenerator().fit(images, labels)


@pytest.mark.parametrize("params, message", [
    ({"scale": (1.2, 0.8)}, "scale"), ({"noise": -1}, "noise"), ({"n_digits": 0}, "n_digits"),
    ({"shift": (1.0,)}, "shift"), ({"elastic": -1.0}, "elastic"),
])
def test_fit_rejects_bad_params(bank, params, message):
    with pytest.raises(ValueError, match=message):
        SyntheticDigitsGenerator(**params).fit(*bank)


def test_accepts_flat_bank(bank):
    images, labels = bank
    gen = SyntheticDigitsGenerator(random_state=0).fit(images[:50].reshape(50, -1), labels[:50])
    assert gen.images_.shape == (50, 28, 28)


def test_get_set_params_roundtrip():
    gen = SyntheticDigitsGenerator(rotation=5.0)
    assert gen.get_params()["rotation"] == 5.0
    assert clone(gen.set_params(noise=0.0)).get_params()["noise"] == 0.0


def test_large_samples_show_progress_on_a_terminal_unless_silenced(bank, capsys, monkeypatch):
    import sys

    from sk_digitsum import synthetic

    monkeypatch.setattr(synthetic, "_PROGRESS_FROM", 300)  # 20,000 images would take seconds
    generator = SyntheticDigitsGenerator(random_state=0).fit(*bank)
    generator.sample(300)
    assert capsys.readouterr().err == "", "a piped log gets no progress bar (carriage returns)"
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    generator.sample(299)
    assert capsys.readouterr().err == ""
    generator.sample(300)
    assert "synthetic images" in capsys.readouterr().err
    SyntheticDigitsGenerator(random_state=0, verbose=0).fit(*bank).sample(300)
    assert capsys.readouterr().err == ""


def test_sample_rejects_a_negative_count(bank):
    with pytest.raises(ValueError, match="n_samples == -5, must be >= 0"):
        SyntheticDigitsGenerator().fit(*bank).sample(-5)
