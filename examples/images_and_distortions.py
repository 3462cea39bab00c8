"""
Composed images, synthetic images, and the distortions of training
==================================================================

Three kinds of images a model meets: the embedded digits composed side by
side (``make_digit_sums``), synthetic images drawn by a
``SyntheticDigitsGenerator``, and the random distortions every training batch
gets (``augment=True``), which the network applies in training mode only.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from sk_digitsum import SyntheticDigitsGenerator  # noqa: E402
from sk_digitsum.datasets import load_digit_bank, make_digit_sums  # noqa: E402
from sk_digitsum.nn import SlotAugment, as_image_batch  # noqa: E402

bank = load_digit_bank()
X, sums, digits = make_digit_sums(*bank, n_samples=3, random_state=0)
generator = SyntheticDigitsGenerator(random_state=0).fit(*bank)
X_synthetic, sums_synthetic, _ = generator.sample(3)
torch.manual_seed(0)
distort = SlotAugment(n_digits=4).train()       # in eval mode it passes images through
distorted = distort(as_image_batch(torch.from_numpy(X)))[:, 0].numpy()
print("composed sums:", sums, "synthetic sums:", sums_synthetic)

fig, axes = plt.subplots(3, 3, figsize=(9, 2.6))
rows = [("composed", X, sums), ("synthetic", X_synthetic, sums_synthetic),
        ("distorted", distorted, sums)]
for row, (name, images, totals) in zip(axes, rows):
    for ax, image, total in zip(row, images, totals):
        ax.imshow(image, cmap="gray")
        ax.set_title(f"{name}, sum {total}", fontsize=9)
        ax.axis("off")
fig.tight_layout()
