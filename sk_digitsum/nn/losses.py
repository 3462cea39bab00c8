"""Training criteria.

Each criterion takes the network's output and the sums of the images (-1
for an unlabelled image); the digit-heads loss also takes the digits where
they are known (-1 where only the sum is). ``synthetic`` flags rows drawn from
a synthetic source, whose loss is scaled by ``synthetic_weight``.

Unlabelled images learn from a teacher: ``teacher`` holds its outputs on
those images (un-augmented), and where it is confident (probability at least
``threshold``) its reading is the target for the network's output on the
augmented image (FixMatch's consistency loss), weighted by
``unlabelled_weight``. Without a teacher (validation), unlabelled images add
no loss.
"""

import torch
from torch import nn
from torch.nn import functional as F

from .heads import DigitSumLayer


def _weighted_mean(losses, synthetic, synthetic_weight, counted=None):
    weights = torch.ones_like(losses) if synthetic is None else torch.where(synthetic.bool(), synthetic_weight, 1.0)
    if counted is not None:
        weights = weights * counted
    total = (losses * weights.to(losses.dtype)).sum()
    return total / (len(losses) if counted is None else counted.sum().clamp(min=1))


def _pseudo_label_loss(logits, teacher, threshold):
    """Cross-entropy against the teacher's confident readings; 0 where it is unsure.

    ``logits`` and ``teacher`` have the classes in their last dimension.
    """
    confidence, target = torch.softmax(teacher.float(), dim=-1).max(dim=-1)
    losses = F.cross_entropy(logits.movedim(-1, 1), target, reduction="none")
    return losses * (confidence >= threshold)


class _SemiSupervisedLoss(nn.Module):
    """The parts the criteria share: weights, and the split of a batch into labelled and unlabelled rows."""

    def __init__(self, synthetic_weight=1.0, unlabelled_weight=1.0, threshold=0.95):
        super().__init__()
        self.synthetic_weight = synthetic_weight
        self.unlabelled_weight = unlabelled_weight
        self.threshold = threshold

    def _mean_loss(self, outputs, sums, synthetic, teacher, labelled_losses):
        """Labelled rows by ``labelled_losses(rows)``, unlabelled ones from the teacher; the weighted mean."""
        unlabelled = sums < 0
        losses = torch.zeros(len(sums), device=outputs.device)
        if (~unlabelled).any():
            losses[~unlabelled] = labelled_losses(~unlabelled)
        counted = None
        if teacher is None:  # validation: only the labelled images count
            counted = (~unlabelled).to(losses.dtype)
        elif unlabelled.any():
            pseudo = _pseudo_label_loss(outputs[unlabelled], teacher, self.threshold)
            losses[unlabelled] = self.unlabelled_weight * pseudo.reshape(len(pseudo), -1).mean(dim=1)
        return _weighted_mean(losses, synthetic, self.synthetic_weight, counted)


class SumLoss(_SemiSupervisedLoss):
    """Cross-entropy of sum logits against the sums.

    Parameters
    ----------
    synthetic_weight : float, default=1.0
        Weight of rows flagged as synthetic.
    unlabelled_weight : float, default=1.0
        Weight of the pseudo-label loss of unlabelled rows.
    threshold : float, default=0.95
        Teacher confidence from which a pseudo-label is used.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import SumLoss
    >>> float(SumLoss()(torch.zeros(1, 37), torch.tensor([7]))) == float(torch.log(torch.tensor(37.0)))
    True
    """

    def forward(self, logits, sums, digits=None, synthetic=None, teacher=None):
        logits = logits.float()
        return self._mean_loss(logits, sums, synthetic, teacher,
                               lambda rows: F.cross_entropy(logits[rows], sums[rows], reduction="none"))


class DigitHeadsLoss(_SemiSupervisedLoss):
    """Loss of the digit heads, from digit labels or from sums alone.

    Rows with digit labels take the mean cross-entropy of the heads. Rows
    with only a sum take the negative log-likelihood of that sum under the
    exact sum distribution (:class:`~sk_digitsum.nn.DigitSumLayer`).

    Parameters
    ----------
    synthetic_weight : float, default=1.0
        Weight of rows flagged as synthetic.
    unlabelled_weight : float, default=1.0
        Weight of the pseudo-label loss of unlabelled rows (per digit).
    threshold : float, default=0.95
        Teacher confidence in a digit from which its pseudo-label is used.

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

    def __init__(self, synthetic_weight=1.0, unlabelled_weight=1.0, threshold=0.95):
        super().__init__(synthetic_weight, unlabelled_weight, threshold)
        self.sum_layer = DigitSumLayer()

    def forward(self, digit_logits, sums, digits=None, synthetic=None, teacher=None):
        digit_logits = digit_logits.float()
        return self._mean_loss(digit_logits, sums, synthetic, teacher, lambda rows: self._labelled_losses(
            digit_logits[rows], sums[rows], None if digits is None else digits[rows]))

    def _labelled_losses(self, digit_logits, sums, digits):
        """Mean per-digit cross-entropy where the digits are known, sum NLL where only the sum is."""
        if digits is None:
            has_digits = torch.zeros(len(sums), dtype=torch.bool, device=sums.device)
        else:
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
        return losses
