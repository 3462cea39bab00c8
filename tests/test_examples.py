"""Every example runs, in a fast mode, prints what it promises and writes its files."""

import re
import runpy
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))
ACCURACY = r"(0|1)\.\d{3}"
# What each example prints (a regular expression for every line it promises) and the files it writes.
PROMISES = {
    "ema_curves.py": ([rf"^ +no EMA: validation accuracy {ACCURACY} to {ACCURACY} from epoch 3 on, {ACCURACY} at",
                       r"^EMA 0\.99: validation accuracy", r"^wrote ema_curves\.png$"], ["ema_curves.png"]),
    "error_analysis.py": ([rf"^sum accuracy: {ACCURACY}$", r"^wrote errors\.png$"], ["errors.png"]),
    "grid_search.py": ([r"^ema_beta depth +mean acc +std rank$", r"^ +0\.9\d* +\d+ +" + ACCURACY,
                        r"^best: \{'depth': \d+, 'ema_beta': 0\.9\d*\}$", r"^wrote grid_search\.png$"],
                       ["grid_search.png"]),
    "images_and_distortions.py": ([r"^composed sums: \[[\d ]+\] synthetic sums: \[[\d ]+\]$"], []),
    "multi_gpu_accelerate.py": ([r"^1 process\(es\) on cpu: sum accuracy \d+\.\d\d% on images of new writers' digits$",
                                 r"^wrote multi_gpu_accelerate\.png$"],
                                ["digit_sums_accelerated.pt", "multi_gpu_accelerate.png"]),
    "own_images.py": ([r"^ +epoch +train_loss +valid_acc +valid_loss +left", r"^ +1/1 ",
                       r"^scan_0\.png: predicted sum \d+ \(true \d+\)$", r"^wrote own_images\.png$"],
                      ["my_scans/scan_0.png", "own_images.png"]),
    "quick_start.py": ([r"^predicted sums: \[[\d ]+\] true: \[[\d ]+\]$",
                        rf"^sum accuracy on new writers' digits: {ACCURACY}$", r"^saved and reloaded: digit_sums\.pt$"],
                       ["digit_sums.pt"]),
    "sum_only_digits.py": ([r"^per-position digit accuracy: \[", rf"^sum accuracy: {ACCURACY}$",
                            r"^true \d{4}  read \d{4}  ", r"^wrote sum_only_digits\.png$"], ["sum_only_digits.png"]),
    "synthetic_and_mixed.py": ([rf"^synthetic only: +{ACCURACY}$", rf"^real sums \+ synthetic: +{ACCURACY}$",
                                r"^wrote synthetic_and_mixed\.png$"], ["synthetic_and_mixed.png"]),
}


def test_every_example_has_its_promises_listed():
    assert sorted(PROMISES) == [path.name for path in EXAMPLES]


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs(example, tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SK_DIGITSUM_EXAMPLES_FAST", "1")
    runpy.run_path(str(example), run_name="__main__")
    lines = capsys.readouterr().out.splitlines()
    patterns, files = PROMISES[example.name]
    for pattern in patterns:
        assert any(re.search(pattern, line) for line in lines), f"no line matches {pattern!r} in {lines}"
    for name in files:
        assert (tmp_path / name).is_file(), f"{name} was not written"
