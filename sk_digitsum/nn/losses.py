"""Training criteria.

Targets come as an int64 tensor of shape (N, n_digits + 2): the digits (-1
where unknown), the sum, and a flag that marks rows drawn from a synthetic
source, whose loss is scaled by ``synthetic_weight``.
"""

import torch
from torch import nn
from torch.nn import functional as F

from .heads import DigitSumLayer


def _weighted_mean(losses, targets, synthetic_weight):
    weights = torch.where(targets[:, -1] > 0, synthetic_weight, 1.0).to(losses.dtype)
    return (losses * weights).mean()


class SumLoss(nn.Module):
    """Cross-entropy of sum logits against the sum column of the targets.

    Parameters
    ----------
    synthetic_weight : float, default=1.0
        Weight of rows flagged as synthetic.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import SumLoss
    >>> targets = torch.tensor([[-1, -1, -1, -1, 7, 0]])      # sum 7, digits unknown
    >>> float(SumLoss()(torch.zeros(1, 37), targets)) == float(torch.log(torch.tensor(37.0)))
    True
    """

    def __init__(self, synthetic_weight=1.0):
        super().__init__()
        self.synthetic_weight = synthetic_weight

    def forward(self, logits, targets):
        losses = F.cross_entropy(logits.float(), targets[:, -2], reduction="none")
        return _weighted_mean(losses, targets, self.synthetic_weight)


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
    >>> targets = torch.tensor([[1, 2, 3, 4, 10, 0],          # digits known
    ...                         [-1, -1, -1, -1, 0, 0]])      # only the sum (0) known
    >>> round(float(DigitHeadsLoss()(logits, targets)), 3)    # (log 10 + log 10**4) / 2
    5.756
    """

    def __init__(self, synthetic_weight=1.0):
        super().__init__()
        self.synthetic_weight = synthetic_weight
        self.sum_layer = DigitSumLayer()

    def forward(self, digit_logits, targets):
        digit_logits = digit_logits.float()
        digits, sums = targets[:, :-2], targets[:, -2]
        has_digits = digits[:, 0] >= 0
        losses = torch.zeros(len(targets), device=digit_logits.device)
        if has_digits.any():
            per_digit = F.cross_entropy(digit_logits[has_digits].transpose(1, 2), digits[has_digits],
                                        reduction="none")
            losses[has_digits] = per_digit.mean(dim=1)
        if not has_digits.all():
            sum_only = ~has_digits
            log_probs = self.sum_layer(digit_logits[sum_only])
            losses[sum_only] = -log_probs.gather(1, sums[sum_only, None]).squeeze(1)
        return _weighted_mean(losses, targets, self.synthetic_weight)
