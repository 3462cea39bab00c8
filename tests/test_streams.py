import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from sk_digitsum import SyntheticDigitsGenerator
from sk_digitsum.streams import SyntheticDigitStream

IDENTITY = dict(rotation=0.0, scale=(1.0, 1.0), shift=(0.0, 0.0), stroke=0.0, noise=0.0, elastic=0.0)


def _passes(stream, num_workers, seed, n_passes=1, persistent_workers=False):
    from torch.utils.data import DataLoader

    loader = DataLoader(stream, batch_size=64, num_workers=num_workers, persistent_workers=persistent_workers,
                        generator=torch.Generator().manual_seed(seed))
    return [[(images.numpy(), digits.numpy()) for images, digits in loader] for _ in range(n_passes)]


@pytest.mark.parametrize("num_workers, persistent_workers", [(0, False), (2, False), (2, True)])
def test_stream_yields_labelled_images_reproducibly_and_fresh_each_pass(bank, num_workers, persistent_workers):
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
    kwargs = {"generator": SyntheticDigitsGenerator().fit(*bank), **kwargs}
    with pytest.raises(error, match=message):
        SyntheticDigitStream(**kwargs)


def test_fitted_source_fits_a_copy_on_the_embedded_bank_and_checks_the_image_size(bank):
    from sk_digitsum.streams import fitted_source

    users = SyntheticDigitsGenerator(n_digits=2, random_state=0)
    source = fitted_source(users, n_digits=2, image_shape=(28, 56), verbose=0)
    assert not hasattr(users, "images_"), "the user's generator is left unfitted"
    np.testing.assert_array_equal(source.images_, bank[0])
    assert source.verbose == 0 and users.verbose == 1
    with pytest.raises(ValueError, match="makes 28x56 images of up to 2 digits but X holds 28x112 images of up to 4"):
        fitted_source(users, n_digits=4, image_shape=(28, 112), verbose=0)


def _split_rows(split, y, **kwargs):
    from skorch.dataset import Dataset

    dataset = Dataset(np.arange(len(y)), y)
    train, valid = split(dataset, y, **kwargs)
    if valid is None:
        assert train is dataset
        return np.arange(len(y)), None
    return np.sort(train.indices), np.sort(valid.indices)


@pytest.mark.parametrize("y", [np.r_[np.arange(20) % 10, np.full(30, -1)],                  # sums
                               np.r_[np.tile([[1, 2]], (20, 1)), np.full((30, 2), -1)]])     # digit rows
def test_the_default_split_validates_on_labelled_images_and_trains_on_every_unlabelled_one(y):
    from sk_digitsum.streams import SeededValidSplit

    torch.manual_seed(0)
    train, valid = _split_rows(SeededValidSplit(0.2), y)
    assert len(valid) == 4 and (valid < 20).all()  # a fifth of the 20 labelled images
    np.testing.assert_array_equal(np.sort(np.r_[train, valid]), np.arange(50))
    torch.manual_seed(0)
    again, _ = _split_rows(SeededValidSplit(0.2), y)
    np.testing.assert_array_equal(train, again)


def test_the_default_split_keeps_the_split_of_fully_labelled_sets_and_stratifies_on_labels():
    from skorch.dataset import ValidSplit

    from sk_digitsum.streams import SeededValidSplit

    sums = np.arange(40) % 4
    labelled_only = _split_rows(SeededValidSplit(0.25, random_state=3), sums)
    skorchs = _split_rows(ValidSplit(0.25, random_state=3), sums)
    np.testing.assert_array_equal(labelled_only[1], skorchs[1])
    with_unlabelled = np.r_[sums, np.full(7, -1)]  # -1 is no class to stratify by
    _, valid = _split_rows(SeededValidSplit(0.2, stratified=True, random_state=3), with_unlabelled)
    assert (with_unlabelled[valid] >= 0).all()
    np.testing.assert_array_equal(np.bincount(with_unlabelled[valid]), [2, 2, 2, 2])


@pytest.mark.parametrize("y", [np.full(6, -1), np.r_[3, np.full(5, -1)]])
def test_the_default_split_holds_nothing_out_with_fewer_than_two_labels(y):
    from sk_digitsum.streams import SeededValidSplit

    _, valid = _split_rows(SeededValidSplit(0.5), y)
    assert valid is None


def test_the_mixed_stream_pairs_every_image_with_its_own_labels(bank):
    from skorch.dataset import Dataset
    from torch.utils.data import DataLoader

    from sk_digitsum.datasets import make_digit_sums
    from sk_digitsum.streams import Batch, RealAndSyntheticStream

    images, labels = bank
    label_of = {image.tobytes(): label for image, label in zip(images, labels)}
    X, sums, _ = make_digit_sums(images, labels, n_samples=40, random_state=0)
    sum_of_real = {image.tobytes(): total for image, total in zip(X, sums)}
    gen = SyntheticDigitsGenerator(**IDENTITY).fit(images, labels)
    stream = RealAndSyntheticStream(Dataset(X[:, None], sums), SyntheticDigitStream(gen, 30, random_state=0),
                                    as_float=False)
    torch.manual_seed(0)
    batches = list(DataLoader(stream, batch_size=16))
    assert all(isinstance(batch, Batch) for batch, _ in batches)
    seen = {True: 0, False: 0}
    for batch, totals in batches:
        for image, digits, synthetic, total in zip(batch.images, batch.digits, batch.synthetic, totals):
            image = image[0].numpy()
            if synthetic:
                read = [label_of[image[:, 28 * j:28 * (j + 1)].tobytes()] for j in range(4)]
                assert read == digits.tolist() and total == sum(read)
            else:
                assert digits.tolist() == [-1] * 4 and total == sum_of_real[image.tobytes()]
            seen[bool(synthetic)] += 1
    assert seen == {True: 30, False: 40}
