"""Reading image sets from disk: .npz archives and folders of PNG files.

Needs numpy and Pillow alone, so that the command line predicts without torch
or scikit-learn where the model is an ONNX file.
"""

import os
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def load_image_folder(folder, *, invert="auto"):
    """Load every image of a folder as one grey uint8 stack, in file-name order.

    Parameters
    ----------
    folder : str or path-like
        Folder of image files (PNG, JPEG, BMP, TIFF), all of one size.
    invert : {"auto", True, False}, default="auto"
        The models expect light digits on a dark background, as in MNIST.
        ``"auto"`` inverts the images when most of their pixels are light.

    Returns
    -------
    images : ndarray of shape (n, H, W), dtype uint8
    names : list of str
        The file names, in the order of ``images``.

    Raises
    ------
    FileNotFoundError
        If the folder holds no image files.
    ValueError
        If the images differ in size.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> from sk_digitsum.io import load_image_folder
    >>> folder = tempfile.mkdtemp()
    >>> Image.fromarray(np.full((28, 56), 255, np.uint8)).save(f"{folder}/a.png")   # white paper
    >>> images, names = load_image_folder(folder)
    >>> images.shape, names, int(images.max())                                    # inverted: dark
    ((1, 28, 56), ['a.png'], 0)
    """
    from PIL import Image

    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a path, got {type(folder).__name__}.")
    if invert not in (True, False, "auto"):
        raise ValueError(f"invert must be True, False or 'auto', got {invert!r}.")
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f"No image files ({', '.join(IMAGE_SUFFIXES)}) in {folder}.")
    arrays = [np.asarray(Image.open(path).convert("L")) for path in paths]
    sizes = {a.shape for a in arrays}
    if len(sizes) > 1:
        raise ValueError(f"Images in {folder} differ in size ({sorted(sizes)}); resize them to one size first.")
    images = np.stack(arrays)
    if invert is True or (invert == "auto" and np.median(images) > 127):
        images = 255 - images
    return images, [path.name for path in paths]


def load_npz(path):
    """Load ``X`` (images) and, when present, ``y`` (sums or digits) from an .npz file.

    Returns
    -------
    X : ndarray
    y : ndarray or None

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from sk_digitsum.io import load_npz
    >>> path = f"{tempfile.mkdtemp()}/data.npz"
    >>> np.savez(path, X=np.zeros((2, 28, 112), np.uint8))
    >>> X, y = load_npz(path)
    >>> X.shape, y is None
    ((2, 28, 112), True)
    """
    with np.load(path) as data:
        if "X" not in data:
            raise ValueError(f"{path} has no array named 'X' (found {sorted(data.files)}).")
        return data["X"], (data["y"] if "y" in data else None)


def load_images(source):
    """Images (and labels, for .npz) from an .npz file or a folder of images.

    Returns
    -------
    X : ndarray
    y : ndarray or None
    names : list of str or None
        File names when reading a folder.

    See Also
    --------
    load_image_folder, load_npz
    """
    source = Path(source)
    if source.is_dir():
        images, names = load_image_folder(source)
        return images, None, names
    if source.suffix == ".npz":
        X, y = load_npz(source)
        return X, y, None
    raise ValueError(f"{source} is neither a folder of images nor an .npz file.")
