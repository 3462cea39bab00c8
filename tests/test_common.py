"""scikit-learn's common estimator checks, with each expected failure explained.

The common checks feed tabular data: 2-D arrays of a few features. These
estimators take stacks of images at least 28x28 pixels, and reject 2-D input
with a message on how to reshape it (see the reliability tests). Every check
that needs to fit or predict on such data therefore stops at that message.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier, SyntheticDigitsGenerator

try:
    from accelerate import Accelerator

    from sk_digitsum.accelerated import AcceleratedDigitHeadsClassifier, AcceleratedDigitSumClassifier

    ACCELERATED = [cls(accelerator=Accelerator(cpu=True), max_epochs=1, verbose=0)
                   for cls in (AcceleratedDigitSumClassifier, AcceleratedDigitHeadsClassifier)]
except ImportError:  # the accelerate extra is not installed
    ACCELERATED = []

TABULAR = "feeds 2-D tabular X; the estimator takes (n, H, W) images with H, W >= 28 and rejects 2-D X"

EXPECTED_FAILURES = {
    "check_no_attributes_set_in_init": (
        "skorch's NeuralNet.__init__ sets history_, initialized_ and virtual_params_ itself"
    ),
    "check_do_not_raise_errors_in_init_or_set_params": (
        "skorch's set_params re-initialises the callbacks, so a nonsense 'callbacks' value fails at once"
    ),
    "check_estimators_partial_fit_n_features": TABULAR,
    "check_positive_only_tag_during_fit": TABULAR,
    "check_estimators_empty_data_messages": TABULAR + " (empty image stacks get their own message)",
    "check_estimators_nan_inf": TABULAR + " (NaN and inf pixels get their own message)",
    "check_classifiers_one_label": TABULAR,
    "check_classifiers_one_label_sample_weights": TABULAR,
    "check_classifiers_regression_target": TABULAR + " (non-integer labels get their own message)",
    "check_fit2d_1sample": TABULAR,
    "check_fit2d_1feature": TABULAR,
    "check_dtype_object": TABULAR + " (object arrays get their own message)",
}
for check in [
    "check_fit_score_takes_y", "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self", "check_readonly_memmap_input", "check_n_features_in_after_fitting",
    "check_estimators_dtypes", "check_pipeline_consistency", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_classifier_data_not_an_array", "check_classifiers_classes",
    "check_classifiers_train", "check_supervised_y_2d", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_dict_unchanged", "check_fit_idempotent",
    "check_fit_check_is_fitted", "check_n_features_in", "check_fit2d_predict1d",
]:
    EXPECTED_FAILURES[check] = TABULAR


BANK = "feeds 2-D tabular X; the generator's fit takes a bank of 28x28 digits, (n, 28, 28) or (n, 784)"
GENERATOR_EXPECTED_FAILURES = {check: BANK for check in [
    "check_complex_data", "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object",
    "check_estimator_sparse_array", "check_estimator_sparse_matrix", "check_estimator_sparse_tag",
    "check_estimators_dtypes", "check_estimators_empty_data_messages", "check_estimators_fit_returns_self",
    "check_estimators_nan_inf", "check_estimators_overwrite_params", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_fit2d_1feature", "check_fit2d_1sample", "check_fit2d_predict1d",
    "check_fit_check_is_fitted", "check_fit_idempotent", "check_fit_score_takes_y",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance", "check_n_features_in",
    "check_n_features_in_after_fitting", "check_pipeline_consistency", "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
]}


ACCELERATED_EXPECTED_FAILURES = EXPECTED_FAILURES


def expected_failed_checks(estimator):
    if isinstance(estimator, SyntheticDigitsGenerator):
        return GENERATOR_EXPECTED_FAILURES
    if hasattr(estimator, "accelerator"):
        return ACCELERATED_EXPECTED_FAILURES
    return EXPECTED_FAILURES


@parametrize_with_checks(
    [DigitSumClassifier(max_epochs=1, verbose=0), DigitHeadsClassifier(max_epochs=1, verbose=0),
     SyntheticDigitsGenerator(), *ACCELERATED],
    expected_failed_checks=expected_failed_checks,
    xfail_strict=True,
)
@pytest.mark.filterwarnings("ignore")
def test_sklearn_compatible(estimator, check):
    check(estimator)
