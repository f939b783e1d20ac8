from __future__ import annotations

import numpy as np
import pytest

from hipmonai.errors import InputError
from hipmonai.io.lesion_masks import encode_lesion_bits, lesion_channels, read_lesion_mask, write_lesion_mask


def test_encode_write_read_decode_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    masks_hw = rng.uniform(size=(2, 4, 5, 7)) > 0.7  # sides x targets x H x W
    bits_wh = encode_lesion_bits(masks_hw)
    assert bits_wh.shape == (7, 5) and bits_wh.dtype == np.uint8
    path = write_lesion_mask(tmp_path / "a" / "m.nii.gz", bits_wh, (0.4, 0.5))
    read, spacing = read_lesion_mask(path)
    np.testing.assert_array_equal(read, bits_wh)
    assert spacing == pytest.approx((0.4, 0.5))
    for side in range(2):
        channels = lesion_channels(read, side, 4)  # (4, W, H)
        np.testing.assert_array_equal(channels, masks_hw[side].transpose(0, 2, 1).astype(np.uint8))


def test_bit_layout_is_side_times_targets_plus_target():
    masks = np.zeros((2, 4, 1, 1), dtype=bool)
    masks[1, 2] = True
    assert int(encode_lesion_bits(masks)[0, 0]) == 1 << (1 * 4 + 2)


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="at most 8 channels"):
        encode_lesion_bits(np.zeros((3, 4, 2, 2), dtype=bool))
    with pytest.raises(ValueError, match="does not fit 8 bits"):
        lesion_channels(np.zeros((2, 2), np.uint8), 2, 4)
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"not nifti")
    with pytest.raises(InputError, match="bad.nii.gz: cannot read lesion mask"):
        read_lesion_mask(bad)
