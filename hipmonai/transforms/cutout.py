"""Cutout augmentation (DeVries & Taylor 2017) as KNEEL uses it: one square of a fixed fraction of the image area
(Tiulpin et al. 2019 §4.4, "cutout of 10% of the image").

Images are channel-first ``(C, W, H)`` (any number of spatial dims works); landmarks do not move, so the dictionary
twin only needs the image keys. The patch lies wholly inside the image: its corner is drawn uniformly among the
positions that keep it inside. The paper gives only the fraction, not the fill. The authors' released code cut a
rectangle of 10 % of each side (1 % of the area) with probability 0.5 (SOLT ``ImageCutOut``, before mean/std
normalisation). Here ``area_fraction`` is a fraction of the *area*, as the paper's wording reads;
``area_fraction=0.01`` on a square image gives the released code's patch size. MONAI's ``RandCoarseDropout`` takes
hole sizes in pixels and cannot fill with the mean, hence this transform.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
from monai.config import KeysCollection, NdarrayOrTensor
from monai.data.meta_obj import get_track_meta
from monai.transforms import MapTransform, RandomizableTransform
from monai.utils import TransformBackends, convert_to_tensor

__all__ = ["RandCutout", "RandCutoutd", "cutout_patch_size"]


def cutout_patch_size(spatial_size: Sequence[int], area_fraction: float) -> tuple[int, ...]:
    """Side lengths of a square (cube) patch covering ``area_fraction`` of an image of ``spatial_size`` pixels.

    The side is ``round((area_fraction * prod(spatial_size)) ** (1 / ndim))``, at least 1, clipped to each image side
    (so a very elongated image gets a rectangle).
    """
    sizes = [int(s) for s in spatial_size]
    side = max(1, round((area_fraction * math.prod(sizes)) ** (1.0 / len(sizes))))
    return tuple(min(side, s) for s in sizes)


class RandCutout(RandomizableTransform):
    """Set one random square of ``area_fraction`` of a channel-first image to ``fill_value``, with probability ``prob``.

    Args:
        area_fraction: fraction of the image area the square covers, in ``(0, 1]`` (paper's best: 0.1).
        fill_value: a number, or ``"mean"`` for the mean of each channel of the image being cut. DeVries & Taylor
            zero a mean-normalised image, i.e. fill with the mean; on an image already normalised to zero mean the
            default 0 is the same thing.
        prob: probability of cutting (authors' code: 0.5).

    Example:
        >>> import torch
        >>> cut = RandCutout(area_fraction=0.25, prob=1.0).set_random_state(seed=0)
        >>> int((cut(torch.ones(1, 8, 8)) == 0).sum())
        16
    """

    backend = [TransformBackends.TORCH]

    def __init__(self, area_fraction: float = 0.1, fill_value: float | str = 0.0, prob: float = 0.5) -> None:
        RandomizableTransform.__init__(self, prob)
        if not 0.0 < area_fraction <= 1.0:
            raise ValueError(f"area_fraction must be in (0, 1], got {area_fraction}.")
        if isinstance(fill_value, str) and fill_value != "mean":
            raise ValueError(f"fill_value must be a number or 'mean', got {fill_value!r}.")
        self.area_fraction = float(area_fraction)
        self.fill_value = fill_value
        self._slices: tuple[slice, ...] | None = None

    def randomize(self, spatial_size: Sequence[int]) -> None:
        """Draw whether to cut and, if so, where, for an image of ``spatial_size`` (spatial dims only)."""
        super().randomize(None)
        if not self._do_transform:
            return
        patch = cutout_patch_size(spatial_size, self.area_fraction)
        starts = [int(self.R.randint(0, int(s) - p + 1)) for s, p in zip(spatial_size, patch, strict=True)]
        self._slices = tuple(slice(a, a + p) for a, p in zip(starts, patch, strict=True))

    def __call__(self, img: NdarrayOrTensor, randomize: bool = True) -> NdarrayOrTensor:
        """
        Args:
            img: channel-first image ``(C, W, H)`` (or ``(C, *spatial)``).
            randomize: draw a new patch; ``False`` reuses the last draw (the dictionary twin does this).

        Returns:
            A tensor copy of ``img`` with the patch filled (a ``MetaTensor`` keeping ``img``'s meta when meta tracking
            is on, as MONAI transforms return).
        """
        if img.ndim < 2:
            raise ValueError(f"img must be channel-first (C, W, H), got shape {tuple(img.shape)}.")
        if randomize:
            self.randomize(img.shape[1:])
        img = convert_to_tensor(img, track_meta=get_track_meta())
        if not self._do_transform:
            return img
        if self._slices is None or len(self._slices) != img.ndim - 1:
            raise RuntimeError("no cutout patch drawn for an image of this dimensionality; call randomize first.")
        if any(s.stop > n for s, n in zip(self._slices, img.shape[1:], strict=True)):
            raise ValueError(f"the drawn patch {self._slices} does not fit an image of spatial size {img.shape[1:]}.")
        out = img.clone()
        region = (slice(None), *self._slices)
        if self.fill_value == "mean":
            channel_means = img.float().mean(dim=tuple(range(1, img.ndim))).to(img.dtype)
            out[region] = channel_means.reshape((-1,) + (1,) * (img.ndim - 1))
        else:
            out[region] = self.fill_value
        return out


class RandCutoutd(RandomizableTransform, MapTransform):
    """Dictionary twin of :class:`RandCutout`: one draw (from the first key's spatial size) applied to every key.

    Args:
        keys: image keys to cut (not landmark keys; cutout moves nothing).
        area_fraction: see :class:`RandCutout`.
        fill_value: see :class:`RandCutout`; ``"mean"`` uses each key's own channel means.
        prob: probability of cutting.
        allow_missing_keys: do not raise for a missing key.
    """

    backend = RandCutout.backend

    def __init__(
        self,
        keys: KeysCollection,
        area_fraction: float = 0.1,
        fill_value: float | str = 0.0,
        prob: float = 0.5,
        allow_missing_keys: bool = False,
    ) -> None:
        MapTransform.__init__(self, keys, allow_missing_keys)
        RandomizableTransform.__init__(self, prob)
        self.cutter = RandCutout(area_fraction=area_fraction, fill_value=fill_value, prob=1.0)

    def set_random_state(self, seed: int | None = None, state: np.random.RandomState | None = None) -> RandCutoutd:
        super().set_random_state(seed, state)
        self.cutter.set_random_state(seed, state)
        return self

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        d = dict(data)
        self.randomize(None)
        first_key: Hashable = self.first_key(d)
        if not self._do_transform or first_key == ():
            for key in self.key_iterator(d):
                d[key] = convert_to_tensor(d[key], track_meta=get_track_meta())
            return d
        self.cutter.randomize(d[first_key].shape[1:])
        for key in self.key_iterator(d):
            if tuple(d[key].shape[1:]) != tuple(d[first_key].shape[1:]):
                raise ValueError(
                    f"RandCutoutd keys must share one spatial size: {key!r} has {tuple(d[key].shape[1:])}, "
                    f"{first_key!r} has {tuple(d[first_key].shape[1:])}."
                )
            d[key] = self.cutter(d[key], randomize=False)
        return d
