"""The hip preprocessing chain (Chen et al. section 3.1) as one MONAI ``Compose``."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from monai.transforms import Compose

from hipmonai.transforms.config import load_preprocessing_config
from hipmonai.transforms.femoral_head import FemoralHeadCircled
from hipmonai.transforms.intensity import PercentileScaled
from hipmonai.transforms.spatial import FlipLeftHipd, ResampleCropAroundPointd

__all__ = ["hip_preprocessing"]


def hip_preprocessing(
    spacing_mm: float | Sequence[float] | None = None,
    crop_px: int | None = None,
    image_keys: Sequence[Hashable] = ("image",),
    mask_keys: Sequence[Hashable] = (),
    head_indices: Sequence[int] | None = None,
    radius_range_mm: Sequence[float] | None = None,
    percentiles: Sequence[float] | None = None,
    clip_intensity: bool | None = None,
    anti_aliasing: bool = True,
    landmarks_key: Hashable = "landmarks",
    side_key: Hashable = "side",
    allow_missing_keys: bool = False,
) -> Compose:
    """Resample → femoral head circle → crop → percentile scaling → left-hip flip, moving the landmarks along.

    Every ``None`` argument takes its default from ``configs/preprocessing.json`` (0.4 mm, 224 px, percentiles
    5/95 without clipping, radius 10–40 mm) and ``head_indices`` from ``configs/landmark_groups.json``.

    The circle is fitted to the landmarks mapped onto the resampled grid (no pixel needed), and only the pixels
    of the crop are resampled: :class:`~hipmonai.transforms.FemoralHeadCircled` with ``spacing_mm``, then
    :class:`~hipmonai.transforms.ResampleCropAroundPointd`, then scaling and flip — the result of resampling the
    whole radiograph and cropping it, at the cost of a crop, whatever the radiograph's size. The input image
    is read, never copied whole, and may keep its stored integer dtype (``load_radiograph(dtype=None)``);
    both hips of one radiograph can share it.

    Input dict (one hip):
        ``image_keys[0]`` (``"image"``): ``MetaTensor`` ``(1, W, H)``, float or integer, whose affine maps pixel
        ``(x, y)`` to mm, ``diag(sx, sy, 1, 1)`` from :class:`hipmonai.readers.RadiographReader`; further
        ``image_keys`` and the ``mask_keys`` (e.g. ``"lesion_mask"`` ``(4, W, H)`` uint8) share its shape and
        affine.
        ``landmarks_key``: ``(80, 2)`` ``(x, y)`` pixel coordinates in that image, ``NaN`` = missing.
        ``side_key``: ``"right"`` or ``"left"``.

    Output dict (input keys kept, these replaced or added):
        image keys ``(C, crop_px, crop_px)`` float32, scaled by percentiles, padded (before scaling) with the
        input image's minimum where the crop runs past the radiograph; mask keys ``(C, crop_px, crop_px)`` in
        their input dtype (nearest interpolation, padded with 0, never scaled);
        ``landmarks`` ``(80, 2)`` float32 crop pixels (``NaN`` stays ``NaN``);
        ``"crop_offset_xy"`` int64 ``(2,)``: the crop's ``(0, 0)`` in resampled full-image pixels, before the flip
        (negative where the crop was padded at the left/top);
        ``"femoral_head_center_px"`` float64 ``(2,)`` and ``"femoral_head_radius_px"`` float, in resampled
        full-image pixels; ``"flipped"`` bool; ``"pixel_spacing_mm"`` float64 ``(2,)``: the target spacing
        ``(x, y)``; ``"px_affine"`` float64 ``(3, 3)``: the whole original-pixel → crop-pixel map below.

    Mapping of a point, original pixel ``(x, y)`` → crop pixel ``(x', y')``:
        1. resample, through the affines: ``(x1, y1, 1) = inv(A_resampled) @ A_original @ (x, y, 1)``, i.e.
           ``x1 = x * sx / tx``, ``y1 = y * sy / ty`` for the reader's zero-origin ``diag(sx, sy)`` affine and
           target spacing ``(tx, ty)``;
        2. crop: ``(x2, y2) = (x1 - offset_x, y1 - offset_y)`` with
           ``offset = round(center - (crop_px - 1) / 2)`` (round half up);
        3. flip, left hips only: ``x' = crop_px - 1 - x2``, ``y' = y2`` (right hips: ``(x', y') = (x2, y2)``).

    Args:
        spacing_mm: target spacing in mm, one number or ``(x, y)``.
        crop_px: side of the square crop in pixels at ``spacing_mm``.
        image_keys: intensity images: bilinear (anti-aliased) resampling, padded with their own minimum, scaled.
            (The minimum of the image as given, which equals that of the resampled image whenever the darkest
            value covers a patch wider than the anti-aliasing Gaussian, as collimation or air does.)
        mask_keys: masks/labels: nearest resampling, padded with 0, not scaled; dtype kept.
        head_indices: landmark indices of the femoral head sub-curve.
        radius_range_mm: plausible femoral head radius ``(min, max)`` in mm; outside → ``InputError``.
        percentiles: ``(lower, upper)`` intensity percentiles mapped to ``(0, 1)``.
        clip_intensity: clip scaled intensities to ``[0, 1]``.
        anti_aliasing: Gaussian pre-filter of image keys when shrinking (see :class:`ResampleToSpacing`).
        landmarks_key: key of the landmarks.
        side_key: key of the side.
        allow_missing_keys: let image/mask keys other than ``image_keys[0]`` be absent (e.g. no lesion mask).

    Returns:
        the ``Compose`` (``map_items`` default; apply it to one dict per hip).

    Raises:
        ValueError: bad arguments, e.g. no image key or a key both image and mask.

    Example:
        >>> import numpy as np, torch
        >>> from monai.data import MetaTensor
        >>> image = MetaTensor(torch.rand(1, 600, 500), affine=torch.diag(torch.tensor([0.45, 0.5, 1.0, 1.0])))
        >>> landmarks = np.full((80, 2), np.nan)
        >>> angles = np.linspace(-2.6, 0.9, 10)
        >>> landmarks[[13, 78, 14, 15, 16, 17, 18, 19, 20, 21]] = np.c_[
        ...     300 + 50 * np.cos(angles), 250 + 45 * np.sin(angles)]  # a 22.5 mm head in anisotropic pixels
        >>> out = hip_preprocessing()({"image": image, "landmarks": landmarks, "side": "left"})
        >>> tuple(out["image"].shape), out["crop_offset_xy"].tolist(), out["flipped"]
        ((1, 224, 224), [226, 201], True)
    """
    image_keys, mask_keys = tuple(image_keys), tuple(mask_keys)
    if not image_keys:
        raise ValueError("image_keys must name at least one image (the first gives the geometry)")
    overlap = set(image_keys) & set(mask_keys)
    if overlap:
        raise ValueError(f"keys {sorted(map(str, overlap))} are both image_keys and mask_keys")
    config = load_preprocessing_config()
    spacing_mm = config.spacing_mm if spacing_mm is None else spacing_mm
    crop_px = config.crop_px if crop_px is None else crop_px
    keys = image_keys + mask_keys
    n_img, n_mask = len(image_keys), len(mask_keys)
    return Compose(
        [
            FemoralHeadCircled(
                landmarks_key=landmarks_key,
                image_key=image_keys[0],
                head_indices=head_indices,
                radius_range_mm=radius_range_mm,
                spacing_mm=spacing_mm,
            ),
            ResampleCropAroundPointd(
                keys,
                spacing_mm=spacing_mm,
                roi_size_px=crop_px,
                mode=("bilinear",) * n_img + ("nearest",) * n_mask,
                anti_aliasing=(anti_aliasing,) * n_img + (False,) * n_mask,
                pad_value=("min",) * n_img + (0,) * n_mask,
                ref_key=image_keys[0],
                landmarks_key=landmarks_key,
                allow_missing_keys=allow_missing_keys,
            ),
            PercentileScaled(
                image_keys, percentiles=percentiles, clip=clip_intensity, allow_missing_keys=allow_missing_keys
            ),
            FlipLeftHipd(keys, side_key=side_key, landmarks_key=landmarks_key, allow_missing_keys=allow_missing_keys),
        ]
    )
