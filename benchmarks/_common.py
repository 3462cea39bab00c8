"""Data and helpers shared by the benchmarks.

Training data comes only from the embedded 5,000-digit bank. Test images are
composed from the official MNIST test digits (writers never in training),
which live in ``../shared/data/mnist`` or wherever ``--mnist`` points.
"""

import json
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
import skorch
import torch

from sk_digitsum import SyntheticDigitsGenerator
from sk_digitsum.datasets import load_digit_bank, make_digit_sums, split_digit_bank
from sk_digitsum.nn import DigitSumLayer

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MNIST = ROOT.parent / "shared" / "data" / "mnist"
RESULTS = ROOT / "benchmarks" / "results"

# The "scanned" test variant: the same test digits, shifted off their slots
# (so neighbours touch), rotated, rescaled, with thicker or thinner strokes and
# background noise. Harder than the default synthetic generator on every axis.
SCANNED = dict(rotation=18.0, scale=(0.8, 1.2), shift=(5.0, 3.0), stroke=0.8, noise=0.15)


def commit():
    """The checked-out commit, with "+changes" where the working tree differs from it."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        return git("rev-parse", "--short", "HEAD") + ("+changes" if git("status", "--porcelain", "--", "sk_digitsum")
                                                      else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def cpu_model():
    """The CPU's model name, as the operating system reports it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment():
    """What a measurement ran on: commit, CPU and its bfloat16 support, threads, versions, GPU."""
    from sk_digitsum.nn.precision import native_bf16

    return {"commit": commit(), "cpu": cpu_model(), "native_bf16": native_bf16("cpu"),
            "threads": torch.get_num_threads(), "torch": torch.__version__, "skorch": skorch.__version__,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def machine():
    """One line naming the hardware and software a result was measured on."""
    env = environment()
    where = f"{env['gpu']} (CUDA)" if env["gpu"] else (
        f"{env['cpu']}, {env['threads']} CPU threads, {'native' if env['native_bf16'] else 'no native'} bfloat16")
    return f"{where}, torch {env['torch']}, skorch {env['skorch']}"


def record_header(title, command, wall_seconds, env=None):
    """The opening lines of a record under benchmarks/results/: what ran, on what, from which commit, how long."""
    env = env or environment()
    bf16 = "computes bfloat16 natively" if env["native_bf16"] else "does not compute bfloat16 natively"
    gpu = f"; GPU {env['gpu']}" if env["gpu"] else ""
    return "\n".join([
        f"# {title}", "",
        f"`{command}`", "",
        f"- commit {env['commit']}; CPU {env['cpu']} ({bf16}), {env['threads']} threads{gpu}",
        f"- torch {env['torch']}, skorch {env['skorch']}; wall time {wall_seconds / 60:.1f} min", "",
    ])


def test_sets(mnist=DEFAULT_MNIST, n_samples=10_000):
    """Tight and scanned four-digit test sets of the MNIST test digits.

    Returns
    -------
    dict
        ``{"tight": (X, sums, digits), "scanned": (X, sums, digits)}``
    """
    images, labels = load_digit_bank(mnist, subset="test")
    X, sums, digits, indices = make_digit_sums(images, labels, n_samples, random_state=1, return_indices=True)
    scanner = SyntheticDigitsGenerator(**SCANNED).fit(images, labels)
    return {"tight": (X, sums, digits), "scanned": (scanner.render(indices, random_state=2), sums, digits)}


def training_set(n_samples=10_000, bank=None):
    """Sum-labelled real images composed from the embedded bank (or ``bank``)."""
    images, labels = bank if bank is not None else load_digit_bank()
    X, sums, _ = make_digit_sums(images, labels, n_samples, random_state=0)
    return X, sums


def validation_split():
    """Train and validation banks of the embedded digits, for choosing defaults.

    Every fifth digit is held out: model choices are made on images of
    those, never on the MNIST test digits.
    """
    return split_digit_bank(*load_digit_bank())


def sums_from_digit_proba(digit_proba):
    """Most probable sums, by the exact sum layer, from (n, n_digits, 10) digit probabilities.

    For probabilities combined outside an estimator (averaged over models or
    shifted copies of the images).
    """
    log_proba = torch.from_numpy(np.log(digit_proba.astype(np.float32) + 1e-12))
    return DigitSumLayer()(log_proba).argmax(1).numpy()


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def save_json(record, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1))


def markdown_table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_docs_section(name, text, path=ROOT / "docs" / "results.md"):
    """Put ``text`` into the section ``name`` of a docs page, keeping the other sections.

    Several benchmarks report into ``docs/results.md``; each owns the text between its own
    markers, so rewriting one table never drops another.
    """
    begin, end = f"<!-- begin {name}: written by its benchmark's report -->", f"<!-- end {name} -->"
    page = path.read_text() if path.exists() else "# Results\n"
    section = f"{begin}\n{text.strip()}\n{end}"
    if begin in page:
        before, rest = page.split(begin, 1)
        page = before + section + rest.split(end, 1)[1]
    else:
        page = page.rstrip() + "\n\n" + section + "\n"
    path.write_text(page)
    print(f"wrote section {name!r} of {path}")
