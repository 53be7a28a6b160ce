"""Loss modules; each takes ``reduction`` = 'mean' | 'sum' | 'none' as in torch."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from .. import ops
from ..tensor import Tensor
from .module import Module

__all__ = ["MSELoss", "L1Loss", "BCELoss", "CrossEntropyLoss"]


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Squared error (output - target)², averaged or summed; shapes must match."""

    op = ops.MSELoss

    def forward(self, output: Any, target: Any) -> Tensor:
        return F.mse_loss(output, target, self.reduction)


class L1Loss(_Loss):
    """Absolute error |output - target| (the seeds' MAE), averaged or summed."""

    op = ops.L1Loss

    def forward(self, output: Any, target: Any) -> Tensor:
        return F.l1_loss(output, target, self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities (after a Sigmoid) against 0/1 targets."""

    op = ops.BCELoss

    def forward(self, output: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy(output, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of raw scores (N, C) against class indices (N,)."""

    op = ops.CrossEntropyLoss

    def forward(self, output: Any, target: Any) -> Tensor:
        return F.cross_entropy(output, target, self.reduction)
