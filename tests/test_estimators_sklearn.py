"""The estimators in scikit-learn's tools: reprs, classes_, meta-estimators that re-encode labels."""

import re

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import StackingClassifier, VotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_predict
from sklearn.pipeline import Pipeline

from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier, SyntheticDigitsGenerator
from sk_digitsum.datasets import load_digit_bank, make_digit_sums

# Meta-estimators that train several networks each.
pytestmark = pytest.mark.slow

FAST = dict(max_epochs=1, verbose=0, random_state=0)
SKORCH_INTERNALS = ("_params_to_validate", "callbacks__", "iterator_train__shuffle")


@pytest.fixture(scope="module")
def data(bank):
    X, y, _ = make_digit_sums(*bank, n_samples=96, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def no_zeros(bank_split):
    """Single digits without any 0: re-encoding shifts every label down by one."""
    train, test = bank_split
    (X, y, _), (X_test, y_test, _) = (make_digit_sums(*bank, n, n_digits=1, random_state=seed)
                                      for bank, n, seed in [(train, 900, 0), (test, 300, 1)])
    return X[y > 0], y[y > 0], X_test[y_test > 0], y_test[y_test > 0]


def test_reprs_in_pipeline_and_grid_search_show_only_changed_parameters():
    pipe = Pipeline([("clf", DigitHeadsClassifier(depth=3))])
    assert repr(pipe) == "Pipeline(steps=[('clf', DigitHeadsClassifier(depth=3))])"
    grid = GridSearchCV(DigitSumClassifier(max_epochs=2), {"ema_beta": [0.9]})
    assert " ".join(repr(grid).split()) == (
        "GridSearchCV(estimator=DigitSumClassifier(max_epochs=2), param_grid={'ema_beta': [0.9]})")


@pytest.mark.parametrize("estimator", [DigitHeadsClassifier(depth=3), Pipeline([("clf", DigitHeadsClassifier(depth=3))])])
def test_html_repr_marks_only_the_parameters_set_as_user_set(estimator):
    html = estimator._repr_html_()
    assert not any(internal in html for internal in SKORCH_INTERNALS)
    user_set = re.findall(r'<tr class="user-set">.*?<td class="param">(?:<a[^>]*>)?([^<]*)', html, re.S)
    assert user_set[-1] == "depth" and "max_epochs" not in user_set


def test_classes_are_the_sums_seen_in_fit_unless_given(data):
    X, y = data
    clf = DigitSumClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.unique(y))
    assert set(clf.predict(X)) <= set(np.unique(y))
    every_sum = DigitHeadsClassifier(**FAST, classes=np.arange(37)).fit(X, y)
    assert every_sum.predict_proba(X).shape == (len(X), 37)
    np.testing.assert_array_equal(every_sum.classes_, np.arange(37))


def test_cross_val_predict_probabilities_of_the_direct_sum_classifier(data):
    X, y = data
    proba = cross_val_predict(DigitSumClassifier(**FAST), X, y, cv=2, method="predict_proba")
    assert proba.shape == (len(X), len(np.unique(y)))
    assert np.isfinite(proba).all()


@pytest.mark.parametrize("make_meta", [
    lambda clf: cross_val_predict(clf, *_tiny(), cv=2, method="predict_proba"),
    lambda clf: StackingClassifier([("heads", clf)], final_estimator=LogisticRegression(), cv=2).fit(*_tiny()),
    lambda clf: VotingClassifier([("heads", clf)], voting="soft").fit(*_tiny()),
], ids=["cross_val_predict", "StackingClassifier", "VotingClassifier"])
@pytest.mark.parametrize("clf", [DigitHeadsClassifier(**FAST), DigitSumClassifier(**FAST, synthetic=SyntheticDigitsGenerator())],
                         ids=["heads", "sum_with_synthetic"])
def test_re_encoding_meta_estimators_stop_before_training_on_shifted_sums(make_meta, clf):
    with pytest.raises(ValueError, match="re-encodes the labels as 0..k-1.*FrozenEstimator"):
        make_meta(clf)


class _LabelSpy(ClassifierMixin, BaseEstimator):
    """Records the labels each fit receives."""

    seen = []

    def fit(self, X, y):
        type(self).seen.append(np.unique(y))
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))

    def predict(self, X):
        return self.classes_[np.zeros(len(X), dtype=int)]


@pytest.mark.parametrize("make_meta", [
    lambda clf, X, y: cross_val_predict(clf, X, y, cv=2, method="predict_proba"),
    lambda clf, X, y: StackingClassifier([("spy", clf)], final_estimator=LogisticRegression(), cv=2).fit(X, y),
    lambda clf, X, y: VotingClassifier([("spy", clf)], voting="soft").fit(X, y),
], ids=["cross_val_predict", "StackingClassifier", "VotingClassifier"])
def test_scikit_learn_still_fits_on_re_encoded_labels(make_meta):
    """The reason for _validation.reencoding_caller: when this fails, these tools pass the sums and the guard can go."""
    X, y = np.zeros((12, 2)), np.repeat([3, 5, 7], 4)
    _LabelSpy.seen = []
    make_meta(_LabelSpy(), X, y)
    assert _LabelSpy.seen and all(np.array_equal(labels, [0, 1, 2]) for labels in _LabelSpy.seen)


def _tiny():
    from sk_digitsum.datasets import load_digit_bank

    X, y, _ = make_digit_sums(*load_digit_bank(), n_samples=32, random_state=3)
    return X, y


def test_direct_sums_through_stacking_and_voting_are_right_although_re_encoded(no_zeros):
    X, y, X_test, y_test = no_zeros
    params = dict(n_digits=1, max_epochs=4, batch_size=32, ema_beta=0.9, verbose=0, random_state=0)
    # What these tools do: train on the ranks 0..8 of the labels 1..9, then map the answers back.
    on_ranks = DigitSumClassifier(**params).fit(X, y - 1)
    vote = VotingClassifier([("sum", DigitSumClassifier(**params))], voting="soft").fit(X, y)
    np.testing.assert_array_equal(vote.predict(X_test), on_ranks.predict(X_test) + 1)
    assert np.mean(vote.predict(X_test) == y_test) > 0.3  # chance is 1/9
    stack = StackingClassifier([("sum", DigitSumClassifier(**params))],
                               final_estimator=LogisticRegression(max_iter=500), cv=2).fit(X, y)
    assert set(stack.predict(X_test)) <= set(range(1, 10))


def test_frozen_digit_heads_in_stacking_and_voting(no_zeros):
    X, y, X_test, y_test = no_zeros
    heads = DigitHeadsClassifier(n_digits=1, max_epochs=4, batch_size=32, ema_beta=0.9, verbose=0,
                                 random_state=0).fit(X, y)
    alone = np.mean(heads.predict(X_test) == y_test)
    assert alone > 0.3  # chance is 1/9
    frozen = FrozenEstimator(heads)
    vote = VotingClassifier([("heads", frozen)], voting="soft").fit(X, y)
    np.testing.assert_array_equal(vote.predict(X_test), heads.predict(X_test))
    stack = StackingClassifier([("heads", frozen)], final_estimator=LogisticRegression(max_iter=500), cv=2)
    assert np.mean(stack.fit(X, y).predict(X_test) == y_test) >= alone - 0.1


def test_calibrated_digit_heads_train_on_the_labels_themselves(no_zeros):
    X, y, X_test, _ = no_zeros
    calibrated = CalibratedClassifierCV(DigitHeadsClassifier(**FAST, n_digits=1), cv=2).fit(X, y)
    proba = calibrated.predict_proba(X_test)
    assert proba.shape == (len(X_test), 9)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    for fold in calibrated.calibrated_classifiers_:
        np.testing.assert_array_equal(fold.estimator.classes_, np.arange(1, 10))  # labels, not ranks 0..8


def test_self_training_pseudo_labels_the_unlabelled_rows_with_the_first_model(data):
    from sklearn.base import clone
    from sklearn.semi_supervised import SelfTrainingClassifier

    X, y = data
    rows = X.reshape(len(X), -1)  # SelfTrainingClassifier takes 2-D X: flattened images
    partial = y.copy()
    partial[48:] = -1
    heads = DigitHeadsClassifier(module__width=8, **FAST)
    self_trained = SelfTrainingClassifier(heads, threshold=0.0, max_iter=1).fit(rows, partial)
    first = clone(heads).fit(rows[:48], y[:48])
    np.testing.assert_array_equal(self_trained.transduction_[48:], first.predict(X[48:]))
    assert (self_trained.labeled_iter_[:48] == 0).all() and (self_trained.labeled_iter_[48:] == 1).all()
    assert self_trained.estimator_.image_shape_ == (28, 112)
    np.testing.assert_array_equal(self_trained.predict(rows), self_trained.estimator_.predict(X))


@pytest.fixture(scope="module")
def prefit_and_new_writers(bank):
    """A model of every sum, and labelled images of new writers to calibrate and to test on."""
    X, y, _ = make_digit_sums(*bank, n_samples=3000, random_state=0)
    clf = DigitHeadsClassifier(max_epochs=4, batch_size=32, verbose=0, random_state=0, classes=np.arange(37)).fit(X, y)
    X_new, y_new, _ = make_digit_sums(*load_digit_bank(subset="test"), n_samples=1000, random_state=1)
    return clf, X_new[:500], y_new[:500], X_new[500:], y_new[500:]


@pytest.mark.parametrize("flattened", [False, True], ids=["image stacks", "flattened rows"])
@pytest.mark.parametrize("conformity_score", ["lac", "aps"])
def test_mapie_split_conformal_sets_on_image_stacks_and_rows(prefit_and_new_writers, flattened, conformity_score):
    from mapie.classification import SplitConformalClassifier

    clf, X_cal, y_cal, X_test, y_test = prefit_and_new_writers
    form = (lambda X: X.reshape(len(X), -1)) if flattened else (lambda X: X)
    conformal = SplitConformalClassifier(estimator=clf, prefit=True, confidence_level=0.9,
                                         conformity_score=conformity_score).conformalize(form(X_cal), y_cal)
    predicted, sets = conformal.predict_set(form(X_test))
    np.testing.assert_array_equal(predicted, clf.predict(X_test))
    covered = sets[np.arange(len(y_test)), np.searchsorted(clf.classes_, y_test), 0]
    assert covered.mean() >= 0.85  # 0.9 promised on average over calibration draws; 500 images vary by ~0.013
    assert sets[:, :, 0].sum(axis=1).mean() < 10, "the sets narrow the 37 sums down"


def test_crepes_wraps_the_estimators_on_image_stacks(prefit_and_new_writers):
    crepes = pytest.importorskip("crepes")
    clf, X_cal, y_cal, X_test, y_test = prefit_and_new_writers
    wrapped = crepes.WrapClassifier(clf)
    wrapped.calibrate(X_cal, y_cal)
    result = wrapped.evaluate(X_test, y_test, confidence=0.9)
    assert result["error"] <= 0.15 and result["avg_c"] < 10
    sets = wrapped.predict_set(X_test, confidence=0.9)  # a list of labels per image
    assert len(sets) == len(X_test) and all(set(labels) <= set(clf.classes_) for labels in sets)
