"""Training criteria.

Each criterion takes the network's output and the sums of the images; the
digit-heads loss also takes the digits where they are known (-1 where only
the sum is). ``synthetic`` flags rows drawn from a synthetic source, whose
loss is scaled by ``synthetic_weight``.
"""

import torch
from torch import nn
from torch.nn import functional as F

from .heads import DigitSumLayer


def _weighted_mean(losses, synthetic, synthetic_weight):
    if synthetic is None:
        return losses.mean()
    weights = torch.where(synthetic.bool(), synthetic_weight, 1.0).to(losses.dtype)
    return (losses * weights).mean()


class SumLoss(nn.Module):
    """Cross-entropy of sum logits against the sums.

    Parameters
    ----------
    synthetic_weight : float, default=1.0
        Weight of rows flagged as synthetic.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import SumLoss
    >>> float(SumLoss()(torch.zeros(1, 37), torch.tensor([7]))) == float(torch.log(torch.tensor(37.0)))
    True
    """

    def __init__(self, synthetic_weight=1.0):
        super().__init__()
        self.synthetic_weight = synthetic_weight

    def forward(self, logits, sums, digits=None, synthetic=None):
        losses = F.cross_entropy(logits.float(), sums, reduction="none")
        return _weighted_mean(losses, synthetic, self.synthetic_weight)


class DigitHeadsLoss(nn.Module):
    """Loss of the digit heads, from digit labels or from sums alone.

    Rows with digit labels take the mean cross-entropy of the heads. Rows
    with only a sum take the negative log-likelihood of that sum under the
    exact sum distribution (:class:`~sk_digitsum.nn.DigitSumLayer`).

    Parameters
    ----------
    synthetic_weight : float, default=1.0
        Weight of rows flagged as synthetic.

    See Also
    --------
    sk_digitsum.nn.DigitSumLayer : The exact sum distribution.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import DigitHeadsLoss
    >>> logits = torch.zeros(2, 4, 10)                        # uniform digits
    >>> sums = torch.tensor([10, 0])
    >>> digits = torch.tensor([[1, 2, 3, 4],                  # digits known
    ...                        [-1, -1, -1, -1]])             # only the sum (0) known
    >>> round(float(DigitHeadsLoss()(logits, sums, digits)), 3)    # (log 10 + log 10**4) / 2
    5.756
    """

    def __init__(self, synthetic_weight=1.0):
        super().__init__()
        self.synthetic_weight = synthetic_weight
        self.sum_layer = DigitSumLayer()

    def forward(self, digit_logits, sums, digits=None, synthetic=None):
        digit_logits = digit_logits.float()
        if digits is None:
            losses = -self.sum_layer(digit_logits).gather(1, sums[:, None]).squeeze(1)
            return _weighted_mean(losses, synthetic, self.synthetic_weight)
        has_digits = digits[:, 0] >= 0
        losses = torch.zeros(len(sums), device=digit_logits.device)
        if has_digits.any():
            per_digit = F.cross_entropy(digit_logits[has_digits].transpose(1, 2), digits[has_digits],
                                        reduction="none")
            losses[has_digits] = per_digit.mean(dim=1)
        if not has_digits.all():
            sum_only = ~has_digits
            log_probs = self.sum_layer(digit_logits[sum_only])
            losses[sum_only] = -log_probs.gather(1, sums[sum_only, None]).squeeze(1)
        return _weighted_mean(losses, synthetic, self.synthetic_weight)
