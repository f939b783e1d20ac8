"""Joint weak/strong multitask loss of Ye et al. 2026 (eq. (2) and section 2.2.3).

``L = L_global + sum_q L_ordinal^(q) + L_MIL`` on the packed output of
:class:`hipmonai.networks.multitask_resnet.MultitaskResNet18` ``(B, 1 + Q * K)``, with each sample routed by
whether it is strongly labelled (quadrant grades) or weakly labelled (one image label):

==============  =====================================  ========================================  =================
strategy        global BCE (eq. 3)                      Cramér per quadrant (eq. 5)               Noisy-OR (eq. 7)
==============  =====================================  ========================================  =================
strong_only     strong samples                          strong grades                             —
masked          strong + weak samples                   strong grades; weak negatives as grade 0  —
dual_mil        strong + weak samples                   strong grades; weak negatives as grade 0  weak positives
pure_mil        —                                       strong grades                             all weak samples
oracle          every sample (grades, ``is_weak`` off)  every sample's grades                     —
==============  =====================================  ========================================  =================

The global target of a strong sample is derived from its grades
(:func:`hipmonai.io.grades.weak_label_from_grades`: 1 if any grade > 0, 0 if all are 0, unknown
otherwise); a weak sample's is its ``weak_label``. The grades of weak samples are never read except by ``oracle``,
so a batch may carry them (for audits) without leaking. In ``pure_mil`` a weak negative contributes the
Noisy-OR negative likelihood ``-log(prod_q p0 + eps)`` (see :class:`~hipmonai.losses.noisy_or.NoisyORMILLoss`).
Each term is a mean over the samples it supervises (per quadrant for the Cramér loss), 0 when there are none.
"""

from __future__ import annotations

import torch
from torch.nn.modules.loss import _Loss

from hipmonai.io.grades import UNKNOWN_WEAK_LABEL, weak_label_from_grades
from hipmonai.losses.cramer import CramerLoss, check_grades
from hipmonai.losses.masked_bce import MaskedBCEWithLogitsLoss
from hipmonai.losses.noisy_or import NoisyORMILLoss
from hipmonai.networks.multitask_resnet import split_multitask_logits

__all__ = ["STRATEGIES", "WeakStrongLoss"]

#: Supervision strategies of Ye et al. 2026 section 2.2.3.
STRATEGIES = ("strong_only", "masked", "dual_mil", "pure_mil", "oracle")


class WeakStrongLoss(_Loss):
    """Paper 002's joint loss with per-sample weak/strong routing (module docstring for the routing table).

    Args:
        strategy: one of :data:`STRATEGIES`.
        num_quadrants: ordinal heads in the packed output (4).
        eps: Noisy-OR ``epsilon`` of eq. (7).

    Example::

        >>> loss = WeakStrongLoss("dual_mil")
        >>> pred = torch.zeros(2, 17, requires_grad=True)
        >>> grades = torch.tensor([[0, 1, 0, -1], [-1, -1, -1, -1]])
        >>> terms = loss.terms(pred, grades, is_weak=torch.tensor([False, True]), weak_label=torch.tensor([1.0, 1.0]))
        >>> sorted(terms)
        ['loss', 'loss_global', 'loss_mil', 'loss_ordinal']
    """

    def __init__(self, strategy: str = "masked", num_quadrants: int = 4, eps: float = 1e-7) -> None:
        super().__init__()
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {list(STRATEGIES)}, got {strategy!r}.")
        if num_quadrants < 1:
            raise ValueError(f"num_quadrants must be >= 1, got {num_quadrants}.")
        self.strategy = strategy
        self.num_quadrants = num_quadrants
        self.bce = MaskedBCEWithLogitsLoss()
        self.cramer = CramerLoss()
        self.noisy_or = NoisyORMILLoss(eps=eps)

    def terms(
        self, pred: torch.Tensor, grades: torch.Tensor, is_weak: torch.Tensor, weak_label: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """The total and its parts: ``{"loss", "loss_global", "loss_ordinal", "loss_mil"}`` (0-dim tensors).

        Args:
            pred: packed logits ``(B, 1 + Q * K)``.
            grades: ``(B, Q)`` integer grades 0..K-1, -1 = unknown (only strong samples' are read, or all in oracle).
            is_weak: ``(B,)`` bool, True for weakly labelled samples.
            weak_label: ``(B,)`` 1 / 0 / -1 (unknown) image labels of weak samples (ignored for strong ones).
        """
        global_logit, ordinal = split_multitask_logits(pred, self.num_quadrants)
        batch = pred.shape[0]
        if grades.shape != (batch, self.num_quadrants):
            raise ValueError(f"grades must be ({batch}, {self.num_quadrants}), got shape {tuple(grades.shape)}.")
        if is_weak.shape != (batch,) or weak_label.shape != (batch,):
            raise ValueError(
                f"is_weak and weak_label must be ({batch},), got {tuple(is_weak.shape)} and {tuple(weak_label.shape)}."
            )
        grades = check_grades(grades.to(pred.device), ordinal.shape[-1])
        is_weak = is_weak.to(pred.device).bool()
        weak_label = weak_label.to(pred.device, pred.dtype)
        if self.strategy == "oracle":
            is_weak = torch.zeros_like(is_weak)
        strong = ~is_weak
        bad = is_weak & ~((weak_label == 0) | (weak_label == 1) | (weak_label == UNKNOWN_WEAK_LABEL))
        if bool(bad.any()):
            raise ValueError(f"weak_label of weak samples must be 1, 0 or -1, got {weak_label[bad].unique().tolist()}.")
        weak_positive = is_weak & (weak_label == 1)
        weak_negative = is_weak & (weak_label == 0)
        unknown = torch.full_like(weak_label, UNKNOWN_WEAK_LABEL)

        # ordinal targets: strong grades, weak negatives as grade 0 in masked/dual_mil, everything else unknown
        ordinal_target = torch.where(strong[:, None], grades, torch.full_like(grades, -1))
        if self.strategy in ("masked", "dual_mil"):
            ordinal_target = torch.where(weak_negative[:, None], torch.zeros_like(grades), ordinal_target)
        loss_ordinal = pred.new_zeros(())
        for q in range(self.num_quadrants):
            loss_ordinal = loss_ordinal + self.cramer(ordinal[:, q], ordinal_target[:, q])

        if self.strategy == "pure_mil":
            loss_global = pred.new_zeros(())
        else:
            global_target = weak_label_from_grades(grades).to(pred.dtype)
            if self.strategy != "strong_only":
                global_target = torch.where(is_weak, weak_label, global_target)
            else:
                global_target = torch.where(is_weak, unknown, global_target)
            loss_global = self.bce(global_logit, global_target)

        if self.strategy == "dual_mil":
            loss_mil = self.noisy_or(ordinal, torch.where(weak_positive, weak_label, unknown))
        elif self.strategy == "pure_mil":
            loss_mil = self.noisy_or(ordinal, torch.where(is_weak, weak_label, unknown))
        else:
            loss_mil = pred.new_zeros(())
        return {
            "loss": loss_global + loss_ordinal + loss_mil,
            "loss_global": loss_global,
            "loss_ordinal": loss_ordinal,
            "loss_mil": loss_mil,
        }

    def forward(
        self, pred: torch.Tensor, grades: torch.Tensor, is_weak: torch.Tensor, weak_label: torch.Tensor
    ) -> torch.Tensor:
        """The total loss ``L`` (arguments as in :meth:`terms`)."""
        return self.terms(pred, grades, is_weak, weak_label)["loss"]
