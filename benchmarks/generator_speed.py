"""Images per second of SyntheticDigitsGenerator.sample (4-digit 28x112 images)."""

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, markdown_table, timed  # noqa: E402

from sk_digitsum import SyntheticDigitsGenerator  # noqa: E402
from sk_digitsum.datasets import load_digit_bank  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-samples", type=int, default=100_000)
    args = parser.parse_args(argv)
    generator = SyntheticDigitsGenerator(random_state=0, verbose=0).fit(*load_digit_bank())
    generator.sample(1000)  # warm-up
    _, seconds = timed(generator.sample, args.n_samples)
    print(markdown_table(["images", "seconds", "images/s", "torch threads", "machine"],
                         [[f"{args.n_samples:,}", f"{seconds:.2f}", f"{args.n_samples / seconds:,.0f}",
                           torch.get_num_threads(), machine()]]))


if __name__ == "__main__":
    main()
