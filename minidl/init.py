"""Weight initialisers, in place on a Tensor's data (the Linear layer's choices live here).

``INITS`` names what ``nn.Linear(..., init=...)`` can start from: "xavier" (the default, the
seeds'), "torch" (PyTorch's nn.Linear default) and "zeros" (every weight and bias 0: all units
of a layer then get the same gradient and stay identical, the lesson in symmetry breaking).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .tensor import Tensor

__all__ = ["INITS", "xavier_uniform_", "uniform_", "zeros_", "torch_default_linear_", "linear_"]

INITS = ("xavier", "torch", "zeros")
"""The initialisations of a Linear layer (``linear_``)."""


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
    """PyTorch's default for Linear/Conv: kaiming_uniform_(weight, a=√5), bias U(±1/√fan_in).

    Written as torch computes it (gain √(2 / (1 + a²)), bound √3 · gain / √fan_in, which works
    out to 1/√fan_in), so the same global seed gives torch.nn.Linear's weights to the bit.
    """
    fan_in, _ = _fans(_data(weight))
    a = math.sqrt(5.0)
    gain = math.sqrt(2.0 / (1 + a**2))
    bound = math.sqrt(3.0) * gain / math.sqrt(fan_in) if fan_in > 0 else 0.0
    uniform_(weight, -bound, bound, generator)
    if bias is not None:
        bias_bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bias_bound, bias_bound, generator)


def linear_(
    weight: Any, bias: Any = None, kind: str = "xavier", generator: torch.Generator | None = None
) -> None:
    """Initialise a Linear layer's weight (out, in) and bias (or None) the way ``kind`` says.

    "xavier": W ~ U(±√(6/(in+out))), b = 0. "torch": ``torch_default_linear_``. "zeros": W = 0
    and b = 0 (TF Playground's "initZero").
    """
    if kind == "xavier":
        xavier_uniform_(weight, generator=generator)
        if bias is not None:
            zeros_(bias)
    elif kind == "torch":
        torch_default_linear_(weight, bias, generator=generator)
    elif kind == "zeros":
        zeros_(weight)
        if bias is not None:
            zeros_(bias)
    else:
        raise ValueError(f"init must be one of {INITS}, got {kind!r}")
