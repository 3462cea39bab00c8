"""Images per second of the synthetic generator (4-digit 28x112 images).

Rows: ``SyntheticDigitsGenerator.sample`` into one array, and
``SyntheticDigitStream`` read through a DataLoader (batches of 256) in the
main process and with worker processes.
"""

import argparse
import sys
import time
from pathlib import Path

from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, markdown_table, timed, write_record  # noqa: E402

from sk_digitsum import SyntheticDigitsGenerator  # noqa: E402
from sk_digitsum.datasets import load_digit_bank  # noqa: E402
from sk_digitsum.streams import SyntheticDigitStream  # noqa: E402


def read_all(loader):
    return sum(len(images) for images, _ in loader)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-samples", type=int, default=100_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--record", default=RESULTS / "generator_speed.md", help="where to write the record")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    generator = SyntheticDigitsGenerator(random_state=0, verbose=0).fit(*load_digit_bank())
    generator.sample(1000)  # warm-up
    _, seconds = timed(generator.sample, args.n_samples)
    rows = [["sample()", f"{args.n_samples:,}", f"{seconds:.2f}", f"{args.n_samples / seconds:,.0f}"]]
    stream = SyntheticDigitStream(generator, args.n_samples, random_state=0)
    for workers in args.workers:
        loader = DataLoader(stream, batch_size=256, num_workers=workers)
        _, seconds = timed(read_all, loader)
        rows.append([f"stream, DataLoader num_workers={workers}", f"{args.n_samples:,}", f"{seconds:.2f}",
                     f"{args.n_samples / seconds:,.0f}"])
    write_record(args.record, "Synthetic images per second", "python benchmarks/generator_speed.py",
                 time.perf_counter() - started, markdown_table(["source", "images", "seconds", "images/s"], rows))


if __name__ == "__main__":
    main()
