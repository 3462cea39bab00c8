import numpy as np
import pytest
from PIL import Image

from sk_digitsum.io import load_image_folder, load_images, load_npz


@pytest.mark.parametrize("with_y", [True, False])
def test_load_npz_reads_x_and_y_when_present(tmp_path, with_y):
    X = np.arange(2 * 28 * 56, dtype=np.uint8).reshape(2, 28, 56)
    arrays = {"X": X, "y": np.array([3, 17])} if with_y else {"X": X}
    np.savez(tmp_path / "data.npz", **arrays)
    loaded, y = load_npz(tmp_path / "data.npz")
    np.testing.assert_array_equal(loaded, X)
    assert (y.tolist() == [3, 17]) if with_y else y is None
    assert load_images(tmp_path / "data.npz")[2] is None  # no file names for an .npz


def test_load_npz_without_x_names_the_arrays_it_found(tmp_path):
    np.savez(tmp_path / "data.npz", images=np.zeros((1, 28, 28)), y=np.zeros(1))
    with pytest.raises(ValueError, match=r"no array named 'X' \(found \['images', 'y'\]\)"):
        load_npz(tmp_path / "data.npz")


@pytest.mark.parametrize("invert, paper, expected", [
    ("auto", 255, 0),   # mostly light: inverted to MNIST's dark background
    ("auto", 0, 0),     # already dark: kept
    (True, 0, 255),     # forced
    (False, 255, 255),  # kept as drawn
])
def test_load_image_folder_inverts_as_asked(tmp_path, invert, paper, expected):
    image = np.full((28, 56), paper, np.uint8)
    image[10:18, 20:30] = 255 - paper  # a stroke of the other shade
    Image.fromarray(image).save(tmp_path / "a.png")
    images, names = load_image_folder(tmp_path, invert=invert)
    assert names == ["a.png"] and images.dtype == np.uint8
    assert images[0, 0, 0] == expected and images[0, 12, 25] == 255 - expected


def test_load_image_folder_refuses_an_unknown_invert_setting(tmp_path):
    with pytest.raises(ValueError, match="invert must be True, False or 'auto', got 'sometimes'"):
        load_image_folder(tmp_path, invert="sometimes")
