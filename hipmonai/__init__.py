"""hipmonai: MONAI bundles and tools for hip and knee osteoarthritis radiograph research."""

from __future__ import annotations

from hipmonai.errors import HipmonaiError, InputError
from hipmonai.paths import config_dir, repo_root

__version__ = "0.1.0"
__all__ = ["HipmonaiError", "InputError", "config_dir", "repo_root", "__version__"]
