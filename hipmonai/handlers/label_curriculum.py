"""The dilation curriculum of Suh et al. 2023 as an Ignite handler: ``k`` lowered at epoch boundaries.

:class:`DilationSchedule` gives ``k(epoch) = max(final, initial − step · ⌊epoch / every_epochs⌋)`` for the 0-based
epoch (paper: 65 at 512 px, minus 10 every 50 epochs, down to the single pixel). :class:`LabelCurriculum` sets it
on a target object (the trainer's :class:`hipmonai.engines.LabelAugmentationStep`, or a
:class:`hipmonai.transforms.label_augmentation.DilatedLandmarkLabelsd`) before every epoch. ``k`` depends only on
the epoch number, so a run resumed from a checkpoint continues the curriculum exactly.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from monai.utils import IgniteInfo, min_version, optional_import

Events, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Events")
if TYPE_CHECKING:
    from ignite.engine import Engine
else:
    Engine, _ = optional_import("ignite.engine", IgniteInfo.OPT_IMPORT_VERSION, min_version, "Engine")

__all__ = ["DilationSchedule", "LabelCurriculum"]

logger = logging.getLogger(__name__)


class DilationSchedule:
    """``k`` per 0-based epoch: ``max(final, initial − step · ⌊epoch / every_epochs⌋)``.

    Args:
        initial: ``k`` of the first stage (paper: 65 at 512 px).
        step: decrease per stage (paper: 10).
        every_epochs: stage length in epochs (paper: 50).
        final: the last ``k`` (0: single landmark pixels, the base task).

    Example:
        >>> s = DilationSchedule(65, 10, 50)
        >>> [s(0), s(50), s(349), s(350)], s.epochs_to_final()
        ([65, 55, 5, 0], 350)
    """

    def __init__(self, initial: int = 65, step: int = 10, every_epochs: int = 50, final: int = 0) -> None:
        values = {"initial": initial, "step": step, "every_epochs": every_epochs, "final": final}
        for name, value in values.items():
            if isinstance(value, bool) or int(value) != value:
                raise ValueError(f"{name} must be an integer, got {value!r}.")
        if not initial >= final >= 0:
            raise ValueError(f"need initial >= final >= 0, got initial={initial}, final={final}.")
        if step <= 0 or every_epochs <= 0:
            raise ValueError(f"step and every_epochs must be positive, got {step} and {every_epochs}.")
        self.initial, self.step, self.every_epochs, self.final = int(initial), int(step), int(every_epochs), int(final)

    @classmethod
    def scaled(cls, size_px: int, reference_px: int = 512, initial: int = 65, step: int = 10,
               every_epochs: int = 50, final: int = 0) -> DilationSchedule:
        """The paper's schedule with ``initial`` and ``step`` scaled by ``size_px / reference_px`` (step >= 1)."""
        factor = float(size_px) / float(reference_px)
        return cls(int(round(initial * factor)), max(1, int(round(step * factor))), every_epochs, final)

    def __call__(self, epoch: int) -> int:
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}.")
        return max(self.final, self.initial - self.step * (int(epoch) // self.every_epochs))

    def epochs_to_final(self) -> int:
        """The first epoch at which ``k == final``."""
        stages = -(-(self.initial - self.final) // self.step)  # ceil
        return stages * self.every_epochs

    def stages(self) -> list[tuple[int, int]]:
        """``[(first epoch, k), ...]`` up to and including the final stage."""
        return [(e, self(e)) for e in range(0, self.epochs_to_final() + 1, self.every_epochs)]

    def __repr__(self) -> str:
        return (f"DilationSchedule(initial={self.initial}, step={self.step}, every_epochs={self.every_epochs}, "
                f"final={self.final})")


class LabelCurriculum:
    """Set ``target.<attribute>`` to the schedule's ``k`` at the start of every epoch (and when a run starts).

    Args:
        target: object with the dilation attribute (e.g. the trainer's ``iteration_update`` step).
        schedule: the :class:`DilationSchedule` (default: the paper's).
        attribute: name of the attribute to set.

    ``engine.state.label_dilation`` holds the current ``k``; a change is logged at INFO.
    """

    def __init__(self, target: Any, schedule: DilationSchedule | None = None, attribute: str = "dilation") -> None:
        if not hasattr(target, attribute):
            raise ValueError(f"target {type(target).__name__} has no attribute {attribute!r}.")
        self.target = target
        self.schedule = schedule if schedule is not None else DilationSchedule()
        self.attribute = attribute

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self)
        engine.add_event_handler(Events.EPOCH_STARTED, self)

    def __call__(self, engine: Engine) -> None:
        # at EPOCH_STARTED Ignite has already counted the epoch about to run; at STARTED (fresh or resumed run)
        # engine.state.epoch is the number of finished epochs
        finished = engine.state.epoch - 1 if engine.last_event_name == Events.EPOCH_STARTED else engine.state.epoch
        k = self.schedule(max(0, finished))
        if getattr(self.target, self.attribute) != k or getattr(engine.state, "label_dilation", None) is None:
            logger.info("label augmentation: dilation k=%d from epoch %d", k, max(0, finished) + 1)
        setattr(self.target, self.attribute, k)
        engine.state.label_dilation = k
