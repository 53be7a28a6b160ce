"""Layers: Linear, the activations, Dropout, Identity and the Sequential container."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import torch

from .. import functional as F
from .. import init as initializers
from .. import ops
from ..tensor import Parameter, Tensor
from .module import Module, ShapeError

__all__ = [
    "Linear",
    "ReLU",
    "LeakyReLU",
    "Tanh",
    "Sigmoid",
    "ELU",
    "GELU",
    "SiLU",
    "Softplus",
    "Sine",
    "Softmax",
    "LogSoftmax",
    "Dropout",
    "Identity",
    "Features",
    "Sequential",
]



def _shape(x: Any) -> tuple[int, ...]:
    return tuple((x.data if isinstance(x, Tensor) else x).shape)


class Linear(Module):
    """Fully connected layer y = x Wᵀ + b, with W of shape (out_features, in_features).

    ``init="xavier"`` (the default, as in the seeds): W ~ U(±√(6/(in+out))), b = 0.
    ``init="torch"``: PyTorch's default, W and b ~ U(±1/√in). ``init="zeros"``: W = 0, b = 0
    (see ``minidl.init.INITS``).
    """

    op = ops.Linear  # the op its forward records: its maths (Function.formula)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        init: str = "xavier",
        dtype: torch.dtype | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Linear: {name} must be a positive integer, got {value!r}")
        if init not in initializers.INITS:
            raise ValueError(f"Linear: init must be one of {initializers.INITS}, got {init!r}")
        self.in_features = in_features
        self.out_features = out_features
        self.init = init
        dtype = dtype or torch.get_default_dtype()
        self.weight = Parameter(torch.empty(out_features, in_features, dtype=dtype))
        if bias:
            self.bias = Parameter(torch.empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw fresh weights with this layer's initialiser."""
        initializers.linear_(self.weight, self.bias, self.init, generator)

    def forward(self, x: Any) -> Tensor:
        self.check_input(x)
        return F.linear(x, self.weight, self.bias)

    def check_input(self, x: Any) -> None:
        """Raise a ShapeError unless x's last dimension is in_features."""
        shape = (x.data if isinstance(x, Tensor) else x).shape
        if not shape or shape[-1] != self.in_features:
            raise ShapeError(
                f"{self!r} expects input of shape (N, {self.in_features}) but got {tuple(shape)}"
            )

    def config(self) -> dict[str, Any]:
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias is not None,
        }


class ReLU(Module):
    """max(0, x) elementwise."""

    op = ops.ReLU  # the op its forward records: its maths (Function.formula)

    def forward(self, x: Any) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    """x for x > 0, negative_slope·x otherwise (seed 002)."""

    op = ops.LeakyReLU  # the op its forward records: its maths (Function.formula)

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: Any) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


class Tanh(Module):
    """Hyperbolic tangent elementwise."""

    op = ops.Tanh  # the op its forward records: its maths (Function.formula)

    def forward(self, x: Any) -> Tensor:
        return F.tanh(x)


class Sigmoid(Module):
    """Logistic sigmoid elementwise, stable for large |x|."""

    op = ops.Sigmoid  # the op its forward records: its maths (Function.formula)

    def forward(self, x: Any) -> Tensor:
        return F.sigmoid(x)


def _number(layer: str, name: str, value: Any) -> float:
    """A layer's numeric setting as a float, or a ValueError naming the layer and the setting."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ValueError(f"{layer}: {name} must be a number, got {value!r}")
    return float(value)


class ELU(Module):
    """x for x > 0, alpha·(eˣ - 1) otherwise (torch's ELU, alpha=1.0)."""

    op = ops.ELU  # the op its forward records: its maths (Function.formula)

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = _number("ELU", "alpha", alpha)

    def forward(self, x: Any) -> Tensor:
        return F.elu(x, self.alpha)

    def config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


class GELU(Module):
    """x·Φ(x), Φ the standard normal CDF: torch's GELU, exact (``approximate="none"``)."""

    op = ops.GELU  # the op its forward records: its maths (Function.formula)

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate != "none":
            raise ValueError(
                f"GELU: only the exact GELU (approximate='none') is implemented, got "
                f"{approximate!r}"
            )
        self.approximate = approximate

    def forward(self, x: Any) -> Tensor:
        return F.gelu(x)

    def config(self) -> dict[str, Any]:
        return {"approximate": self.approximate}


class SiLU(Module):
    """x·sigmoid(x) elementwise (swish), torch's SiLU."""

    op = ops.SiLU  # the op its forward records: its maths (Function.formula)

    def forward(self, x: Any) -> Tensor:
        return F.silu(x)


class Softplus(Module):
    """log(1 + e^(beta·x)) / beta, x itself where beta·x > threshold: torch's Softplus
    (beta=1.0, threshold=20.0)."""

    op = ops.Softplus  # the op its forward records: its maths (Function.formula)

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = _number("Softplus", "beta", beta)
        self.threshold = _number("Softplus", "threshold", threshold)
        if self.beta == 0:
            raise ValueError("Softplus: beta must not be 0 (the output divides by it)")

    def forward(self, x: Any) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)

    def config(self) -> dict[str, Any]:
        return {"beta": self.beta, "threshold": self.threshold}


class Sine(Module):
    """sin(x) elementwise: a periodic activation (not a torch layer; exported as a small module
    of its own in the PyTorch code, as Sin in ONNX)."""

    op = ops.Sine  # the op its forward records: its maths (Function.formula)

    def forward(self, x: Any) -> Tensor:
        return F.sin(x)


class Softmax(Module):
    """Softmax along ``dim``."""

    op = ops.Softmax  # the op its forward records: its maths (Function.formula)

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Tensor:
        return F.softmax(x, self.dim)

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim}


class LogSoftmax(Module):
    """log(softmax(x)) along ``dim``."""

    op = ops.LogSoftmax  # the op its forward records: its maths (Function.formula)

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Tensor:
        return F.log_softmax(x, self.dim)

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim}


class Dropout(Module):
    """Zero inputs with probability p in training mode (scaling the rest by 1/(1-p))."""

    op = ops.Dropout  # the op its forward records: its maths (Function.formula)

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1), got {p!r}")
        self.p = float(p)

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def config(self) -> dict[str, Any]:
        return {"p": self.p}


class Identity(Module):
    """Returns its input unchanged."""

    def forward(self, x: Any) -> Any:
        return x


FEATURES: dict[str, Any] = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1^2": lambda x1, x2: x1 * x1,
    "x2^2": lambda x1, x2: x2 * x2,
    "x1*x2": lambda x1, x2: x1 * x2,
    "sin(x1)": lambda x1, x2: torch.sin(x1),
    "sin(x2)": lambda x1, x2: torch.sin(x2),
}


class Features(Module):
    """TensorFlow Playground's input features of a 2-D point: (N, 2) -> (N, len(features)).

    ``features`` names columns among x1, x2, x1^2, x2^2, x1*x2, sin(x1), sin(x2). A fixed map
    with no parameters; inputs are data, so no gradient flows back to them.
    """

    def __init__(self, features: list[str] | tuple[str, ...] = ("x1", "x2")) -> None:
        super().__init__()
        features = list(features)
        unknown = [f for f in features if f not in FEATURES]
        if unknown or not features:
            raise ValueError(
                f"Features: unknown feature(s) {unknown} (choose from {list(FEATURES)})"
                if unknown
                else "Features: choose at least one feature"
            )
        self.features = features

    def forward(self, x: Any) -> Tensor:
        data = x.data if isinstance(x, Tensor) else x
        if data.dim() != 2 or data.shape[1] != 2:
            raise ShapeError(f"Features expects points of shape (N, 2) but got {_shape(x)}")
        x1, x2 = data[:, 0], data[:, 1]
        return Tensor(torch.stack([FEATURES[f](x1, x2) for f in self.features], dim=1))

    def config(self) -> dict[str, Any]:
        return {"features": list(self.features)}


class Sequential(Module):
    """Modules applied one after the other; ``Sequential(a, b)`` or ``Sequential(OrderedDict)``.

    A layer that rejects its input's shape raises a ShapeError naming its index here.
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                if not isinstance(m, Module):
                    raise TypeError(
                        f"Sequential: argument {i} is a {type(m).__name__}, not a Module"
                    )
                self.add_module(str(i), m)

    def forward(self, x: Any) -> Any:
        for name, module in self._modules.items():
            try:
                x = module(x)
            except ShapeError as e:
                e.layer = f"{name}.{e.layer}" if e.layer else name
                raise
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[index][1]

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self
