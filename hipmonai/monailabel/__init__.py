"""MONAI Label infer tasks for the hipmonai bundles (:mod:`hipmonai.monailabel.tasks`; needs ``monailabel``).

``import hipmonai.monailabel`` works without MONAI Label; the task classes are loaded on first use.
"""

from __future__ import annotations

import importlib.util
from typing import Any

__all__ = ["HipLandmarkInferTask", "HipOsteophyteInferTask", "monailabel_available"]


def monailabel_available() -> bool:
    """Whether ``monailabel`` is installed here (found, not imported: its import also needs ``torchvision.utils``,
    see docs/ecosystem.md)."""
    return importlib.util.find_spec("monailabel") is not None


def __getattr__(name: str) -> Any:
    if name in ("HipLandmarkInferTask", "HipOsteophyteInferTask"):
        from hipmonai.monailabel import tasks

        return getattr(tasks, name)
    raise AttributeError(f"module 'hipmonai.monailabel' has no attribute {name!r}")
