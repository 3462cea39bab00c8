import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sk_digitsum import SyntheticDigitsGenerator
from sk_digitsum.datasets import make_digit_sums
from sk_digitsum.synthetic import distort_slots

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


def test_stroke_sign_thickens_and_thins():
    slots = torch.zeros(1, 1, 28, 28)
    slots[0, 0, 10:18, 13:15] = 1.0
    kwargs = dict(rotation=0.0, scale=(1.0, 1.0), shift=(0.0, 0.0), noise=0.0)
    assert distort_slots(slots, stroke=0.0, **kwargs).sum() == slots.sum()
    torch.manual_seed(0)
    outs = [distort_slots(slots, stroke=1.0, **kwargs).sum() for _ in range(20)]
    assert min(outs) < slots.sum() < max(outs)


def test_shift_lets_digits_cross_slots():
    slots = torch.zeros(64, 2, 28, 28)
    slots[:, 0, :, 24:28] = 1.0  # ink at the right edge of the first slot
    out = distort_slots(slots, rotation=0.0, scale=(1.0, 1.0), shift=(4.0, 0.0), stroke=0.0, noise=0.0,
                        generator=torch.Generator().manual_seed(0))
    assert out[:, :, 28:].sum() > 0


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


def test_affine_grid_matches_torch():
    from sk_digitsum.synthetic import _affine_grid

    theta = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(0))
    expected = torch.nn.functional.affine_grid(theta, (5, 1, 28, 40), align_corners=False)
    torch.testing.assert_close(_affine_grid(theta, 28, 40), expected)


def test_large_samples_show_progress_unless_silenced(bank, capsys):
    SyntheticDigitsGenerator(random_state=0).fit(*bank).sample(20_000)
    assert "synthetic images" in capsys.readouterr().err
    SyntheticDigitsGenerator(random_state=0, verbose=0).fit(*bank).sample(20_000)
    assert capsys.readouterr().err == ""



def _passes(stream, num_workers, seed, n_passes=1, persistent_workers=False):
    from torch.utils.data import DataLoader

    loader = DataLoader(stream, batch_size=64, num_workers=num_workers, persistent_workers=persistent_workers,
                        generator=torch.Generator().manual_seed(seed))
    return [[(images.numpy(), digits.numpy()) for images, digits in loader] for _ in range(n_passes)]


@pytest.mark.parametrize("num_workers, persistent_workers", [(0, False), (2, False), (2, True)])
def test_stream_yields_labelled_images_reproducibly_and_fresh_each_pass(bank, num_workers, persistent_workers):
    from sk_digitsum.synthetic import SyntheticDigitStream

    images, labels = bank
    gen = SyntheticDigitsGenerator(n_digits=1, **IDENTITY).fit(images, labels)
    stream = SyntheticDigitStream(gen, n_samples=150, random_state=0)
    torch.manual_seed(0)  # the pass seed without workers
    first, second = _passes(stream, num_workers, seed=1, n_passes=2, persistent_workers=persistent_workers)
    torch.manual_seed(0)
    (again,) = _passes(stream, num_workers, seed=1, persistent_workers=persistent_workers)
    x = np.concatenate([batch for batch, _ in first])
    digits = np.concatenate([d for _, d in first])
    assert x.shape == (150, 28, 28) and digits.shape == (150, 1)
    # Undistorted, every image is a bank digit with the label yielded beside it.
    bank_index = {image.tobytes(): label for image, label in zip(images, labels)}
    assert [bank_index[image.tobytes()] for image in x] == digits[:, 0].tolist()
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first, again))
    assert not np.array_equal(x, np.concatenate([batch for batch, _ in second]))


def test_stream_workers_draw_different_images(bank):
    from sk_digitsum.synthetic import SyntheticDigitStream

    stream = SyntheticDigitStream(SyntheticDigitsGenerator().fit(*bank), n_samples=101, random_state=0)
    (batches,) = _passes(stream, num_workers=2, seed=0)
    x = np.concatenate([images for images, _ in batches])
    assert len(x) == 101 and len({image.tobytes() for image in x}) == 101


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n_samples": 0}, ValueError, "n_samples"),
    ({"n_samples": 5, "random_state": -1}, ValueError, "random_state"),
    ({"n_samples": 5, "generator": SyntheticDigitsGenerator()}, NotFittedError, "not fitted"),
])
def test_stream_rejects_bad_arguments(bank, kwargs, error, message):
    from sk_digitsum.synthetic import SyntheticDigitStream

    kwargs = {"generator": SyntheticDigitsGenerator().fit(*bank), **kwargs}
    with pytest.raises(error, match=message):
        SyntheticDigitStream(**kwargs)
