"""MixUp for landmark regression as KNEEL defines it (Tiulpin et al. 2019 §3.3, Eqs. 5-9).

Per mini-batch (one draw per batch, as in the reference mixup-cifar10 code the paper follows):

* Eq. 5: ``lambda ~ Beta(alpha, alpha)`` (paper: ``alpha = 0.75``);
* Eq. 6: ``lambda' = max(lambda, 1 - lambda)``, so ``lambda' >= 0.5``;
* Eq. 7: ``x' = lambda' x1 + (1 - lambda') x2`` where ``x2`` is the batch shuffled by a random permutation;
* Eq. 9: ``L' = lambda L(p1, o1) + (1 - lambda) L(p2, o')`` where ``o1`` is the network output on the *original*
  images ``x1`` with their own landmarks ``p1``, and ``o'`` the output on the *mixed* images ``x'`` compared with the
  *shuffled* landmarks ``p2``. The mixed targets ``p'`` of Eq. 8 are never computed (the paper says so).

Eq. 9 is written with the raw ``lambda`` while Eq. 7 mixes with ``lambda'``; :class:`KneelMixUp` follows the paper
literally by default (``weight_by="lambda"``). Two variants:

* ``weight_by="lambda_prime"``: both Eq. 7 and Eq. 9 use ``lambda'``.
* ``weight_by="released_code"``: the authors' released training loop (``mixup_pass`` of their ``deep-pipeline``
  package, called without ``max_lambda``) skips Eq. 6 and uses the raw ``lambda`` in both places,
  ``x' = lambda x1 + (1 - lambda) x2`` and ``lambda L(p1, o1) + (1 - lambda) L(p2, o')``. The mixed term's target
  ``p2`` is then weighted by ``x2``'s share of the mixed image. As printed, Eq. 9 weights ``p2`` by ``1 - lambda``
  while ``x2``'s share is ``1 - lambda' <= 0.5``. When ``lambda < 0.5`` the larger weight thus asks the network
  to find the landmarks of the *fainter* image. (The released code draws one ``lambda`` per image; one per batch
  here, as for the other variants.)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from monai.transforms import Randomizable

__all__ = ["WEIGHT_BY", "KneelMixUp"]

WEIGHT_BY = ("lambda", "lambda_prime", "released_code")


class KneelMixUp(Randomizable):
    """Draws, mixes and combines the two loss terms of KNEEL's MixUp (Eqs. 5-9).

    Usage per training iteration: ``randomize(batch_size)`` once, ``mix(images)`` for ``x'``, then
    ``loss(loss_fn, o1, p1, o_mixed)`` (or :meth:`terms` and :meth:`combine` to keep the two terms). Seed with
    ``set_random_state(seed)`` (MONAI ``Randomizable``) for reproducible ``lambda`` and permutations.

    Args:
        alpha: Beta distribution parameter of Eq. 5, positive (paper: 0.75).
        weight_by: which value weights the two terms of Eq. 9: ``"lambda"`` (paper, Eq. 9 as printed),
            ``"lambda_prime"``, or ``"released_code"`` (raw ``lambda`` for the mixing of Eq. 7 as well; module
            docstring).

    Attributes:
        lam: ``lambda`` of the last draw.
        lam_prime: ``lambda' = max(lambda, 1 - lambda)`` of the last draw.
        permutation: ``(B,)`` int64 batch permutation of the last draw (``x2 = x1[permutation]``).

    Example:
        >>> import torch
        >>> mixup = KneelMixUp(alpha=0.75).set_random_state(seed=0)
        >>> mixup.randomize(4)
        >>> mixup.mix(torch.ones(4, 1, 8, 8)).shape
        torch.Size([4, 1, 8, 8])
    """

    def __init__(self, alpha: float = 0.75, weight_by: str = "lambda") -> None:
        if not alpha > 0:
            raise ValueError(f"alpha must be positive, got {alpha}.")
        if weight_by not in WEIGHT_BY:
            raise ValueError(f"weight_by must be one of {WEIGHT_BY}, got {weight_by!r}.")
        self.alpha = float(alpha)
        self.weight_by = weight_by
        self.lam: float | None = None
        self.lam_prime: float | None = None
        self.permutation: np.ndarray | None = None

    def randomize(self, batch_size: int) -> None:
        """Draw ``lambda`` (Eq. 5), ``lambda'`` (Eq. 6) and a permutation of ``batch_size`` items."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}.")
        self.lam = float(self.R.beta(self.alpha, self.alpha))
        self.lam_prime = max(self.lam, 1.0 - self.lam)
        self.permutation = self.R.permutation(batch_size).astype(np.int64)

    def _drawn(self, batch_size: int) -> tuple[float, float, np.ndarray]:
        if self.lam is None or self.lam_prime is None or self.permutation is None:
            raise RuntimeError("call randomize(batch_size) before mix/shuffle/combine.")
        if len(self.permutation) != batch_size:
            raise ValueError(f"the last draw was for a batch of {len(self.permutation)}, got a batch of {batch_size}.")
        return self.lam, self.lam_prime, self.permutation

    def shuffle(self, batch: torch.Tensor) -> torch.Tensor:
        """``batch[permutation]`` along dim 0: ``x2`` from ``x1``, or ``p2`` from ``p1``."""
        _, _, perm = self._drawn(batch.shape[0])
        return batch[torch.as_tensor(perm, device=batch.device)]

    @property
    def mixing(self) -> float:
        """The share of ``x1`` in the mixed images: ``lambda'`` (Eq. 7), or ``lambda`` for ``"released_code"``."""
        if self.lam is None or self.lam_prime is None:
            raise RuntimeError("call randomize(batch_size) before mix/shuffle/combine.")
        return self.lam if self.weight_by == "released_code" else self.lam_prime

    def mix(self, images: torch.Tensor) -> torch.Tensor:
        """Eq. 7: ``x' = lambda' x1 + (1 - lambda') x2`` for a batch ``x1`` of shape ``(B, ...)`` (``lambda`` in
        place of ``lambda'`` for ``"released_code"``)."""
        self._drawn(images.shape[0])
        share = self.mixing
        return share * images + (1.0 - share) * self.shuffle(images)

    @property
    def weights(self) -> tuple[float, float]:
        """The two weights of Eq. 9: ``(lambda, 1 - lambda)`` (also for ``"released_code"``) or, with
        ``weight_by="lambda_prime"``, ``(lambda', 1 - lambda')``."""
        if self.lam is None or self.lam_prime is None:
            raise RuntimeError("call randomize(batch_size) before reading the weights.")
        value = self.lam_prime if self.weight_by == "lambda_prime" else self.lam
        return value, 1.0 - value

    def combine(self, loss_original: torch.Tensor, loss_mixed: torch.Tensor) -> torch.Tensor:
        """Eq. 9 from its two terms: ``w1 L(p1, o1) + w2 L(p2, o')`` with ``(w1, w2)`` = :attr:`weights`."""
        w1, w2 = self.weights
        return w1 * loss_original + w2 * loss_mixed

    def terms(
        self,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        pred_original: torch.Tensor,
        target: torch.Tensor,
        pred_mixed: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The two terms of Eq. 9, ``(L(p1, o1), L(p2, o'))``.

        Args:
            loss_fn: ``L(pred, target)``; a non-scalar result is averaged (as MONAI's ``SupervisedTrainer`` does).
            pred_original: ``o1``, network output on the original batch ``x1``, ``(B, M, 2)``.
            target: ``p1``, landmarks of ``x1``, ``(B, M, 2)``; ``p2`` is ``target[permutation]``.
            pred_mixed: ``o'``, network output on ``mix(x1)``, ``(B, M, 2)``.

        Returns:
            Two scalar tensors.
        """
        loss_original = loss_fn(pred_original, target).mean()
        loss_mixed = loss_fn(pred_mixed, self.shuffle(target)).mean()
        return loss_original, loss_mixed

    def loss(
        self,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        pred_original: torch.Tensor,
        target: torch.Tensor,
        pred_mixed: torch.Tensor,
    ) -> torch.Tensor:
        """Eq. 9 in full: :meth:`combine` of :meth:`terms` (same arguments); a scalar tensor."""
        return self.combine(*self.terms(loss_fn, pred_original, target, pred_mixed))
