"""Training criteria.

Each criterion takes the network's output and the sums of the images (-1
for an unlabelled image); the digit-heads loss also takes the digits where
they are known (-1 where only the sum is). ``synthetic`` flags rows drawn from
a synthetic source, whose loss is scaled by ``synthetic_weight``.

Unlabelled images learn from a teacher: ``teacher`` holds its outputs for
the whole batch (only the unlabelled rows are read), computed on the
images without augmentation; where it is confident (probability at least
``threshold``) its reading is the target for the network's output on the
augmented image (FixMatch's consistency loss), weighted by
``unlabelled_weight``. Without a teacher (validation), unlabelled images add
no loss and the mean runs over the labelled images.

Every row's loss is computed and the rows are combined with masks, never
selected by boolean indexing: the losses have no data-dependent shapes, so
``torch.compile`` traces them whole and a GPU never waits on a row count.
"""

import torch
from torch import nn
from torch.nn import functional as F

from .._reading import NO_DIGIT
from .heads import DigitSumLayer, ReadingSumLayer


class _SemiSupervisedLoss(nn.Module):
    """The parts the criteria share: the weights, and how labelled and unlabelled rows combine."""

    def __init__(self, synthetic_weight=1.0, unlabelled_weight=1.0, threshold=0.95):
        super().__init__()
        self.synthetic_weight = synthetic_weight
        self.unlabelled_weight = unlabelled_weight
        self.threshold = threshold

    def _mean_loss(self, outputs, labelled_losses, labelled, synthetic, teacher):
        """The weighted mean of ``labelled_losses`` where ``labelled``, pseudo-label losses elsewhere.

        ``outputs`` has the classes in its last dimension; so has ``teacher``.
        """
        losses = torch.where(labelled, labelled_losses, 0.0)
        if teacher is None:  # validation: only the labelled images count
            counted = labelled.to(losses.dtype)
            total = counted.sum().clamp(min=1)
        else:
            confidence, target = torch.softmax(teacher.float(), dim=-1).max(dim=-1)
            pseudo = F.cross_entropy(outputs.movedim(-1, 1), target, reduction="none") * (confidence >= self.threshold)
            losses = torch.where(labelled, losses, self.unlabelled_weight * pseudo.reshape(len(pseudo), -1).mean(dim=1))
            counted, total = 1.0, len(losses)
        weights = counted if synthetic is None else counted * torch.where(synthetic.bool(), self.synthetic_weight, 1.0)
        return (losses * weights).sum() / total


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
        labelled = sums >= 0
        losses = F.cross_entropy(logits, sums.clamp(min=0), reduction="none")
        return self._mean_loss(logits, losses, labelled, synthetic, teacher)


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
        labelled = sums >= 0
        sum_nll = -self.sum_layer(digit_logits).gather(1, sums.clamp(min=0)[:, None]).squeeze(1)
        if digits is None:
            losses = sum_nll
        else:
            per_digit = F.cross_entropy(digit_logits.transpose(1, 2), digits.clamp(min=0), reduction="none")
            losses = torch.where(digits[:, 0] >= 0, per_digit.mean(dim=1), sum_nll)
        return self._mean_loss(digit_logits, losses, labelled, synthetic, teacher)


class DigitReaderLoss(_SemiSupervisedLoss):
    """Loss of the column reader (:class:`~sk_digitsum.nn.DigitReader`), from digit sequences or sums alone.

    Rows with their digits (left to right, -1 past the last) take the CTC
    loss of that sequence over the column readings, with "no digit" as the
    blank. Rows with only a sum take the negative log-likelihood of that sum
    under the exact sum distribution (:class:`~sk_digitsum.nn.ReadingSumLayer`).
    Unlabelled rows learn the sum the teacher reads, where it is confident:
    a sum is the same however the augmentation moved the digits between
    columns, which a per-column target is not.

    Parameters
    ----------
    max_digits : int
        The most digits an image holds.
    synthetic_weight : float, default=1.0
        Weight of rows flagged as synthetic.
    unlabelled_weight : float, default=1.0
        Weight of the pseudo-label loss of unlabelled rows.
    threshold : float, default=0.95
        Teacher confidence in a sum from which its pseudo-label is used.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import DigitReaderLoss
    >>> logits = torch.zeros(2, 21, 11)                      # every symbol equally likely in every column
    >>> sums = torch.tensor([7, 12])
    >>> digits = torch.tensor([[3, 4, -1, -1, -1, -1],      # digits known: 3 then 4
    ...                        [-1, -1, -1, -1, -1, -1]])   # only the sum (12) known
    >>> float(DigitReaderLoss(max_digits=6)(logits, sums, digits)) > 0
    True
    """

    def __init__(self, max_digits, synthetic_weight=1.0, unlabelled_weight=1.0, threshold=0.95):
        super().__init__(synthetic_weight, unlabelled_weight, threshold)
        self.sum_layer = ReadingSumLayer(max_digits)

    def forward(self, column_logits, sums, digits=None, synthetic=None, teacher=None):
        column_logits = column_logits.float()
        labelled = sums >= 0
        sum_log_probs = self.sum_layer(column_logits)
        losses = -sum_log_probs.gather(1, sums.clamp(min=0)[:, None]).squeeze(1)
        if digits is not None:
            lengths = (digits >= 0).sum(dim=1)
            log_probs = torch.log_softmax(column_logits, dim=-1).transpose(0, 1)  # (columns, N, 11), as CTC takes
            columns = torch.full_like(lengths, log_probs.shape[0])
            sequence = F.ctc_loss(log_probs, digits.clamp(min=0), columns, lengths, blank=NO_DIGIT,
                                  reduction="none", zero_infinity=True)
            losses = torch.where(lengths > 0, sequence, losses)
        teacher_sums = None if teacher is None else self.sum_layer(teacher)
        return self._mean_loss(sum_log_probs, losses, labelled, synthetic, teacher_sums)
