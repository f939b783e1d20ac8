"""A MONAI image reader for DICOM projection radiographs (DX, CR) that keeps their pixel spacing.

MONAI 1.6.1's ``PydicomReader`` gives DX/CR files an identity affine and leaves MONOCHROME1 images dark-bone;
``ITKReader`` returns ``(W, H, 1)`` and only knows ``ImagerPixelSpacing``. :class:`RadiographReader` reads the
spacing as :func:`~hipmonai.readers.dicom_header.spacing_from_dataset` defines it (``PixelSpacing``, else
``ImagerPixelSpacing`` divided by the magnification factor, else the caller's value), applies the
modality LUT / rescale, inverts MONOCHROME1 and returns a ``(W, H)`` float array whose affine
``diag(x_mm, y_mm, 1, 1)`` lets ``Spacingd`` resample in millimetres. With ``dtype=None`` integer modality values
stay integer — for the usual DX/CR header the decoded pixels themselves, no copy — so a pipeline that uses a part
of the radiograph (a crop) converts only that part to float.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from monai.data import ImageReader
from monai.data.image_reader import _copy_compatible_dict, _stack_images
from monai.utils import MetaKeys, SpaceKeys, ensure_tuple

from hipmonai.readers.dicom_header import (
    is_inverted,
    laterality,
    read_dicom,
    source_uid_hash,
    spacing_from_dataset,
    transfer_syntax_name,
    validate_spacing_xy_mm,
)
from hipmonai.readers.pixels import DICOM_SUFFIXES, radiograph_array

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

__all__ = ["DICOM_SUFFIXES", "RadiographReader", "load_radiograph", "radiograph_array"]

def _radiograph_meta(ds: Dataset, shape_wh: tuple[int, int], spacing_xy_mm: tuple[float, float], source: str) -> dict:
    """Whitelisted header fields plus MONAI's spatial keys (affine ``diag(x_mm, y_mm, 1, 1)``, zero origin)."""
    affine = np.diag([spacing_xy_mm[0], spacing_xy_mm[1], 1.0, 1.0])
    return {
        "spacing_xy_mm": np.asarray(spacing_xy_mm, dtype=np.float64),
        "spacing_source": source,
        "photometric": str(ds.get("PhotometricInterpretation", "")).strip(),
        "inverted": is_inverted(ds),
        "laterality": laterality(ds),
        "modality": str(ds.get("Modality", "")).strip(),
        "transfer_syntax": transfer_syntax_name(ds),
        "source_uid_hash": source_uid_hash(ds),
        MetaKeys.SPATIAL_SHAPE: np.asarray(shape_wh),
        MetaKeys.AFFINE: affine,
        MetaKeys.ORIGINAL_AFFINE: affine.copy(),
        # the affine maps (column, row) indices to mm in the detector plane; RAS is MetaTensor's default space,
        # so no MONAI transform flips it as it would an LPS (DICOM patient space) affine
        MetaKeys.SPACE: SpaceKeys.RAS,
        MetaKeys.ORIGINAL_CHANNEL_DIM: float("nan"),  # no channel: EnsureChannelFirst adds one
    }


class RadiographReader(ImageReader):
    """Read DICOM projection radiographs for ``LoadImage``/``LoadImaged``, keeping their pixel spacing in mm.

    Output: a ``(W, H)`` = (columns, rows) array — MONAI's reader axis order, the transpose of pydicom's
    ``pixel_array`` — of modality values (rescale applied, MONOCHROME1 inverted so bone is bright; see
    :func:`radiograph_array`), C-contiguous in ``dtype``, or with ``dtype=None`` integer values kept in an integer
    dtype as the transposed view of the decoded array (no copy; MONAI's ``PILReader`` returns such views too);
    ``LoadImage(ensure_channel_first=True)`` makes it ``(1, W, H)``. Metadata:
    ``affine``/``original_affine`` ``diag(x_mm, y_mm, 1, 1)`` with zero origin, ``spatial_shape`` ``(W, H)``,
    ``space`` RAS (an in-plane mm map, not patient space), and ``spacing_xy_mm`` (x, y), ``spacing_source``,
    ``photometric``, ``inverted``, ``laterality``, ``modality``, ``transfer_syntax``, ``source_uid_hash`` —
    never a patient-identifying value.

    Errors: :meth:`read` raises only when a file is not a readable DICOM image (``LoadImage`` may then try
    its other readers, as MONAI documents). Every problem of a DICOM image — no usable spacing, multi-frame,
    undecodable pixels — raises :class:`~hipmonai.InputError` from :meth:`get_data`, so no other reader
    silently takes over with an identity affine.

    Args:
        spacing_xy_mm: fallback ``(x, y)`` spacing in mm for files without a usable spacing tag.
        force_spacing: use ``spacing_xy_mm`` even when a file has its own spacing.
        dtype: floating dtype of the returned array; ``None``: integer modality values stay integer (the
            stored pixels themselves for a MONOCHROME2 image with the identity rescale, see
            :func:`radiograph_array`), so a pipeline can convert only the part it uses to float.

    Example::

        from monai.transforms import LoadImaged, Spacingd
        load = LoadImaged(keys="image", reader=RadiographReader(), ensure_channel_first=True)
        item = Spacingd(keys="image", pixdim=(0.4, 0.4))(load({"image": "hip.dcm"}))  # (1, W', H') at 0.4 mm
    """

    def __init__(
        self,
        spacing_xy_mm: Sequence[float] | None = None,
        force_spacing: bool = False,
        dtype: np.dtype | type | str | None = np.float32,
    ) -> None:
        super().__init__()
        self.dtype = None if dtype is None else np.dtype(dtype)
        if self.dtype is not None and not np.issubdtype(self.dtype, np.floating):
            raise ValueError(
                f"dtype must be a floating type or None (rescaled values are fractional), got {self.dtype}."
            )
        if spacing_xy_mm is None and force_spacing:
            raise ValueError("force_spacing=True needs spacing_xy_mm, the spacing that overrides the files'.")
        self.spacing_xy_mm = None if spacing_xy_mm is None else validate_spacing_xy_mm(spacing_xy_mm)
        self.force_spacing = bool(force_spacing)

    def verify_suffix(self, filename: Sequence[str | os.PathLike] | str | os.PathLike) -> bool:
        """True when every name ends in ``.dcm``/``.dicom`` or is a file with the ``DICM`` marker at byte 128.

        The marker test covers extension-less files and files named by their UID (``1.2.840....``).
        """
        from pydicom.misc import is_dicom

        names = ensure_tuple(filename)
        if not names:
            return False
        for name in names:
            path = Path(name)
            if path.suffix.lower() in DICOM_SUFFIXES:
                continue
            if not path.is_file() or not is_dicom(path):
                return False
        return True

    def read(self, data: Sequence[str | os.PathLike] | str | os.PathLike, **kwargs: Any) -> Dataset | list[Dataset]:
        """Read the file(s) (pixel data not yet decoded).

        Args:
            data: one path, or several to be stacked as channels by :meth:`get_data`.
            kwargs: not supported (pydicom's reading options are fixed here); present for the ImageReader API.

        Returns:
            A pydicom Dataset, or a list of them for several paths.

        Raises:
            TypeError: keyword arguments were given.
            InputError: a file is missing, not DICOM, or not an image (message names the file).
        """
        if kwargs:
            raise TypeError(f"{self.__class__.__name__}.read takes no keyword arguments, got {sorted(kwargs)}.")
        names = ensure_tuple(data)
        if not names:
            raise ValueError("read needs at least one file name.")
        datasets = [read_dicom(name, pixels=True) for name in names]
        return datasets if len(datasets) > 1 else datasets[0]

    def get_data(self, img: Dataset | Sequence[Dataset]) -> tuple[np.ndarray, dict]:
        """Decode the dataset(s): ``(W, H)`` array (several files: ``(N, W, H)``) and the metadata described above.

        Raises:
            InputError: no usable spacing (and no fallback), multi-frame, undecodable pixel data, or an
                unsupported photometric interpretation; the message names the file.
        """
        from pydicom.dataset import Dataset

        arrays: list[np.ndarray] = []
        meta: dict = {}
        for ds in [img] if isinstance(img, Dataset) else img:  # a Dataset is itself iterable (over its elements)
            spacing, source = spacing_from_dataset(ds, self.spacing_xy_mm, force=self.force_spacing)
            array_wh = radiograph_array(ds, self.dtype, columns_first=True)
            header = _radiograph_meta(ds, array_wh.shape, spacing, source)
            arrays.append(array_wh)
            _copy_compatible_dict(header, meta)
        return _stack_images(arrays, meta), meta


def load_radiograph(
    path: str | os.PathLike,
    spacing_xy_mm: Sequence[float] | None = None,
    *,
    force_spacing: bool = False,
    dtype: np.dtype | type | str | None = np.float32,
) -> tuple[np.ndarray, dict]:
    """Read one radiograph outside a MONAI pipeline, exactly as :class:`RadiographReader` does.

    Args:
        path: the DICOM file.
        spacing_xy_mm: fallback ``(x, y)`` spacing in mm for a file without a usable spacing tag.
        force_spacing: use ``spacing_xy_mm`` even when the file has its own spacing.
        dtype: floating dtype of the array; ``None``: integer values stay integer (see :class:`RadiographReader`).

    Returns:
        ``(array_wh, meta)``: the ``(W, H)`` = (columns, rows) array, bone bright, and the reader's metadata
        (``spacing_xy_mm`` as ``(x, y)`` mm, ``source_uid_hash``, ``affine``, ...).

    Raises:
        InputError: the file cannot be used; the message names it and says why.
    """
    reader = RadiographReader(spacing_xy_mm=spacing_xy_mm, force_spacing=force_spacing, dtype=dtype)
    return reader.get_data(reader.read(path))
