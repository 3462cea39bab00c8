import pytest
import torch

from sk_digitsum import augment
from sk_digitsum.augment import AUGMENTATION, _affine_grid, augment_batch, distort_slots


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


@pytest.mark.parametrize("ranges", [True, {"elastic": 0.0}, {"rotation": 5.0, "noise": 0.0}])
def test_augment_dict_replaces_only_the_ranges_it_names(monkeypatch, ranges):
    used = {}

    def record_ranges(slots, **given):
        used.update(given)
        return slots.permute(0, 2, 1, 3).flatten(2)

    monkeypatch.setattr(augment, "distort_slots", record_ranges)
    batch = torch.rand(2, 1, 28, 112)
    torch.testing.assert_close(augment_batch(batch, 4, ranges), batch)  # the slots go back where they came from
    assert used == {**AUGMENTATION, **(ranges if isinstance(ranges, dict) else {})}


def test_no_augmentation_or_unsplittable_width_returns_the_batch_itself():
    batch = torch.rand(2, 1, 28, 112)
    assert augment_batch(batch, 4, False) is batch
    assert augment_batch(batch, 3, True) is batch  # 112 pixels do not split into 3 slots


def test_uint8_batches_come_back_as_unit_floats():
    batch = torch.full((2, 1, 28, 56), 255, dtype=torch.uint8)
    out = augment_batch(batch, 2, {"noise": 0.0})
    assert out.dtype == torch.float32 and 0 <= out.min() and out.max() <= 1 and out.max() > 0.5
