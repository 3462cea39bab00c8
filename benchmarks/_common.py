"""Data and helpers shared by the benchmarks.

Training data comes only from the embedded 5,000-digit bank. Test images are
composed from the official MNIST test digits (writers never in training),
which ship with the package (``load_digit_bank(subset="test")``).
:func:`tight_and_scanned` builds every tight and scanned set; :func:`record_header`
opens every record under ``benchmarks/results/`` with what it ran on.
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
from sk_digitsum.datasets import load_digit_bank, make_digit_sums
from sk_digitsum.nn import DigitSumLayer

ROOT = Path(__file__).resolve().parents[1]
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


def tight_and_scanned(images, labels, n_tight, seed, n_scanned=None):
    """Tight and scanned four-digit images of a digit bank: ``(X, sums, digits)`` each.

    The tight images are the bank's digits side by side (``make_digit_sums``
    with ``random_state=seed``); the scanned ones are rendered with the
    :data:`SCANNED` distortions (``random_state=seed + 1``): the same digits
    as the tight images where ``n_scanned`` is None, else ``n_scanned``
    further images of the same draw.
    """
    n_total = n_tight + (n_scanned or 0)
    X, sums, digits, indices = make_digit_sums(images, labels, n_total, random_state=seed, return_indices=True)
    rows = slice(0, n_tight) if n_scanned is None else slice(n_tight, n_total)
    scanner = SyntheticDigitsGenerator(**SCANNED, verbose=0).fit(images, labels)
    return ((X[:n_tight], sums[:n_tight], digits[:n_tight]),
            (scanner.render(indices[rows], random_state=seed + 1), sums[rows], digits[rows]))


def test_sets(n_samples=10_000, digits="all", mnist=None):
    """Tight and scanned four-digit test sets of the MNIST test digits.

    Parameters
    ----------
    digits : {"all", "odd"}, default="all"
        "all": ``n_samples`` images of all 10,000 digits, tight and scanned
        renderings of the same draw (the accuracy table's protocol); "odd":
        ``n_samples`` tight and ``n_samples`` other scanned images of the
        odd-indexed digits, the even-indexed ones being kept for validation
        or unlabelled images (the protocol of the main job and of learning
        from unlabelled images).
    mnist : path or None, default=None
        A folder of MNIST IDX files; None reads the copy in the package.

    Returns
    -------
    dict
        ``{"tight": (X, sums, digits), "scanned": (X, sums, digits)}``
    """
    images, labels = load_digit_bank(mnist, subset="test")
    if digits == "odd":
        tight, scanned = tight_and_scanned(images[1::2], labels[1::2], n_samples, seed=20, n_scanned=n_samples)
    else:
        tight, scanned = tight_and_scanned(images, labels, n_samples, seed=1)
    return {"tight": tight, "scanned": scanned}


def training_set(n_samples=10_000, bank=None):
    """Sum-labelled real images composed from the embedded bank (or ``bank``)."""
    images, labels = bank if bank is not None else load_digit_bank()
    X, sums, _ = make_digit_sums(images, labels, n_samples, random_state=0)
    return X, sums


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


def write_record(path, title, command, wall_seconds, body):
    """Print a Markdown record, opened by :func:`record_header`, and write it to ``path`` (None: print only)."""
    text = record_header(title, command, wall_seconds) + "\n" + body.strip() + "\n"
    print(text)
    if path is not None:
        Path(path).write_text(text)


def save_record(record, path, wall_seconds):
    """Write a JSON record under benchmarks/results/, opened by what it ran on and its wall time."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"environment": environment(), "wall_seconds": wall_seconds, **record}, indent=1))


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
