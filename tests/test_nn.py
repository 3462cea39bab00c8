import itertools
from urllib.error import URLError

import numpy as np
import pytest
import torch

from sk_digitsum.nn import (
    ConvNet, DigitHeads, DigitHeadsLoss, DigitHeadsNet, DigitNet, DigitSumLayer, DigitSumNet, SumLoss, build_backbone,
    log_convolve, make_resnet,
)
from sk_digitsum.nn import backbones


def test_log_convolve_matches_numpy_convolution():
    torch.manual_seed(0)
    a, b = torch.softmax(torch.randn(3, 7), -1), torch.softmax(torch.randn(3, 10), -1)
    out = log_convolve(a.log(), b.log()).exp()
    for row in range(3):
        np.testing.assert_allclose(out[row].numpy(), np.convolve(a[row].numpy(), b[row].numpy()), rtol=1e-5)


def test_sum_layer_matches_enumeration():
    torch.manual_seed(1)
    logits = torch.randn(2, 3, 10) * 3
    probs = torch.softmax(logits, -1)
    expected = torch.zeros(2, 28)
    for combo in itertools.product(range(10), repeat=3):
        expected[:, sum(combo)] += probs[:, 0, combo[0]] * probs[:, 1, combo[1]] * probs[:, 2, combo[2]]
    torch.testing.assert_close(DigitSumLayer()(logits).exp(), expected, rtol=1e-5, atol=1e-7)


def test_sum_layer_is_finite_for_confident_wrong_digits():
    logits = torch.full((1, 4, 10), -200.0)
    logits[:, :, 9] = 200.0  # certain of 9999
    log_probs = DigitSumLayer()(logits.requires_grad_())
    assert torch.isfinite(log_probs).all() and log_probs[0, 36] > -1e-3
    log_probs[0, 0].backward()  # the true sum is 0: a huge but finite loss
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("name, depth, channels, size", [
    ("digitnet", None, 128, (3, 14)), ("digitnet", 4, 128, (3, 14)), ("convnet", None, 128, (1, 1)),
    # Building a ResNet imports torchvision's model zoo: seconds, so with the slow tests.
    pytest.param("resnet", 18, 512, (4, 14), marks=pytest.mark.slow),
    pytest.param("resnet", 50, 2048, (4, 14), marks=pytest.mark.slow),
])
def test_backbone_shapes(name, depth, channels, size):
    backbone = build_backbone(name, depth, image_shape=(28, 112))
    out = backbone(torch.zeros(2, 1, 28, 112))
    assert out.shape == (2, channels, *size) and backbone.out_channels == channels


@pytest.mark.parametrize("depth, stages, widths", [(6, 3, [8, 8, 16, 16, 32, 32]), (5, 2, [8, 8, 16, 16, 16]),
                                                   (3, 1, [8, 8, 8])])
def test_digitnet_splits_its_layers_into_stages(depth, stages, widths):
    net = DigitNet(depth=depth, width=8, stages=stages)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [conv.out_channels for conv in convs] == widths
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in net.modules()) == stages - 1
    assert net(torch.zeros(1, 1, 28, 112)).shape[-1] == 56 // 2 ** (stages - 1)


@pytest.mark.parametrize("depth, stages", [(2, 3), (4, 0)])
def test_digitnet_refuses_more_stages_than_layers(depth, stages):
    with pytest.raises(ValueError, match="module__stages"):
        DigitNet(depth=depth, stages=stages)


@pytest.mark.slow
def test_resnet_depths_have_torchvisions_blocks_per_stage():
    layouts = {18: ("BasicBlock", [2, 2, 2, 2]), 34: ("BasicBlock", [3, 4, 6, 3]),
               50: ("Bottleneck", [3, 4, 6, 3]), 101: ("Bottleneck", [3, 4, 23, 3])}
    for depth, (block, per_stage) in layouts.items():
        trunk = make_resnet(depth)
        stages = [trunk.layer1, trunk.layer2, trunk.layer3, trunk.layer4]
        assert [len(stage) for stage in stages] == per_stage
        assert {type(module).__name__ for stage in stages for module in stage} == {block}


def test_convnet_is_the_reports_baseline():
    layers = [type(m).__name__ for m in ConvNet((28, 112)).features]
    assert layers == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "ReLU"]


@pytest.mark.parametrize("name, depth, pretrained, message", [
    ("vgg", None, False, "Unknown backbone"), ("resnet", 20, False, "no depth 20"),
    ("digitnet", 17, False, "no depth 17"), ("digitnet", None, "imagenet", "no pretrained weights"),
    ("resnet", 18, "/no/such/file.pt", "neither an existing file"),
])
def test_bad_backbone_specs(name, depth, pretrained, message):
    with pytest.raises(ValueError, match=message):
        build_backbone(name, depth, pretrained)


@pytest.mark.slow
def test_pretrained_from_own_state_dict(tmp_path):
    source = make_resnet(18)
    path = tmp_path / "trunk.pt"
    torch.save(source.state_dict(), path)
    loaded = make_resnet(18, pretrained=str(path))
    for key, value in source.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)


@pytest.mark.slow
def test_pretrained_from_torchvision_imagenet_file(tmp_path):
    torch.manual_seed(0)
    from torchvision.models import resnet18

    imagenet = resnet18()
    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(imagenet.state_dict(), path)
    trunk = make_resnet(18, pretrained=path)
    torch.testing.assert_close(trunk.stem[0].weight, imagenet.conv1.weight.sum(dim=1, keepdim=True))
    torch.testing.assert_close(trunk.layer4[1].conv2.weight, imagenet.layer4[1].conv2.weight)
    # grey input in three equal channels meets the summed filter: conv1 outputs agree
    x = torch.rand(1, 1, 28, 28)
    torch.testing.assert_close(
        torch.nn.functional.conv2d(x, trunk.stem[0].weight, padding=3),
        torch.nn.functional.conv2d(x.expand(1, 3, 28, 28), imagenet.conv1.weight, padding=3),
        rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_imagenet_uses_torchvision_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    name = backbones._imagenet_weights(18).url.rsplit("/", 1)[1]
    (tmp_path / "checkpoints").mkdir()
    torch.manual_seed(3)
    from torchvision.models import resnet18

    imagenet = resnet18()
    torch.save(imagenet.state_dict(), tmp_path / "checkpoints" / name)
    trunk = make_resnet(18, pretrained="imagenet")
    torch.testing.assert_close(trunk.layer1[0].conv1.weight, imagenet.layer1[0].conv1.weight)


@pytest.mark.slow
def test_imagenet_offline_error_says_how_to_provide_file(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def offline(self, *args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(type(backbones._imagenet_weights(18)), "get_state_dict", offline)
    with pytest.raises(RuntimeError, match="download .* copy it to .*checkpoints.*pretrained='<path"):
        make_resnet(18, pretrained="imagenet")


@pytest.mark.slow
def test_pretrained_mismatch_and_garbage(tmp_path):
    path = tmp_path / "r18.pt"
    torch.save(make_resnet(18).state_dict(), path)
    with pytest.raises(ValueError, match="do not fit a ResNet34"):
        make_resnet(34, pretrained=path)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="Could not read weights"):
        make_resnet(18, pretrained=garbage)


@pytest.mark.parametrize("shared", [True, False])
def test_digit_heads_read_one_column_per_position(shared):
    heads = DigitHeads(in_channels=8, n_digits=4, shared=shared)
    assert heads.weight.shape[0] == (1 if shared else 4)
    features = torch.randn(2, 8, 3, 16)
    out = heads(features)
    assert out.shape == (2, 4, 10)
    for position in range(4):
        column = features[:, :, :, 4 * position: 4 * position + 4].mean(dim=(2, 3))
        head = 0 if shared else position
        torch.testing.assert_close(out[:, position], column @ heads.weight[head] + heads.bias[head])


def test_digit_heads_drop_features_only_in_training():
    torch.manual_seed(0)
    heads = DigitHeads(in_channels=64, n_digits=4, dropout=0.5)
    features = torch.randn(2, 64, 3, 16)
    assert not torch.equal(heads(features), heads(features))
    without_dropout = DigitHeads(in_channels=64, n_digits=4)
    without_dropout.load_state_dict(heads.state_dict())
    torch.testing.assert_close(heads.eval()(features), without_dropout(features))


@pytest.mark.parametrize("network, shape", [(DigitSumNet, (3, 37)), (DigitHeadsNet, (3, 4, 10))])
def test_networks_accept_uint8_and_float_alike(network, shape):
    torch.manual_seed(0)
    net = network().eval()
    images = torch.randint(0, 256, (3, 1, 28, 112), dtype=torch.uint8)
    out = net(images)
    assert out.shape == shape
    torch.testing.assert_close(out, net(images.float() / 255))


def test_heads_loss_from_digits_is_mean_cross_entropy():
    torch.manual_seed(0)
    logits, digits = torch.randn(5, 4, 10), torch.randint(0, 10, (5, 4))
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, 10), digits.reshape(-1))
    torch.testing.assert_close(DigitHeadsLoss()(logits, digits.sum(1), digits), expected)


def test_heads_loss_from_sums_is_sum_nll_and_weights_synthetic_rows():
    torch.manual_seed(0)
    logits, sums = torch.randn(5, 4, 10), torch.randint(0, 37, (5,))
    expected = -DigitSumLayer()(logits)[torch.arange(5), sums].mean()
    torch.testing.assert_close(DigitHeadsLoss()(logits, sums), expected)
    unknown = torch.full((5, 4), -1)
    torch.testing.assert_close(DigitHeadsLoss()(logits, sums, unknown), expected)
    torch.testing.assert_close(DigitHeadsLoss(synthetic_weight=0.25)(logits, sums, unknown, torch.ones(5, dtype=torch.bool)),
                               0.25 * expected)


def test_sum_loss_is_weighted_cross_entropy():
    torch.manual_seed(0)
    logits, sums = torch.randn(6, 37), torch.randint(0, 37, (6,))
    synthetic = torch.tensor([True, True, True, False, False, False])
    per_row = torch.nn.functional.cross_entropy(logits, sums, reduction="none")
    expected = (per_row * torch.tensor([2.0, 2, 2, 1, 1, 1])).mean()
    torch.testing.assert_close(SumLoss(synthetic_weight=2.0)(logits, sums, synthetic=synthetic), expected)


@pytest.mark.parametrize("build, message", [
    (lambda: make_resnet(20), r"Backbone 'resnet' has no depth 20; choose from \[18, 34, 50, 101\]"),
    (lambda: DigitNet(width=0), r"DigitNet's width must be an integer >= 1, got 0"),
    (lambda: DigitNet(depth=2, stages=3), r"DigitNet needs 1 to depth=2 stages"),
])
def test_builders_name_the_argument_and_its_range(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("size_a, size_b", [(1, 10), (10, 10), (28, 10), (3, 5)])
def test_log_convolve_of_any_sizes_matches_numpy_and_keeps_gradients_finite(size_a, size_b):
    generator = torch.Generator().manual_seed(size_a * size_b)
    log_a = torch.log_softmax(20 * torch.randn(2, size_a, generator=generator), dim=-1).requires_grad_()
    log_b = torch.log_softmax(20 * torch.randn(2, size_b, generator=generator), dim=-1)
    out = log_convolve(log_a, log_b)
    expected = [np.convolve(a, b) for a, b in zip(log_a.detach().exp().double().numpy(), log_b.exp().double().numpy())]
    np.testing.assert_allclose(out.detach().exp().numpy(), np.array(expected), rtol=1e-4, atol=1e-30)
    out[:, -1].sum().backward()  # the least likely sum: gradients through -inf padding stay finite
    assert torch.isfinite(log_a.grad).all() and log_a.grad.abs().sum() > 0


def test_check_backbone_returns_the_registry_default_depth_when_none_is_given():
    from sk_digitsum.nn import BACKBONES, check_backbone

    for name, entry in BACKBONES.items():
        assert check_backbone(name, None, False) == entry.default_depth
    assert check_backbone("resnet", 50, False) == 50


def test_describe_backbones_gives_an_indented_line_per_backbone():
    from sk_digitsum.nn import BACKBONES, describe_backbones

    lines = describe_backbones(indent=3).splitlines()
    assert [line.split('"')[1] for line in lines] == list(BACKBONES)
    assert all(line.startswith('   - ``"') for line in lines)


def test_build_backbone_passes_options_to_the_network():
    from sk_digitsum.nn import build_backbone

    narrow, wide = build_backbone("digitnet", width=8), build_backbone("digitnet", width=16)
    assert wide.out_channels == 2 * narrow.out_channels
    with pytest.raises(TypeError, match="resnet backbone takes no options"):
        build_backbone("resnet", width=8)


@pytest.mark.parametrize("loss, shape", [(DigitHeadsLoss, (4, 10)), (SumLoss, (37,))])
def test_unlabelled_rows_learn_the_teachers_confident_readings(loss, shape):
    torch.manual_seed(0)
    outputs = torch.randn(3, *shape)
    sums = torch.tensor([5, -1, -1])  # one labelled image, two unlabelled
    teacher = torch.zeros(3, *shape)  # in rows of the whole batch; the labelled row's is not read
    teacher[0, ..., 3] = 20.0
    teacher[1, ..., 7] = 20.0  # sure of class 7 everywhere
    criterion = loss(threshold=0.95, unlabelled_weight=0.5)
    labelled_only = loss()(outputs[:1], sums[:1])
    sevens = torch.full(outputs[1].shape[:-1], 7).reshape(-1)
    pseudo = torch.nn.functional.cross_entropy(outputs[1].reshape(-1, shape[-1]), sevens)
    # the unsure teacher row (uniform) is below the threshold: no loss, but it counts in the mean
    expected = (labelled_only + 0.5 * pseudo + 0.0) / 3
    torch.testing.assert_close(criterion(outputs, sums, teacher=teacher), expected)
    # without a teacher (validation) the unlabelled rows are left out of the mean
    torch.testing.assert_close(criterion(outputs, sums), labelled_only)


def _readings(n_columns):
    """Every reading of ``n_columns`` columns, with the digits it reads (runs merged, 10 = no digit)."""
    for symbols in itertools.product(range(11), repeat=n_columns):
        digits = [symbol for position, symbol in enumerate(symbols)
                  if symbol != 10 and (position == 0 or symbols[position - 1] != symbol)]
        yield symbols, digits


@pytest.mark.parametrize("max_digits", [2, 4])
def test_reading_sum_layer_matches_enumeration_of_readings(max_digits):
    from sk_digitsum.nn import ReadingSumLayer

    torch.manual_seed(2)
    logits = torch.randn(2, 4, 11) * 2
    log_probs = torch.log_softmax(logits, -1)
    expected = torch.zeros(2, 9 * max_digits + 1)
    for symbols, digits in _readings(4):
        if len(digits) <= max_digits:  # readings of more digits are left out
            expected[:, sum(digits)] += log_probs[:, range(4), list(symbols)].sum(1).exp()
    torch.testing.assert_close(ReadingSumLayer(max_digits)(logits).exp(), expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("max_digits", [2, 4])
def test_reading_sum_layer_gradients_match_those_of_the_enumeration(max_digits):
    from sk_digitsum.nn import ReadingSumLayer

    torch.manual_seed(4)
    logits = (torch.randn(3, 4, 11, dtype=torch.float64) * 3).requires_grad_()
    weights = torch.randn(3, 9 * max_digits + 1, dtype=torch.float64)  # any loss: a weighted sum of log-probs
    log_probs = torch.log_softmax(logits, -1)
    by_sum = [[] for _ in range(9 * max_digits + 1)]
    for symbols, digits in _readings(4):
        if len(digits) <= max_digits:
            by_sum[sum(digits)].append(log_probs[:, range(4), list(symbols)].sum(1))
    weights[:, [not terms for terms in by_sum]] = 0.0  # sums no reading of 4 columns reaches (9 + 9 + 9 + 9)
    expected = torch.stack([torch.logsumexp(torch.stack(terms), 0) if terms else torch.zeros(3, dtype=torch.float64)
                            for terms in by_sum], dim=1)
    (expected_grad,) = torch.autograd.grad((expected * weights).sum(), logits)
    (grad,) = torch.autograd.grad((ReadingSumLayer(max_digits)(logits) * weights).sum(), logits)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-4, atol=1e-6)


def test_reading_sum_layer_is_finite_for_confident_wrong_readings():
    from sk_digitsum.nn import ReadingSumLayer

    logits = torch.full((2, 21, 11), -50.0)
    logits[:, :, 3] = 50.0  # every column reads 3: one digit 3
    logits.requires_grad_(True)
    log_proba = ReadingSumLayer(max_digits=6)(logits)
    assert log_proba[0].argmax() == 3
    (-log_proba[:, 40].sum()).backward()  # a sum no reading reaches but through improbable symbols
    assert torch.isfinite(log_proba).all() and torch.isfinite(logits.grad).all()


def test_reader_reads_columns_and_refuses_a_map_too_narrow():
    from sk_digitsum.nn import DigitReaderNet

    net = DigitReaderNet(image_shape=(28, 168), max_digits=6, mixed_precision="no").eval()
    logits = net(torch.zeros(3, 28, 168, dtype=torch.uint8))
    assert logits.shape == (3, 21, 11) and net.sum_log_probs(logits).shape == (3, 55)
    with pytest.raises(ValueError, match="too few to read 6 digits"):
        DigitReaderNet(backbone="convnet", image_shape=(28, 168), max_digits=6)


def test_reader_context_widens_what_each_column_sees_and_must_be_odd():
    from sk_digitsum.nn import DigitReader

    features = torch.zeros(1, 8, 2, 9)
    features[..., 4] = 1.0  # one lit column in the middle
    for context, reached in [(3, {3, 4, 5}), (5, {2, 3, 4, 5, 6})]:
        reader = DigitReader(8, context=context).eval()
        changed = (reader(features) - reader(torch.zeros_like(features))).abs().sum(dim=2)[0]
        assert set(torch.nonzero(changed > 0).flatten().tolist()) == reached
    with pytest.raises(ValueError, match="odd number of columns, got 4"):
        DigitReader(8, context=4)


def test_reader_loss_is_ctc_for_digit_rows_and_sum_likelihood_for_sum_rows():
    from sk_digitsum.nn import DigitReaderLoss, ReadingSumLayer

    torch.manual_seed(3)
    logits = torch.randn(2, 21, 11)
    digits = torch.tensor([[3, 3, 4, -1, -1, -1], [-1] * 6])
    sums = torch.tensor([10, 12])
    loss = DigitReaderLoss(max_digits=6)(logits, sums, digits)
    log_probs = torch.log_softmax(logits, -1)
    ctc = torch.nn.functional.ctc_loss(log_probs[:1].transpose(0, 1), digits[:1, :3], torch.tensor([21]),
                                       torch.tensor([3]), blank=10)
    sum_nll = -ReadingSumLayer(6)(logits[1:])[0, 12]
    torch.testing.assert_close(loss, (ctc * 3 + sum_nll) / 2)  # ctc_loss's mean divides by the length
