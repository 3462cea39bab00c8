"""Heads on a backbone's feature map, and the exact distribution of a digit sum."""

import torch
import torch.nn.functional as F
from torch import nn

N_DIGIT_CLASSES = 10


def log_convolve(log_a, log_b):
    """Log-probabilities of the sum of two independent integer variables.

    ``out[..., s] = logsumexp_d(log_a[..., s - d] + log_b[..., d])``, computed
    in log space so that confident wrong predictions give large finite
    losses, never ``-inf``.

    Parameters
    ----------
    log_a : torch.Tensor of shape (..., m)
        Log-probabilities of values 0..m-1.
    log_b : torch.Tensor of shape (..., k)
        Log-probabilities of values 0..k-1.

    Returns
    -------
    torch.Tensor of shape (..., m + k - 1)

    See Also
    --------
    DigitSumLayer : The sum of several digits, by repeated convolution.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import log_convolve
    >>> coin = torch.tensor([0.5, 0.5]).log()
    >>> log_convolve(coin, coin).exp()
    tensor([0.2500, 0.5000, 0.2500])
    """
    size_b = log_b.shape[-1]
    # Window s of log_a padded with -inf holds log_a[s - size_b + 1 .. s]: against log_b reversed,
    # every pair of values that sums to s, without building index tensors on each call.
    windows = F.pad(log_a, (size_b - 1, size_b - 1), value=float("-inf")).unfold(-1, size_b, 1)
    return torch.logsumexp(windows + log_b.flip(-1)[..., None, :], dim=-1)


class DigitSumLayer(nn.Module):
    """Exact log-distribution of the sum from per-position digit logits.

    The digits at different positions are independent given the image, so
    the distribution of their sum is the convolution of the per-position
    distributions: ``P(S = s) = sum over d_1 + ... + d_n = s of prod_i p_i(d_i)``.

    Input: logits of shape (N, n_digits, 10). Output: log-probabilities of
    shape (N, 9 * n_digits + 1) over the sums 0..9 * n_digits.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import DigitSumLayer
    >>> logits = torch.full((1, 2, 10), -50.0)
    >>> logits[0, 0, 3] = logits[0, 1, 4] = 50.0   # surely 3 and 4
    >>> int(DigitSumLayer()(logits).argmax())
    7
    """

    def forward(self, digit_logits):
        log_probs = torch.log_softmax(digit_logits.float(), dim=-1)
        total = log_probs[:, 0]
        for position in range(1, log_probs.shape[1]):
            total = log_convolve(total, log_probs[:, position])
        return total


class DigitHeads(nn.Module):
    """A 10-way linear digit classifier read at each digit position, shared by the positions by default.

    The feature map is average-pooled to ``n_digits`` columns, one per digit
    slot (a 1x1 map, as the baseline ConvNet gives, serves every position);
    the classifier reads column ``i`` for the digit at position ``i``.

    Parameters
    ----------
    in_channels : int
        Channels of the backbone's feature map.
    n_digits : int
        Digit positions.
    shared : bool, default=True
        Whether all positions use the same weights. Sum labels alone cannot
        tell independent heads from heads that read one position's digit as
        ``d + 1`` and another's as ``d - 1``: every sum stays right except at
        the ends of the digit range, and training settles there (measured:
        98% per-digit accuracy at two positions, 10% at the other two). One
        shared classifier cannot shift one position without shifting all,
        which changes the sum, so it learns the digits themselves.
    dropout : float, default=0.0
        Dropout rate on the pooled features during training.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import DigitHeads
    >>> DigitHeads(in_channels=64, n_digits=4)(torch.zeros(2, 64, 7, 28)).shape
    torch.Size([2, 4, 10])
    """

    def __init__(self, in_channels, n_digits, shared=True, dropout=0.0):
        super().__init__()
        n_heads = 1 if shared else n_digits
        self.n_digits = n_digits
        self.pool = nn.AdaptiveAvgPool2d((1, n_digits))
        self.dropout = nn.Dropout(dropout)
        self.weight = nn.Parameter(torch.empty(n_heads, in_channels, N_DIGIT_CLASSES))
        self.bias = nn.Parameter(torch.zeros(n_heads, N_DIGIT_CLASSES))
        bound = in_channels ** -0.5
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, features):
        columns = self.dropout(self.pool(features).flatten(2))  # (N, C, n_digits)
        weight = self.weight.expand(self.n_digits, -1, -1)
        return torch.einsum("ncp,pck->npk", columns, weight) + self.bias.expand(self.n_digits, -1)


class SumHead(nn.Module):
    """Direct sum classifier: pooled per-slot features, then a small MLP.

    Adding is not a linear function of digit features, so one hidden layer
    sits between the pooled features and the ``n_classes`` sum logits.

    Parameters
    ----------
    in_channels : int
        Channels of the backbone's feature map.
    n_digits : int
        Digit positions (the map is pooled to this many columns).
    n_classes : int
        Possible sums.
    hidden_units : int, default=256
        Width of the hidden layer.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import SumHead
    >>> SumHead(in_channels=64, n_digits=4, n_classes=37)(torch.zeros(2, 64, 7, 28)).shape
    torch.Size([2, 37])
    """

    def __init__(self, in_channels, n_digits, n_classes, hidden_units=256):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d((1, n_digits))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_channels * n_digits, hidden_units),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_units, n_classes),
        )

    def forward(self, features):
        return self.classifier(self.pool(features))
