"""Training through Hugging Face Accelerate: one process here, two processes via torchrun."""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier

accelerate = pytest.importorskip("accelerate")
from sk_digitsum.accelerated import AcceleratedDigitHeadsClassifier, AcceleratedDigitSumClassifier  # noqa: E402

# Trains through Accelerate, in one process and in two.
pytestmark = pytest.mark.slow


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


def test_clones_share_the_accelerator_and_fit_leaves_nothing_in_it(small_data):
    # One Accelerator per process is accelerate's design; what each fit prepared must not stay
    # registered there, or a search would keep every network it trained.
    from sklearn.base import clone

    X, y, _ = small_data
    first = _accelerated(AcceleratedDigitHeadsClassifier, max_epochs=2, module__width=8)
    second = clone(first)
    assert second.accelerator is first.accelerator
    accelerator = first.accelerator
    for clf in (first, second):
        clf.fit(X, y)
        assert (accelerator._models, accelerator._optimizers, accelerator._dataloaders) == ([], [], [])
    before = [p.detach().clone() for p in first.module_.parameters()]
    first.partial_fit(X, y)  # still trains after the accelerator let go of its objects
    assert len(first.history_) == 4
    assert any(not torch.equal(a, b) for a, b in zip(before, first.module_.parameters()))
    assert not any(torch.equal(a, b) for a, b in zip(first.module_.parameters(), second.module_.parameters()))


def test_repr_names_the_accelerator():
    clf = AcceleratedDigitHeadsClassifier(accelerator=accelerate.Accelerator(cpu=True), max_epochs=3)
    assert " ".join(repr(clf).split()).startswith("AcceleratedDigitHeadsClassifier(accelerator=<accelerate")
    assert repr(clf).endswith("max_epochs=3)"), "only the parameters set show"


# Each rank trains on its half of every batch and saves its own weights and what it saw.
TWO_RANKS = """
import json
from accelerate import Accelerator
from sk_digitsum.accelerated import AcceleratedDigitHeadsClassifier
from sk_digitsum.datasets import load_digit_bank, make_digit_sums
accelerator = Accelerator()
X, y, _ = make_digit_sums(*load_digit_bank(), n_samples=128, random_state=0)
clf = AcceleratedDigitHeadsClassifier(accelerator=accelerator, max_epochs=2, batch_size=32, train_split=None,
                                      random_state=0, verbose=0).fit(X, y)
rank = accelerator.process_index
clf.save(f"rank{rank}.pt")
seen = sum(batch["train_batch_size"] for epoch in clf.history_ for batch in epoch["batches"])
json.dump({"processes": accelerator.num_processes, "seen": seen}, open(f"rank{rank}.json", "w"))
"""


@pytest.mark.slow
def test_two_processes_train_data_parallel_and_stay_in_sync(tmp_path):
    # torchrun starts two CPU processes that train one network with DistributedDataParallel (gloo).
    (tmp_path / "two_ranks.py").write_text(TWO_RANKS)
    env = {**os.environ, "ACCELERATE_USE_CPU": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "two_ranks.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [record["processes"] for record in records] == [2, 2]
    assert [record["seen"] for record in records] == [128, 128], "each rank sees half of 2 epochs of 128 images"
    ranks = [DigitHeadsClassifier.load(tmp_path / f"rank{rank}.pt") for rank in (0, 1)]
    # Gradients are averaged across ranks, so the weights agree. BatchNorm's running statistics are
    # buffers: DistributedDataParallel broadcasts rank 0's at each forward pass, and each rank's last
    # batches move its own, so the ranks' statistics (and the model rank 0 saves) are rank 0's.
    weights = [dict(rank.module_.named_parameters()) for rank in ranks]
    initial = dict(DigitHeadsClassifier(random_state=0).initialize().module_.named_parameters())
    for name, tensor in weights[0].items():
        torch.testing.assert_close(weights[1][name], tensor, rtol=0, atol=0, msg=f"ranks differ in {name}")
    assert any(not torch.equal(tensor, initial[name]) for name, tensor in weights[0].items())
