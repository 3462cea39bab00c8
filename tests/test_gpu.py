"""Checks that need a CUDA GPU; skipped where there is none (CI has none)."""

import io

import joblib
import numpy as np
import pytest
import torch

from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier
from sk_digitsum.datasets import make_digit_sums

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_trains_on_gpu_and_returns_numpy(bank_split, device):
    train, test = bank_split
    X, y, _ = make_digit_sums(*train, 1200, n_digits=1, random_state=0)
    X_test, y_test, _ = make_digit_sums(*test, 400, n_digits=1, random_state=1)
    clf = DigitHeadsClassifier(n_digits=1, max_epochs=8, ema_beta=0.9, verbose=0, random_state=0,
                               device=device).fit(X, y)
    assert clf.device_ == "cuda" and next(clf.module_.parameters()).is_cuda
    assert clf.optimizer_.defaults["fused"] is True  # one fused AdamW kernel per step on the GPU
    proba = clf.predict_proba(X_test)
    assert isinstance(proba, np.ndarray) and proba.dtype == np.float32
    assert clf.score(X_test, y_test) > 0.85


def test_gpu_model_roundtrips_through_joblib(small_data):
    X, y, _ = small_data
    clf = DigitSumClassifier(max_epochs=1, verbose=0, random_state=0, device="cuda").fit(X, y)
    buffer = io.BytesIO()
    joblib.dump(clf, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_convolutions_run_in_bfloat16_channels_last(small_data):
    X, y, _ = small_data
    clf = DigitHeadsClassifier(max_epochs=1, verbose=0, random_state=0, device="cuda").fit(X, y)
    seen = []
    hook = clf.module_.backbone.register_forward_hook(lambda module, args, output: seen.append(output))
    clf.infer(torch.as_tensor(X[:4, None]))
    hook.remove()
    assert seen[0].dtype == torch.bfloat16
    assert seen[0].is_contiguous(memory_format=torch.channels_last)
