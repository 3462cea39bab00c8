"""
Synthetic images alone, or mixed with real sum labels
=====================================================

The generator distorts bank digits (rotation, scale, shifts into the
neighbouring slot, stroke width, noise) and knows every digit, so it can
train the heads directly, alone or beside real sum-labelled images.
"""

import os


from sk_digitsum import DigitHeadsClassifier, SyntheticDigitsGenerator
from sk_digitsum.datasets import load_digit_bank, make_digit_sums, split_digit_bank

FAST = os.environ.get("SK_DIGITSUM_EXAMPLES_FAST") == "1"
EPOCHS = 1 if FAST else 6

train_bank, test_bank = split_digit_bank(*load_digit_bank())
X_test, y_test, _ = make_digit_sums(*test_bank, 1000, random_state=1)

generator = SyntheticDigitsGenerator(random_state=0).fit(*train_bank)
X_synthetic, _, digits = generator.sample(300 if FAST else 5000)
synthetic_only = DigitHeadsClassifier(max_epochs=EPOCHS, random_state=0, verbose=0).fit(X_synthetic, digits)
print(f"synthetic only:          {synthetic_only.score(X_test, y_test):.3f}")

X_real, y_real, _ = make_digit_sums(*train_bank, 300 if FAST else 5000, random_state=0)
mixed = DigitHeadsClassifier(synthetic=generator, synthetic_weight=1.0, max_epochs=EPOCHS, random_state=0,
                             verbose=0).fit(X_real, y_real)
print(f"real sums + synthetic:   {mixed.score(X_test, y_test):.3f}")
