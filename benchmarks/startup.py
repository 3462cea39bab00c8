"""Start-up time: ``import skorch`` against ``import sk_digitsum`` and the command line's ``--help``.

Each figure is the wall time of a fresh Python process (``python -c ...``), the median of
``--rounds`` runs, the commands taken in turn within each round so that a busy or cold machine
weighs on all of them alike. ``python -c pass`` is the interpreter's own start-up, included in
every other row.
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, markdown_table, write_record  # noqa: E402

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import skorch": [sys.executable, "-c", "import skorch"],
    "import sk_digitsum": [sys.executable, "-c", "import sk_digitsum"],
    "from sk_digitsum import DigitHeadsClassifier": [sys.executable, "-c", "from sk_digitsum import DigitHeadsClassifier"],
    "python -m sk_digitsum --help": [sys.executable, "-m", "sk_digitsum", "--help"],
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--record", default=RESULTS / "startup.md", help="where to write the record")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    seconds = {name: [] for name in COMMANDS}
    for _ in range(args.rounds):
        for name, command in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            seconds[name].append(time.perf_counter() - start)
    skorch = statistics.median(seconds["import skorch"])
    rows = [[f"`{name}`", f"{statistics.median(times):.2f}", f"{min(times):.2f}-{max(times):.2f}",
             f"{statistics.median(times) / skorch:.2f}"] for name, times in seconds.items()]
    write_record(args.record, "Start-up time", f"python benchmarks/startup.py --rounds {args.rounds}",
                 time.perf_counter() - started,
                 f"Wall time of a fresh process, median of {args.rounds} rounds, the commands in turn within each "
                 "round; compare within the table, through the last column.\n\n"
                 + markdown_table(["command", "median (s)", "range (s)", "x import skorch"], rows))


if __name__ == "__main__":
    main()
