"""Reading the digits off the reader's column distributions."""

import numpy as np

from sk_digitsum._reading import NO_DIGIT, read_columns


def one_hot(*rows):
    return np.eye(NO_DIGIT + 1)[np.array(rows)]


def test_runs_read_one_digit_left_to_right_and_nothing_separates_equal_digits():
    _ = NO_DIGIT
    proba = one_hot([7, 7, _, 7, 2, 2, _, _],
                    [_, _, _, _, _, _, _, _],
                    [_, 0, _, _, 9, 9, 9, 1])
    digits, centres = read_columns(proba, image_width=80, max_digits=4)
    np.testing.assert_array_equal(digits, [[7, 7, 2, -1], [-1, -1, -1, -1], [0, 9, 1, -1]])
    # Columns of 10 pixels: a run of columns a..b (exclusive) is centred at 5 * (a + b).
    np.testing.assert_array_equal(centres, [[10, 35, 50, np.nan], [np.nan] * 4, [15, 55, 75, np.nan]])


def test_readings_of_more_digits_than_the_output_holds_keep_the_first():
    digits, centres = read_columns(one_hot([1, 2, 3, 4, 5]), image_width=50, max_digits=3)
    np.testing.assert_array_equal(digits, [[1, 2, 3]])
    np.testing.assert_array_equal(centres, [[5, 15, 25]])


def test_only_the_most_probable_symbol_of_each_column_counts():
    logits = np.log(one_hot([4, NO_DIGIT]) * 0.6 + 0.04)
    assert read_columns(logits, image_width=20, max_digits=2)[0].tolist() == [[4, -1]]
