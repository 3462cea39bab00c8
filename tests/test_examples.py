"""Every example runs, in a fast mode, and writes what it promises."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))
OUTPUTS = {"ema_curves.py": "ema_curves.png", "error_analysis.py": "errors.png",
           "quick_start.py": "digit_sums.joblib", "own_images.py": "my_scans"}


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs(example, tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SK_DIGITSUM_EXAMPLES_FAST", "1")
    runpy.run_path(str(example), run_name="__main__")
    assert capsys.readouterr().out.strip()
    if example.name in OUTPUTS:
        assert (tmp_path / OUTPUTS[example.name]).exists()
