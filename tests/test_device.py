import pytest
import torch

from sk_digitsum import _device


def test_auto_mixed_precision_follows_the_hardware(monkeypatch):
    assert _device.autocast_dtype("auto", "cpu") == (torch.bfloat16 if _device._cpu_computes_bf16() else None)
    monkeypatch.setattr(_device, "_cpu_computes_bf16", lambda: False)
    assert _device.autocast_dtype("auto", "cpu") is None
    assert _device.autocast_dtype("bf16", "cpu") == torch.bfloat16
    assert _device.autocast_dtype("no", "cpu") is None


@pytest.mark.parametrize("device", ["tpu", "cuda:x", 3, None])
def test_unknown_devices_are_named_in_the_error(device):
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda', 'cuda:N' or 'auto'"):
        _device.resolve_device(device)


def test_auto_and_explicit_devices_resolve_to_what_is_here():
    assert _device.resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert _device.resolve_device(torch.device("cpu")) == "cpu"


def test_skorch_sees_the_device_only_inside_and_the_parameter_comes_back():
    class Net:
        device = None

    net = Net()
    net.__dict__["device"] = "auto"
    with _device.skorch_sees(net, "cpu"):
        assert net.device == "cpu"
    assert net.device == "auto"
    with pytest.raises(RuntimeError), _device.skorch_sees(net, "cpu"):
        raise RuntimeError
    assert net.device == "auto"
