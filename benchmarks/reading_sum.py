"""The reader's exact sum, forward and backward: this checkout's ``ReadingSumLayer`` against another commit's.

    python benchmarks/reading_sum.py --against 586d288                 # before the states were written in place
    python benchmarks/reading_sum.py --against 586d288 --threads 1

One training batch of the reader of benchmarks/digits_anywhere.py: 128 images of 21 columns, at most 6
digits. Three ways of the same pass: this checkout's layer, the layer of the commit named (its
``sk_digitsum/nn/heads.py``, read with ``git show``), and that commit's forward pass differentiated by
autograd (the pass of 586d288 and before allows it; one that writes its states in place does not). All
three must give the same sums and gradients, which the script checks first. The ways alternate over
``--rounds``; each round takes the lower quartile of ``--repeats`` timed passes after two untimed ones.
The table gives the fastest round and the median round: the machine's speed drifts from round to round.
Record: ``benchmarks/results/reading_sum.md`` (``--record`` to choose another).
"""

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, ROOT, markdown_table, write_record  # noqa: E402

from sk_digitsum.nn import heads  # noqa: E402

N_IMAGES, N_COLUMNS, MAX_DIGITS = 128, 21, 6


def heads_at(commit):
    """The module ``sk_digitsum/nn/heads.py`` as it was at ``commit``, its relative imports from this checkout."""
    source = subprocess.run(["git", "show", f"{commit}:sk_digitsum/nn/heads.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "heads.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(f"sk_digitsum.nn._heads_at_{commit}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def lower_quartile_ms(function, repeats):
    for _ in range(2):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[repeats // 4]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", required=True, help="the commit whose layer to compare with")
    parser.add_argument("--threads", type=int, default=None, help="torch's CPU threads (default: torch's own)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--record", default=str(RESULTS / "reading_sum.md"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    other = heads_at(args.against)
    layer = heads.ReadingSumLayer(MAX_DIGITS)
    logits = 3 * torch.randn(N_IMAGES, N_COLUMNS, heads.N_DIGIT_CLASSES + 1, generator=torch.Generator().manual_seed(0))
    probs = torch.softmax(logits.double(), dim=-1).permute(1, 2, 0).contiguous().requires_grad_()
    sums = torch.randint(0, 9 * MAX_DIGITS + 1, (N_IMAGES,), generator=torch.Generator().manual_seed(1))

    def loss(log_sums):
        return -log_sums.gather(1, sums[:, None]).sum()

    buffers = (layer.source, layer.target, layer.to_sums)
    ways = {
        "this checkout": lambda: loss(heads._ReadingSums.apply(probs, *buffers)),
        args.against: lambda: loss(other._ReadingSums.apply(probs, *buffers)),
        f"{args.against} under autograd": lambda: loss(other._reading_pass(probs, layer.source, layer.to_sums)[0]),
    }
    reference = None
    for name, way in ways.items():
        value = way()
        (grad,) = torch.autograd.grad(value, probs)
        if reference is not None:
            # Gradients near zero differ by rounding alone: tolerances relative to the largest.
            for got, expected in zip((value, grad), reference):
                torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12 * float(expected.abs().max()),
                                           msg=f"{name} differs from this checkout")
        reference = (value, grad)

    times = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, way in ways.items():
            times[name].append(lower_quartile_ms(lambda: way().backward(), args.repeats))
    fastest = min(times["this checkout"])
    rows = [[f"`{name}`", f"{min(ms):.1f}", f"{statistics.median(ms):.1f}", f"{min(ms) / fastest:.2f}"]
            for name, ms in times.items()]
    command = "python benchmarks/reading_sum.py " + " ".join(argv if argv is not None else sys.argv[1:])
    body = "\n".join([
        f"Forward and backward pass of `ReadingSumLayer` on {N_IMAGES} images of {N_COLUMNS} columns, at most "
        f"{MAX_DIGITS} digits: milliseconds per pass, the lower quartile of {args.repeats} passes in each of "
        f"{args.rounds} rounds. All ways give the same sums and gradients.", "",
        markdown_table(["way", "fastest round (ms)", "median round (ms)", "fastest / this checkout's"], rows),
    ])
    write_record(args.record, "The reader's exact sum: forward and backward", command,
                 time.perf_counter() - start, body)


if __name__ == "__main__":
    main()
