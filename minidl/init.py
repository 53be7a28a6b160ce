"""Weight initialisers, in place on a Tensor's data (the Linear layer's defaults live here)."""

from __future__ import annotations

import math
from typing import Any

import torch

from .tensor import Tensor

__all__ = ["xavier_uniform_", "uniform_", "zeros_", "torch_default_linear_"]


def _data(t: Any) -> torch.Tensor:
    return t.data if isinstance(t, Tensor) else t


def _fans(weight: torch.Tensor) -> tuple[int, int]:
    if weight.dim() < 2:
        raise ValueError(f"fan in/out need a weight of at least 2 dimensions, got {weight.dim()}")
    receptive = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    return weight.shape[1] * receptive, weight.shape[0] * receptive


def uniform_(t: Any, a: float, b: float, generator: torch.Generator | None = None) -> Any:
    """Fill with U(a, b)."""
    _data(t).uniform_(a, b, generator=generator)
    return t


def zeros_(t: Any) -> Any:
    """Fill with zeros."""
    _data(t).zero_()
    return t


def xavier_uniform_(t: Any, gain: float = 1.0, generator: torch.Generator | None = None) -> Any:
    """Glorot/Xavier: U(-a, a) with a = gain·√(6 / (fan_in + fan_out)) (the seeds' choice)."""
    fan_in, fan_out = _fans(_data(t))
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound, generator)


def torch_default_linear_(
    weight: Any, bias: Any = None, generator: torch.Generator | None = None
) -> None:
    """PyTorch's default for Linear/Conv: weight and bias both U(-1/√fan_in, 1/√fan_in).

    (torch writes it as kaiming_uniform_(a=√5), which works out to this bound.)
    """
    fan_in, _ = _fans(_data(weight))
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    uniform_(weight, -bound, bound, generator)
    if bias is not None:
        uniform_(bias, -bound, bound, generator)
