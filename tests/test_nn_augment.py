import numpy as np
import pytest
import torch

from sk_digitsum.nn import augment
from sk_digitsum.nn import DigitHeadsNet, DigitReaderNet
from sk_digitsum.nn.augment import AUGMENTATION, FREE_LAYOUT_AUGMENTATION, SlotAugment, _affine_grid, distort_slots


def test_stroke_sign_thickens_and_thins():
    slots = torch.zeros(1, 1, 28, 28)
    slots[0, 0, 10:18, 13:15] = 1.0
    kwargs = dict(rotation=0.0, scale=(1.0, 1.0), shift=(0.0, 0.0), noise=0.0)
    assert distort_slots(slots, stroke=0.0, **kwargs).sum() == slots.sum()
    torch.manual_seed(0)
    outs = [distort_slots(slots, stroke=1.0, **kwargs).sum() for _ in range(20)]
    assert min(outs) < slots.sum() < max(outs)


def test_shift_lets_digits_cross_slots():
    slots = torch.zeros(64, 2, 28, 28)
    slots[:, 0, :, 24:28] = 1.0  # ink at the right edge of the first slot
    out = distort_slots(slots, rotation=0.0, scale=(1.0, 1.0), shift=(4.0, 0.0), stroke=0.0, noise=0.0,
                        generator=torch.Generator().manual_seed(0))
    assert out[:, :, 28:].sum() > 0


def test_affine_grid_matches_torch():
    theta = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(0))
    expected = torch.nn.functional.affine_grid(theta, (5, 1, 28, 40), align_corners=False)
    torch.testing.assert_close(_affine_grid(theta, 28, 40), expected)


@pytest.fixture
def used_ranges(monkeypatch):
    """The ranges of the next distortion, which passes the slots through undistorted."""
    used = {}

    def record_ranges(slots, **given):
        used.update(given)
        return slots.permute(0, 2, 1, 3).flatten(2)

    monkeypatch.setattr(augment, "distort_slots", record_ranges)
    return used


@pytest.mark.parametrize("defaults", [AUGMENTATION, FREE_LAYOUT_AUGMENTATION])
@pytest.mark.parametrize("ranges", [True, {"elastic": 0.0}, {"rotation": 5.0, "noise": 0.0}])
def test_augment_dict_replaces_only_the_ranges_it_names(used_ranges, ranges, defaults):
    batch = torch.rand(2, 1, 28, 112)
    # the slots go back where they came from
    torch.testing.assert_close(SlotAugment(4, ranges, defaults).train()(batch), batch)
    assert used_ranges == {**defaults, **(ranges if isinstance(ranges, dict) else {})}


def test_free_layout_ranges_are_milder_in_rotation_scale_and_shift_alone():
    milder = {"rotation", "scale", "shift"}
    assert {key for key in AUGMENTATION if FREE_LAYOUT_AUGMENTATION[key] != AUGMENTATION[key]} == milder
    assert FREE_LAYOUT_AUGMENTATION["rotation"] < AUGMENTATION["rotation"]
    assert all(np.less(FREE_LAYOUT_AUGMENTATION["shift"], AUGMENTATION["shift"]))
    low, high = FREE_LAYOUT_AUGMENTATION["scale"]
    assert AUGMENTATION["scale"][0] < low < 1.0 < high < AUGMENTATION["scale"][1]


@pytest.mark.parametrize("network, expected", [(DigitHeadsNet(), AUGMENTATION),
                                               (DigitReaderNet(), FREE_LAYOUT_AUGMENTATION)])
def test_the_reader_distorts_with_the_free_layout_ranges(used_ranges, network, expected):
    network.train()(torch.zeros(2, *network.image_shape, dtype=torch.uint8))
    assert used_ranges == expected


def test_training_mode_distorts_and_eval_mode_passes_the_batch_itself():
    batch = torch.rand(2, 1, 28, 112)
    module = SlotAugment(4)
    distorted = module.train()(batch)
    assert distorted.shape == batch.shape and not torch.equal(distorted, batch)
    assert module.eval()(batch) is batch
    assert SlotAugment(4, False).train()(batch) is batch
    assert SlotAugment(3).train()(batch) is batch  # 112 pixels do not split into 3 slots


def test_unknown_ranges_are_refused_when_the_module_is_built():
    with pytest.raises(ValueError, match="augment must be True, False or a dict with some of the keys"):
        SlotAugment(4, {"spin": 3})
