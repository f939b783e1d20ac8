"""MONAI Label infer tasks: the hip landmark bundle (landmarks as JSON) and the prior bundle (osteophyte scores).

Both are :class:`monailabel.tasks.infer.bundle.BundleInferTask` subclasses, so MONAI Label finds the network
(``network_def`` + ``models/model.pt``, or ``models/model.ts``), the ``inferer`` and the ``metadata.json`` in the
bundle folder as for any bundle. What they add:

- ``config_files`` / ``overrides``: BundleInferTask reads only ``configs/inference.json``; these tasks read it plus
  further files of the bundle and id overrides (rarely needed: inference.json reads the sizes from the checkpoint),
  exactly like ``python -m monai.bundle run --config_file "[...]" --id value``.
- :class:`HipLandmarkInferTask` runs the bundle's own pre/post-processing (DICOM radiograph in, points in original
  pixels and mm out) and returns them as JSON (``result_json["landmarks"]``, with the femoral head circles).
- :class:`HipOsteophyteInferTask` takes a preprocessed hip crop (what ``hipmonai preprocess`` stores, as NIfTI or
  NumPy) instead of the bundle's HDF5 reader and returns MONAI Label's classification JSON with the four targets'
  sigmoid scores.

Register them in a MONAI Label app's ``init_infers()``; see docs/ecosystem.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

try:
    from monailabel.interfaces.tasks.infer_v2 import InferType
    from monailabel.tasks.infer.bundle import BundleInferTask
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "hipmonai.monailabel needs MONAI Label: pip install --no-deps monailabel==0.8.5 and its light dependencies "
        "(see docs/ecosystem.md, 'MONAI Label')") from err

__all__ = ["HipLandmarkInferTask", "HipOsteophyteInferTask"]


class _ConfiguredBundleInferTask(BundleInferTask):
    """BundleInferTask reading ``configs/inference.json`` plus ``config_files`` with ``overrides`` applied."""

    def __init__(self, path: str | os.PathLike, conf: Mapping[str, str] | None = None,
                 config_files: Sequence[str] = (), overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        self._extra_files = [str(Path(path) / f) for f in config_files]
        missing = [f for f in self._extra_files if not Path(f).is_file()]
        if missing:
            from hipmonai.errors import InputError

            raise InputError(f"bundle config files not found: {missing}")
        self._overrides = dict(overrides or {})
        super().__init__(str(path), dict(conf or {}), **kwargs)

    def _load_bundle_config(self, path, config):
        parser = super()._load_bundle_config(path, config)
        if self._extra_files or self._overrides:
            from monai.bundle import ConfigParser

            merged = ConfigParser()
            merged.read_config([config, *self._extra_files])
            merged.config.update({self.const.key_bundle_root(): path})
            for key, value in self._overrides.items():
                merged[key] = value
            parser = merged
        return parser

    def _metadata(self) -> dict[str, Any]:
        return json.loads((Path(self.bundle_path) / "configs" / self.const.metadata_json()).read_text("utf-8"))


class HipLandmarkInferTask(_ConfiguredBundleInferTask):
    """The ``hip_landmark_labelaug`` bundle as a MONAI Label infer task.

    Request ``{"image": DICOM path, "device": "cpu"}`` -> ``(None, result_json)`` where ``result_json["landmarks"]``
    lists the 28 landmarks ``{"name", "x_px", "y_px", "x_mm", "y_mm"}`` (names from ``metadata.json``) and
    ``result_json["femoral_heads"]`` the fitted circles per side in mm.

    Args:
        path: the bundle folder (with ``models/model.pt``).
        conf: MONAI Label's app config.
        config_files: further config files of the bundle (settings that disagree with the checkpoint are an error).
        overrides: config id overrides.
    """

    def __init__(self, path: str | os.PathLike, conf: Mapping[str, str] | None = None,
                 config_files: Sequence[str] = (), overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("type", InferType.OTHERS)
        kwargs.setdefault("add_post_restore", False)
        kwargs.setdefault("extend_load_image", False)
        super().__init__(path, conf, config_files, overrides, **kwargs)

    def post_transforms(self, data=None):
        from hipmonai.transforms.landmark_result import LandmarksToResultd

        channel_def = self._metadata()["network_data_format"]["outputs"]["pred"]["channel_def"]
        names = [channel_def[str(i)] for i in range(len(channel_def))]
        return [*super().post_transforms(data), LandmarksToResultd("pred", names, head_circles=True)]

    def writer(self, data, extension=None, dtype=None):
        """No label image: the landmarks are the result JSON."""
        return None, data["result"]


class HipOsteophyteInferTask(_ConfiguredBundleInferTask):
    """The ``hip_osteophyte_prior`` bundle as a MONAI Label classification task on a preprocessed hip crop.

    Request ``{"image": crop, "device": "cpu"}`` where ``crop`` is what ``hipmonai preprocess`` stores, given as
    ``(1, W, H)`` or ``(W, H)`` (x = columns first, as :class:`hipmonai.data.LoadHipScan` gives ``image``): a NIfTI
    or NumPy (``.npy``) file, or a NumPy array / tensor. It is used as it is (already spacing-resampled, cropped and
    percentile-scaled; no resizing). Returns ``(None, {"prediction": [{"idx", "label", "score"}, ...]})`` with the
    four targets' sigmoid scores (the bundle's own ``postprocessing``), labels in ``channel_def`` order.

    The bundle's ``preprocessing`` reads the HDF5 store, so this task loads the crop itself (:meth:`pre_transforms`).
    """

    def __init__(self, path: str | os.PathLike, conf: Mapping[str, str] | None = None,
                 config_files: Sequence[str] = (), overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("type", InferType.CLASSIFICATION)
        kwargs.setdefault("add_post_restore", False)
        super().__init__(path, conf, config_files, overrides, **kwargs)
        channel_def = self._metadata()["network_data_format"]["outputs"]["pred"]["channel_def"]
        self.labels = {name: int(index) for index, name in channel_def.items()}

    def pre_transforms(self, data=None):
        """Load a file (``LoadImaged``) or wrap an array (MONAI Label's ``LoadImageTensord``); ``(1, W, H)`` float32."""
        from monai.transforms import EnsureTyped, Lambdad, LoadImaged
        from monailabel.transform.pre import LoadImageTensord

        return [LoadImageTensord(keys="image", load_image_d=LoadImaged(keys="image", image_only=True)),
                Lambdad(keys="image", func=_crop_with_channel),
                EnsureTyped(keys="image", dtype=torch.float32)]


def _crop_with_channel(image: Any) -> Any:
    """``(W, H)`` -> ``(1, W, H)``; ``(1, W, H)`` unchanged; any other shape is an :class:`~hipmonai.InputError`."""
    shape = tuple(image.shape)
    if len(shape) == 2:
        return image[None]
    if len(shape) == 3 and shape[0] == 1:
        return image
    from hipmonai.errors import InputError

    raise InputError(f"a hip crop must be (W, H) or (1, W, H), got shape {shape}.")
