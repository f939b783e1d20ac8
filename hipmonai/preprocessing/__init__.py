"""From a user's files to the preprocessed HDF5 store."""

from __future__ import annotations

from hipmonai.preprocessing.inputs import ImageTask, discover_images
from hipmonai.preprocessing.merge import merge_shards
from hipmonai.preprocessing.runner import PreprocessConfig, parts_dir, preprocess_cohort, summary_path
from hipmonai.preprocessing.shards import Shard, shard_of

__all__ = [
    "ImageTask",
    "PreprocessConfig",
    "Shard",
    "discover_images",
    "merge_shards",
    "parts_dir",
    "preprocess_cohort",
    "shard_of",
    "summary_path",
]
