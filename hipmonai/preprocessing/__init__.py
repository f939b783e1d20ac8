"""From a user's files to the preprocessed HDF5 store."""

from __future__ import annotations

from hipmonai.preprocessing.inputs import ImageTask, discover_images
from hipmonai.preprocessing.runner import PreprocessConfig, parts_dir, preprocess_cohort, summary_path

__all__ = ["ImageTask", "PreprocessConfig", "discover_images", "parts_dir", "preprocess_cohort", "summary_path"]
