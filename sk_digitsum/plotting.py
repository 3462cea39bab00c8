"""Plots: training curves and a grid of misread images (needs matplotlib)."""

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("Plotting needs matplotlib: pip install 'sk_digitsum[plot]'.") from error
    return plt


@validate_params({"models": "no_validation", "keys": [list, tuple], "per": [StrOptions({"epoch", "step"})],
                  "ax": "no_validation"}, prefer_skip_nested_validation=True)
def plot_history(models, keys=("valid_acc",), *, per="epoch", ax=None):
    """Plot training curves of one or more fitted estimators.

    Parameters
    ----------
    models : estimator or dict of str to estimator
        Fitted estimators; a dict names each curve.
    keys : sequence of str, default=("valid_acc",)
        History columns to plot, e.g. ``"train_loss"``, ``"valid_loss"``.
    per : {"epoch", "step"}, default="epoch"
        x axis: epochs, or optimizer steps (batches seen).
    ax : matplotlib Axes or None, default=None
        Where to draw; a new figure if None.

    Returns
    -------
    ax : matplotlib Axes

    See Also
    --------
    plot_errors : The images a model misreads.

    Examples
    --------
    >>> from sk_digitsum import DigitSumClassifier
    >>> from sk_digitsum.datasets import load_digit_bank, make_digit_sums
    >>> from sk_digitsum.plotting import plot_history
    >>> X, y, _ = make_digit_sums(*load_digit_bank(), n_samples=40, random_state=0)
    >>> models = {beta: DigitSumClassifier(ema_beta=beta, max_epochs=2, verbose=0).fit(X, y) for beta in (None, 0.9)}
    >>> ax = plot_history(models, keys=("valid_acc",), per="step")
    """
    plt = _pyplot()
    if not isinstance(models, dict):
        models = {type(models).__name__: models}
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for name, model in models.items():
        check_is_fitted(model, "image_shape_")
        history = model.history_
        x = np.arange(1, len(history) + 1)
        if per == "step":
            x = np.cumsum([sum(batch.get("train_batch_size", 0) > 0 for batch in epoch["batches"])
                           for epoch in history])
        for key in keys:
            values = [epoch.get(key, np.nan) for epoch in history]
            label = name if len(keys) == 1 else f"{name}: {key}"
            ax.plot(x, values, marker="o", markersize=3, label=label)
    ax.set_xlabel("optimizer step" if per == "step" else "epoch")
    ax.set_ylabel(keys[0] if len(keys) == 1 else "value")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


@validate_params({"model": "no_validation", "X": ["array-like"], "y": ["array-like"],
                  "max_images": [Interval(numbers.Integral, 1, None, closed="left")],
                  "n_cols": [Interval(numbers.Integral, 1, None, closed="left")]},
                 prefer_skip_nested_validation=True)
def plot_errors(model, X, y, *, max_images=24, n_cols=4):
    """Draw the images whose sum the model gets wrong, with true and predicted values.

    Each title gives the true digits (when ``y`` holds them) and sum, then
    what the model read: for a digit-heads model the most probable digit at
    each position and their sum, followed by the predicted sum (the most
    probable under the exact sum distribution) where that differs.

    Parameters
    ----------
    model : fitted DigitSumClassifier or DigitHeadsClassifier
    X : array-like of shape (n_samples, H, W)
        Images.
    y : array-like of shape (n_samples,) or (n_samples, n_digits)
        True sums or digits; digits are shown when given.
    max_images : int, default=24
        At most this many misread images.
    n_cols : int, default=4
        Grid columns.

    Returns
    -------
    fig : matplotlib Figure

    Examples
    --------
    >>> from sk_digitsum import DigitHeadsClassifier
    >>> from sk_digitsum.datasets import load_digit_bank, make_digit_sums
    >>> from sk_digitsum.plotting import plot_errors
    >>> X, y, digits = make_digit_sums(*load_digit_bank(), n_samples=40, random_state=0)
    >>> clf = DigitHeadsClassifier(max_epochs=1, verbose=0).fit(X, y)
    >>> fig = plot_errors(clf, X, digits, max_images=8)
    """
    from ._validation import target_sums

    plt = _pyplot()
    X = np.asarray(X)
    y = np.asarray(y)
    max_digits = getattr(model, "max_digits", None)
    true_sums = target_sums(y, max_digits or model.n_digits, free_layout=max_digits is not None)
    predicted = model.predict(X)
    wrong = np.flatnonzero(predicted != true_sums)[:max_images]
    read = model.predict_digits(X[wrong]) if hasattr(model, "predict_digits") and len(wrong) else None
    n_rows = max(1, int(np.ceil(len(wrong) / n_cols)))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.2 * n_cols, 1.3 * n_rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, index, position in zip(axes.ravel(), wrong, range(len(wrong))):
        ax.imshow(X[index].reshape(X.shape[-2:]), cmap="gray", vmin=0, vmax=255 if X.dtype == np.uint8 else 1)
        truth = f"{true_sums[index]}"
        if y.ndim == 2:
            truth = "".join(map(str, y[index][y[index] >= 0])) + f" = {truth}"
        ax.set_title(f"true {truth} | read {_reading(predicted[index], None if read is None else read[position])}",
                     fontsize=8)
    if not len(wrong):
        axes[0, 0].set_title("no errors")
    fig.tight_layout()
    return fig


def _reading(predicted_sum, digits):
    """A misread image's title part: the digits read and their sum, then the predicted sum where it differs.

    The predicted sum is the most probable under the sum distribution; the
    most probable digit at each position may add up to another sum.
    """
    if digits is None:
        return f"{predicted_sum}"
    digits = digits[digits >= 0]  # a reader of digits anywhere pads with -1
    text = "".join(map(str, digits)) + f" = {digits.sum()}"
    return text if digits.sum() == predicted_sum else f"{text}, likeliest sum {predicted_sum}"
