import gzip

import numpy as np
import pytest
import torch

# Model files and the script that wrote them with an earlier version: data, not tests.
collect_ignore = ["data"]


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU; skipped where there is none")


def pytest_collection_modifyitems(config, items):
    for item in items:
        # Docstring examples that train, compile or build a ResNet take seconds each: with the slow tests.
        if isinstance(item, pytest.DoctestItem) and any(
                marker in example.source for example in item.dtest.examples
                for marker in (".fit(", "torch.compile(", "make_resnet(")):
            item.add_marker(pytest.mark.slow)
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA GPU on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def bank():
    from sk_digitsum.datasets import load_digit_bank

    return load_digit_bank()


@pytest.fixture(scope="session")
def bank_split(bank):
    """Disjoint train and test digit banks (the embedded bank is sorted by class)."""
    from sk_digitsum.datasets import split_digit_bank

    return split_digit_bank(*bank)


@pytest.fixture(scope="session")
def small_data(bank):
    """64 four-digit images with sums and digits."""
    from sk_digitsum.datasets import make_digit_sums

    return make_digit_sums(*bank, n_samples=64, random_state=0)


@pytest.fixture(scope="session")
def fitted_heads(small_data):
    from sk_digitsum import DigitHeadsClassifier

    X, y, _ = small_data
    return DigitHeadsClassifier(max_epochs=2, verbose=0, random_state=0).fit(X, y)


def write_idx(path, array):
    """Write an array as an IDX file (gzipped if the name ends in .gz)."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + array.tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)
