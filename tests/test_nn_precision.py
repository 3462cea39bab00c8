import pytest
import torch

from sk_digitsum.nn import DigitHeadsNet, precision


@pytest.fixture
def without_switch(monkeypatch):
    monkeypatch.delenv(precision.AUTO_PRECISION_VARIABLE, raising=False)


def test_auto_follows_the_hardware(monkeypatch, without_switch):
    assert precision.autocast_dtype("auto", "cpu") == (torch.bfloat16 if precision.native_bf16("cpu") else None)
    monkeypatch.setattr(precision, "_cpu_computes_bf16", lambda: False)
    assert precision.autocast_dtype("auto", "cpu") is None
    monkeypatch.setattr(precision, "_cpu_computes_bf16", lambda: True)
    assert precision.autocast_dtype("auto", "cpu") == torch.bfloat16
    assert precision.autocast_dtype("bf16", "cpu") == torch.bfloat16
    assert precision.autocast_dtype("no", "cpu") is None


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("forced, dtype", [("bf16", torch.bfloat16), ("no", None)])
def test_the_environment_switch_decides_for_auto_only(monkeypatch, native, forced, dtype):
    monkeypatch.setattr(precision, "_cpu_computes_bf16", lambda: native)
    monkeypatch.setenv(precision.AUTO_PRECISION_VARIABLE, forced)
    assert precision.autocast_dtype("auto", "cpu") == dtype
    assert precision.autocast_dtype("no", "cpu") is None and precision.autocast_dtype("bf16", "cpu") == torch.bfloat16


def test_an_unknown_switch_value_is_named_in_the_error(monkeypatch):
    monkeypatch.setenv(precision.AUTO_PRECISION_VARIABLE, "fp16")
    with pytest.raises(ValueError, match="SK_DIGITSUM_AUTO_PRECISION 'bf16' or 'no'; got 'fp16'"):
        precision.autocast_dtype("auto", "cpu")


@pytest.mark.parametrize("mixed_precision, dtype", [("bf16", torch.bfloat16), ("no", torch.float32)])
def test_the_network_runs_its_backbone_under_its_policy_and_its_heads_in_float32(mixed_precision, dtype):
    network = DigitHeadsNet(width=8, mixed_precision=mixed_precision).eval()
    seen, head_inputs = [], []
    network.backbone.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    network.heads.register_forward_pre_hook(lambda module, inputs: head_inputs.append(inputs[0].dtype))
    logits = network(torch.zeros(4, 28, 112, dtype=torch.uint8))
    assert seen == [dtype]
    assert head_inputs == [torch.float32] and logits.dtype == torch.float32
