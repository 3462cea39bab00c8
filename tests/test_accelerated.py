"""Training through Hugging Face Accelerate: one process here, two processes via torchrun."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier

accelerate = pytest.importorskip("accelerate")
from sk_digitsum.accelerated import AcceleratedDigitHeadsClassifier, AcceleratedDigitSumClassifier  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "multi_gpu_accelerate.py"


def _accelerated(cls, **params):
    return cls(accelerator=accelerate.Accelerator(cpu=True), random_state=0, verbose=0, **params)


def test_one_cpu_process_trains_exactly_as_the_plain_estimator(small_data, capsys):
    X, y, _ = small_data
    clf = _accelerated(AcceleratedDigitHeadsClassifier, max_epochs=2).fit(X, y)
    plain = DigitHeadsClassifier(device="cpu", random_state=0, verbose=0, max_epochs=2).fit(X, y)
    assert clf.device_ == "cpu"
    np.testing.assert_array_equal(clf.predict_proba(X), plain.predict_proba(X))
    assert capsys.readouterr().out == "", "verbose=0 must stay silent"


@pytest.mark.parametrize("cls, plain", [(AcceleratedDigitHeadsClassifier, DigitHeadsClassifier),
                                        (AcceleratedDigitSumClassifier, DigitSumClassifier)])
def test_model_is_kept_in_the_safe_format_not_pickled(small_data, tmp_path, cls, plain):
    X, y, _ = small_data
    clf = _accelerated(cls, max_epochs=1).fit(X, y)
    with pytest.raises(TypeError, match=rf"clf.save\(path\).*{plain.__name__}.load"):
        pickle.dumps(clf)
    clf.save(tmp_path / "model.pt")
    loaded = plain.load(tmp_path / "model.pt")
    assert loaded.max_epochs == 1 and loaded.random_state == 0
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), rtol=1e-5, atol=1e-7)


def test_repr_names_the_accelerator():
    clf = AcceleratedDigitHeadsClassifier(accelerator=accelerate.Accelerator(cpu=True), max_epochs=3)
    assert " ".join(repr(clf).split()).startswith("AcceleratedDigitHeadsClassifier(accelerator=<accelerate")
    assert repr(clf).endswith("max_epochs=3)"), "only the parameters set show"


def test_two_processes_train_data_parallel(tmp_path):
    # torchrun starts two CPU processes that train one network with DistributedDataParallel (gloo).
    env = {**os.environ, "SK_DIGITSUM_EXAMPLES_FAST": "1", "ACCELERATE_USE_CPU": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", str(EXAMPLE)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 process(es) on cpu" in result.stdout
    assert DigitHeadsClassifier.load(tmp_path / "digit_sums_accelerated.pt").predict(
        np.zeros((2, 28, 112), np.uint8)).shape == (2,)
