"""Heads on a backbone's feature map, and the exact distribution of a digit sum."""

import torch
import torch.nn.functional as F
from torch import nn

from .._reading import N_DIGIT_CLASSES, NO_DIGIT


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


class DigitReader(nn.Module):
    """Read a digit, or no digit, in each column of a feature map: digits anywhere, in any number.

    The map is averaged over its height into columns (about 8 pixels of
    image each for DigitNet and ResNet); a convolution over ``context``
    neighbouring columns gives each column the context of its neighbours,
    and a shared classifier scores 11 symbols per column: the digits 0-9 and
    "no digit" (:data:`NO_DIGIT`, the last). A digit usually spans several
    columns: consecutive columns that read the same digit read it once, and
    a column of "no digit" separates two equal digits, as in CTC.
    :class:`ReadingSumLayer` turns the column distributions into the exact
    distribution of the sum.

    Parameters
    ----------
    in_channels : int
        Channels of the backbone's feature map.
    dropout : float, default=0.0
        Dropout rate on the column features during training.
    context : int, default=3
        Columns each column sees through the context convolution (odd).

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import DigitReader
    >>> DigitReader(in_channels=64)(torch.zeros(2, 64, 3, 21)).shape
    torch.Size([2, 21, 11])
    """

    def __init__(self, in_channels, dropout=0.0, context=3):
        super().__init__()
        if context < 1 or context % 2 == 0:
            raise ValueError(f"context must be an odd number of columns, got {context}.")
        self.context = nn.Conv1d(in_channels, in_channels, context, padding=context // 2)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Conv1d(in_channels, N_DIGIT_CLASSES + 1, 1)

    def forward(self, features):
        columns = features.mean(dim=2)  # (N, C, columns)
        hidden = F.relu(self.context(columns))
        return self.classifier(self.dropout(hidden)).transpose(1, 2)


class ReadingSumLayer(nn.Module):
    """Exact log-distribution of the sum of the digits a :class:`DigitReader` reads.

    The columns are independent given the image; a *reading* picks one
    symbol per column, and its digits are the runs of equal digit symbols
    (a run reads one digit; "no digit" separates runs). The probability of
    a sum is that of all the readings of at most ``max_digits`` digits that
    add up to it, computed exactly by a forward pass over the columns whose
    state is the number of digits read so far, their sum and the last
    symbol. Readings of more digits are left out, so the output sums to at
    most 1. Leaving them out matters: it forbids reading a digit as pieces
    that add up to it (a 5 as 1, 3 and 1) wherever an image holds many
    digits, and the shared column classifier then reads whole digits
    everywhere (``benchmarks/digits_anywhere.py``).

    The pass runs on probabilities in float64, rescaled at every column (as
    an HMM's forward algorithm is), over the reachable (count, sum) pairs
    only: several times faster than in log space,
    and a sum stays distinct from impossible, with a gradient, down to a
    probability of 1e-300.

    Parameters
    ----------
    max_digits : int
        The most digits an image holds; sums run over 0..9 * max_digits.

    Input: column logits (N, columns, 11). Output: log-probabilities (N,
    9 * max_digits + 1) of the sums, float32.

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn import ReadingSumLayer
    >>> logits = torch.full((1, 5, 11), -50.0)
    >>> for column, symbol in enumerate([3, 3, 10, 3, 4]):     # 3, 3, no digit, 3, 4: reads 3, 3, 4
    ...     logits[0, column, symbol] = 50.0
    >>> int(ReadingSumLayer(max_digits=3)(logits).argmax())
    10
    """

    def __init__(self, max_digits):
        super().__init__()
        self.max_digits = max_digits
        # A state holds one row of images for each reachable (count, sum) pair, count c with sums 0..9c at
        # offsets[c] + sum, and for one more pair that no reading reaches, whose rows stay zero. A new digit
        # d moves pair (c - 1, s - d) to (c, s): the forward pass reads, for each digit d and pair i, the
        # row source[d, i] of the (digits x pairs) rows, that of the pair d moves to i or else the zero pair.
        counts = torch.arange(max_digits + 1)
        sizes = 9 * counts + 1
        offsets = torch.cumsum(sizes, 0) - sizes
        count = torch.repeat_interleave(counts, sizes)
        total = torch.arange(len(count)) - offsets[count]
        n_pairs = len(count) + 1
        digit_rows = torch.arange(N_DIGIT_CLASSES)[:, None] * n_pairs
        zero_pair = n_pairs - 1
        earlier_total = total - torch.arange(N_DIGIT_CLASSES)[:, None]
        earlier_count = (count - 1).clamp(min=0).expand_as(earlier_total)
        reachable = (count > 0) & (earlier_total >= 0) & (earlier_total <= 9 * earlier_count)
        source = torch.where(reachable, offsets[earlier_count] + earlier_total, zero_pair)
        self.register_buffer("source", (digit_rows + F.pad(source, (0, 1), value=zero_pair)).flatten(),
                             persistent=False)
        # The backward pass goes the other way, pairs being one-to-one: target[d, i] is the row of the pair
        # digit d moves pair i to, or the zero pair's where i already counts max_digits digits.
        later_total = total + torch.arange(N_DIGIT_CLASSES)[:, None]
        later_count = (count + 1).clamp(max=max_digits).expand_as(later_total)
        target = torch.where(count < max_digits, offsets[later_count] + later_total, zero_pair)
        self.register_buffer("target", (digit_rows + F.pad(target, (0, 1), value=zero_pair)).flatten(),
                             persistent=False)
        self.register_buffer("to_sums", F.pad(F.one_hot(total, 9 * max_digits + 1).double(), (0, 0, 0, 1)),
                             persistent=False)

    def forward(self, column_logits):
        # Images on the last axis: the moved rows of every image are then contiguous.
        probs = torch.softmax(column_logits.to(torch.float64), dim=-1).permute(1, 2, 0).contiguous()
        if torch.is_grad_enabled() and probs.requires_grad:
            log_sums = _ReadingSums.apply(probs, self.source, self.target, self.to_sums)
        else:
            log_sums = _reading_pass(probs, self.source, self.to_sums)[0]
        return log_sums.float()


def _reading_pass(probs, source, to_sums, saved=None):
    """The forward pass of :class:`ReadingSumLayer` over column probabilities (columns, 11, N), float64.

    Returns the log-probabilities of the sums (N, n_sums) and the sums' rescaled
    probabilities. ``saved``, a list, receives what the backward pass needs of
    each column (what the digit rows held before the column's digit
    probabilities multiplied them, the total before the column, and the
    rescaling it divides its probabilities by), then the last rescaling.
    """
    n_columns, _, n_images = probs.shape
    n_pairs = len(to_sums)
    # ending_on_digit[d, i, n] and ending_on_nothing[i, n]: probability that the columns so far read the
    # (count, sum) pair i and end on digit d, or on "no digit", divided by exp(log_scale[n]). The next
    # column finds their total (the rescaling) and divides its own probabilities by it, which spares a
    # pass over the state.
    ending_on_digit = probs.new_zeros(N_DIGIT_CLASSES, n_pairs, n_images)
    ending_on_nothing = probs.new_zeros(n_pairs, n_images)
    ending_on_nothing[0] = 1.0
    log_scale = probs.new_zeros(n_images)
    # The (digits x pairs x images) states are written in place into buffers made once per pass: on a CPU,
    # a fresh buffer for each column's result costs the first touch of its pages, and forward and backward
    # took 1.6 times as long with them (benchmarks/results/reading_sum.md).
    # Only the states the backward pass reads take one buffer per column, and not one block for all:
    # one block is large enough for the C library to map it afresh from the system at each pass.
    not_on_digit, before_digit = torch.empty_like(ending_on_digit), torch.empty_like(ending_on_digit)
    for column in range(n_columns):
        so_far = ending_on_digit.sum(dim=0) + ending_on_nothing
        scale = so_far.sum(dim=0)
        log_scale += scale.log()
        # Reading digit d after any other symbol starts a new digit ...
        if saved is not None and column > 0:
            before_digit = torch.empty_like(ending_on_digit)
        torch.sub(so_far, ending_on_digit, out=not_on_digit)
        torch.index_select(not_on_digit.view(-1, n_images), 0, source, out=before_digit.view(-1, n_images))
        # ... and reading d again right after d continues the same one.
        before_digit += ending_on_digit
        column_probs = probs[column] / scale
        torch.mul(column_probs[:NO_DIGIT, None], before_digit, out=ending_on_digit)
        ending_on_nothing = column_probs[NO_DIGIT] * so_far
        if saved is not None:
            saved.append((before_digit, so_far, scale))
    so_far = ending_on_digit.sum(dim=0) + ending_on_nothing
    scale = so_far.sum(dim=0)
    if saved is not None:
        saved.append(scale)  # the last rescaling, which no column finds
    sums = (so_far / scale).T @ to_sums
    # Sums no reading reaches stay finite, and their gradients zero.
    return sums.clamp(min=1e-300).log() + (log_scale + scale.log())[:, None], sums


class _ReadingSums(torch.autograd.Function):
    """:func:`_reading_pass` with the HMM's backward pass written out.

    Under autograd the pass records about sixty small operations per column;
    the backward pass of a linear recurrence is itself a linear recurrence,
    run here backwards over the columns on the saved states, as the backward
    algorithm of an HMM is. Both passes write their large states in place
    (which autograd would refuse), with the same gradients as autograd's
    (``benchmarks/reading_sum.py``).
    """

    @staticmethod
    def forward(ctx, probs, source, target, to_sums):
        ctx.columns = []  # intermediate tensors, kept on ctx as autograd.Function's documentation says
        log_sums, sums = _reading_pass(probs, source, to_sums, ctx.columns)
        ctx.save_for_backward(probs, target, to_sums, sums)
        return log_sums

    @staticmethod
    def backward(ctx, grad_log_sums):
        probs, target, to_sums, sums = ctx.saved_tensors
        # The gradient with respect to the states after the last column: d log(sum) / d state is 1 / sum
        # (sums clamped to 1e-300 pass none), through the last rescaling.
        last_scale = ctx.columns[-1]
        grad_on_nothing = (torch.where(sums >= 1e-300, grad_log_sums / sums, 0.0) @ to_sums.T).T / last_scale
        # Written in place, as the forward pass's states are.
        grad_on_digit = grad_on_nothing.expand(N_DIGIT_CLASSES, -1, -1).contiguous()
        grad_before_digit, grad_new_digit = torch.empty_like(grad_on_digit), torch.empty_like(grad_on_digit)
        n_images = grad_on_digit.shape[-1]
        grad_probs = torch.empty_like(probs)
        for column in reversed(range(probs.shape[0])):
            before_digit, so_far, scale = ctx.columns[column]
            torch.mul(grad_on_digit, before_digit, out=grad_new_digit)  # borrowed for the product; refilled below
            torch.sum(grad_new_digit, dim=1, out=grad_probs[column, :NO_DIGIT])
            grad_probs[column, :NO_DIGIT] /= scale
            grad_probs[column, NO_DIGIT] = (grad_on_nothing * so_far).sum(dim=0) / scale
            column_probs = probs[column] / scale
            torch.mul(grad_on_digit, column_probs[:NO_DIGIT, None], out=grad_before_digit)
            # Each pair before the column reaches one pair a digit d later: the adjoint of the forward's rows.
            torch.index_select(grad_before_digit.view(-1, n_images), 0, target, out=grad_new_digit.view(-1, n_images))
            grad_so_far = grad_new_digit.sum(dim=0) + grad_on_nothing * column_probs[NO_DIGIT]
            torch.sub(grad_before_digit, grad_new_digit, out=grad_on_digit)
            grad_on_digit += grad_so_far
            grad_on_nothing = grad_so_far
        return grad_probs, None, None, None
