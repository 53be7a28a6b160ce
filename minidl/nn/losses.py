"""Loss modules; each takes ``reduction`` = 'mean' | 'sum' | 'none' as in torch.

``LOSSES`` names them as the app and experiment files do: "mse", "mae", "huber", "bce",
"cross_entropy".
"""

from __future__ import annotations

from typing import Any

from .. import functional as F
from .. import ops
from ..tensor import Tensor
from .module import Module

__all__ = ["MSELoss", "L1Loss", "HuberLoss", "BCELoss", "CrossEntropyLoss", "LOSSES"]


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def options(self) -> dict[str, Any]:
        """The loss op's arguments besides the reduction (e.g. Huber's delta); {} if none."""
        return {}

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


class HuberLoss(_Loss):
    """Huber loss: ½(output - target)² within ``delta`` of the target, delta·(|error| - ½delta)
    beyond (torch's rule, delta=1.0); shapes must match."""

    op = ops.HuberLoss

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        if isinstance(delta, bool) or not isinstance(delta, int | float) or not delta > 0:
            raise ValueError(f"HuberLoss: delta must be a positive number, got {delta!r}")
        self.delta = float(delta)

    def forward(self, output: Any, target: Any) -> Tensor:
        return F.huber_loss(output, target, self.reduction, self.delta)

    def options(self) -> dict[str, Any]:
        return {"delta": self.delta}

    def extra_repr(self) -> str:
        parts = [super().extra_repr(), "" if self.delta == 1.0 else f"delta={self.delta}"]
        return ", ".join(part for part in parts if part)


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


LOSSES: dict[str, type[_Loss]] = {
    "mse": MSELoss,
    "mae": L1Loss,
    "huber": HuberLoss,
    "bce": BCELoss,
    "cross_entropy": CrossEntropyLoss,
}
"""Loss name (as the app and experiment files spell it) -> loss module class."""
