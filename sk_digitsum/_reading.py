"""What a column reader read: its digits and where, from the column probabilities (numpy alone).

The estimators and prediction without torch (:mod:`sk_digitsum.runtime`)
share it.
"""

import numpy as np

N_DIGIT_CLASSES = 10
NO_DIGIT = N_DIGIT_CLASSES  # the reader's symbol for a column that reads no digit


def read_columns(column_proba, image_width, max_digits):
    """The digits read by the most probable symbol of each column, left to right, and their centres.

    A run of columns that read one digit reads it once; "no digit" separates
    runs (as CTC decodes).

    Parameters
    ----------
    column_proba : ndarray of shape (n, columns, 11)
        Symbol probabilities of each column (or logits: only the largest counts).
    image_width : int
        Width of the images in pixels, to place the columns.
    max_digits : int
        Width of the output; readings of more digits keep their first ``max_digits``.

    Returns
    -------
    digits : ndarray of shape (n, max_digits), dtype int64
        The digits read, left to right, -1 past the last.
    centres : ndarray of shape (n, max_digits), dtype float64
        The centre of each digit read, in pixels from the left edge; NaN past the last.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_digitsum._reading import read_columns
    >>> symbols = np.array([[10, 3, 3, 10, 3, 4, 4, 10]])       # 10: no digit
    >>> read_columns(np.eye(11)[symbols], image_width=64, max_digits=4)
    (array([[ 3,  3,  4, -1]]), array([[16., 36., 48., nan]]))
    """
    best = np.asarray(column_proba).argmax(axis=2)
    column_width = image_width / best.shape[1]
    digits = np.full((len(best), max_digits), -1, dtype=np.int64)
    centres = np.full((len(best), max_digits), np.nan)
    for row, symbols in enumerate(best):
        found, start = 0, None
        for column, symbol in enumerate([*symbols, NO_DIGIT]):
            if start is not None and symbol != symbols[start]:
                if found < max_digits:
                    digits[row, found] = symbols[start]
                    centres[row, found] = (start + column) / 2 * column_width
                found, start = found + 1, None
            if start is None and symbol != NO_DIGIT:
                start = column
    return digits, centres
