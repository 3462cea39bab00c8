import re

import numpy as np
import pytest

from sk_digitsum import DigitHeadsClassifier, DigitSumClassifier

plotting = pytest.importorskip("sk_digitsum.plotting")
pytest.importorskip("matplotlib")

FAST = dict(max_epochs=3, verbose=0, random_state=0, module__width=8)


@pytest.fixture(scope="module")
def fitted(small_data):
    X, y, _ = small_data
    return {"heads": DigitHeadsClassifier(**FAST).fit(X, y), "sum": DigitSumClassifier(**FAST).fit(X, y)}


@pytest.mark.parametrize("per", ["epoch", "step"])
def test_plot_history_draws_one_line_per_model_and_key_from_the_history(fitted, per):
    ax = plotting.plot_history(fitted, keys=("train_loss", "valid_acc"), per=per)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {f"{name}: {key}" for name in fitted for key in ("train_loss", "valid_acc")}
    for name, model in fitted.items():
        line = lines[f"{name}: train_loss"]
        np.testing.assert_allclose(line.get_ydata(), model.history_[:, "train_loss"])
        steps_per_epoch = [len(epoch["batches"]) - sum("valid_loss" in batch for batch in epoch["batches"])
                           for epoch in model.history_]
        expected_x = np.arange(1, 4) if per == "epoch" else np.cumsum(steps_per_epoch)
        np.testing.assert_array_equal(line.get_xdata(), expected_x)
    assert ax.get_xlabel() == ("epoch" if per == "epoch" else "optimizer step")


def test_plot_history_of_one_model_names_the_curve_by_class(fitted):
    ax = plotting.plot_history(fitted["sum"])
    assert [line.get_label() for line in ax.get_lines()] == ["DigitSumClassifier"]


@pytest.mark.parametrize("name", ["heads", "sum"])
def test_plot_errors_titles_each_misread_image_consistently(fitted, small_data, name):
    X, y, digits = small_data
    model = fitted[name]
    wrong = np.flatnonzero(model.predict(X) != y)
    assert len(wrong)  # three epochs on 64 images leave misreads to draw
    fig = plotting.plot_errors(model, X, digits, max_images=5)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == min(5, len(wrong))
    for title, index in zip(titles, wrong):
        assert title.startswith(f"true {''.join(map(str, digits[index]))} = {y[index]} | read ")
        read = title.split(" | read ")[1]
        if name == "heads":
            shown, total = re.match(r"(\d{4}) = (\d+)", read).groups()
            assert sum(map(int, shown)) == int(total)  # the digits shown add up to the sum shown beside them
            predicted = int(read.split("likeliest sum ")[1]) if "likeliest" in read else int(total)
        else:
            predicted = int(read)
        assert predicted == model.predict(X[index:index + 1])[0]


@pytest.mark.parametrize("n_cols", [1, 3])
def test_plot_errors_lays_the_images_out_in_n_cols_columns(fitted, small_data, n_cols):
    X, _, digits = small_data
    fig = plotting.plot_errors(fitted["heads"], X, digits, max_images=5, n_cols=n_cols)
    shown = min(5, int(np.sum(fitted["heads"].predict(X) != digits.sum(1))))
    grid = fig.axes[0].get_subplotspec().get_gridspec()
    assert (grid.ncols, grid.nrows) == (n_cols, -(-shown // n_cols))
